"""Verification table: every case of scenarios/verification/ simulated and compared with queueing theory.

Runs each case for many independent replications, computes the mean of every per-replication KPI
with its 95 % t-interval, and writes docs/verification.md (the whole file is generated: edit this
script, not the document). It also reruns the priority case with a deliberately broken dispatcher,
to show what the tests' Cobham check sees then.

Run: python benchmarks/verification_table.py [--scale 1.0] [--out docs/verification.md]
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import simpy

import citysim
from citysim.analysis.queueing import (
    erlang_c,
    mmc_mean_queue_length,
    mmc_mean_wait,
    mmc_utilisation,
    mmc_wait_probability,
    priority_mean_waits,
)
from citysim.analysis.verification import BrokenOrder, Reduction, per_replication, reduction
from citysim.machine import machine_line
from citysim.simulation.kpis import t_interval

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios" / "verification"
DEFAULT_OUT = ROOT / "docs" / "verification.md"
COMMAND = "python benchmarks/verification_table.py"
#: Replications per case for the table (the tests use fewer: see tests/test_verification.py).
REPLICATIONS = {"mmc": 400, "priorities": 400, "nearest": 400, "mminf": 100}
POWER_REPLICATIONS = 100  # as in the test of the broken discipline


@dataclass(frozen=True)
class Row:
    """One compared quantity: a KPI (per replication) and its analytic value (None: reported only)."""

    quantity: str
    kpi: str
    priority: str
    analytic: float | None
    formula: str


def mmc_rows(q: Reduction) -> list[Row]:
    return [
        Row("P(wait for a unit)", "p_wait_for_unit", "all", mmc_wait_probability(q.c, q.lam, q.mu), "C(c, a)"),
        Row("mean wait for a unit, min", "dispatch_wait_min_mean", "all", mmc_mean_wait(q.c, q.lam, q.mu),
            "C / (c mu - lambda)"),
        Row("mean number waiting", "waiting_for_unit_time_avg", "all", mmc_mean_queue_length(q.c, q.lam, q.mu),
            "C rho / (1 - rho)"),
        Row("unit utilisation", "unit_utilisation", "all", mmc_utilisation(q.c, q.lam, q.mu), "lambda / (c mu)"),
        Row("mean busy units", "busy_units_time_avg", "all", q.a, "lambda / mu"),
    ]


def priority_rows(q: Reduction) -> list[Row]:
    waits = priority_mean_waits(q.c, list(q.lam_by_priority.values()), q.mu)
    rows = [Row(f"mean wait, priority {p}, min", "dispatch_wait_min_mean", str(p), w, f"Cobham, class {p}")
            for p, w in zip(q.lam_by_priority, waits, strict=True)]
    rows += [
        Row("mean wait, all classes, min", "dispatch_wait_min_mean", "all", mmc_mean_wait(q.c, q.lam, q.mu),
            "C / (c mu - lambda)"),
        *(Row(f"P(wait), priority {p}", "p_wait_for_unit", str(p), mmc_wait_probability(q.c, q.lam, q.mu),
              "C(c, a) (PASTA)") for p in q.lam_by_priority),
        Row("unit utilisation", "unit_utilisation", "all", mmc_utilisation(q.c, q.lam, q.mu), "lambda / (c mu)"),
    ]
    return rows


def mminf_rows(q: Reduction) -> list[Row]:
    return [
        Row("P(wait for a unit)", "p_wait_for_unit", "all", 0.0, "0 (M/M/inf)"),
        Row("mean wait for a unit, min", "dispatch_wait_min_mean", "all", 0.0, "0 (M/M/inf)"),
        Row("mean number waiting", "waiting_for_unit_time_avg", "all", 0.0, "0 (M/M/inf)"),
        Row("mean busy units", "busy_units_time_avg", "all", q.a, "a = lambda / mu"),
        Row("unit utilisation", "unit_utilisation", "all", q.a / q.c, "lambda / (c mu)"),
    ]


def nearest_rows(q: Reduction) -> list[Row]:
    return [
        Row("unit utilisation", "unit_utilisation", "all", mmc_utilisation(q.c, q.lam, q.mu), "lambda / (N mu)"),
        Row("mean busy units", "busy_units_time_avg", "all", q.a, "lambda / mu"),
        Row("P(wait for a unit)", "p_wait_for_unit", "all", mmc_wait_probability(q.c, q.lam, q.mu), "C(N, a)"),
        Row("mean wait for a unit, min", "dispatch_wait_min_mean", "all", mmc_mean_wait(q.c, q.lam, q.mu),
            "C / (N mu - lambda)"),
        Row("share of assignments across districts", "cross_district_share", "all", None, "(reported)"),
        Row("mean travel time, min", "travel_min_mean", "all", None, "(reported)"),
    ]


@dataclass(frozen=True)
class Case:
    name: str
    title: str
    rows: Callable[[Reduction], list[Row]]


CASES = [
    Case("mmc", "(a) M/M/10, rho = 0.8: Erlang C", mmc_rows),
    Case("priorities", "(b) M/M/3, rho = 0.75, three non-preemptive priorities: Cobham", priority_rows),
    Case("mminf", "(c) M/M/infinity (60 units, a = 10)", mminf_rows),
    Case("nearest", "(d) nearest-unit dispatch, 3 districts, N = 9: utilisation", nearest_rows),
]


# ----------------------------------------------------------------------------- statistics
def fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def interval_cells(values: np.ndarray) -> tuple[str, str, float, float]:
    """Mean, 95 % CI as text, and mean and standard error as numbers."""
    mean, std, low, high = t_interval(values)
    se = std / math.sqrt(values.size) if values.size > 1 else math.nan
    return fmt(mean), f"[{fmt(low)}, {fmt(high)}]", mean, se


def z_cell(mean: float, se: float, analytic: float | None) -> str:
    if analytic is None:
        return ""
    if se == 0:
        return "exact" if mean == analytic else "differs"
    return f"{(mean - analytic) / se:+.1f}"


def comparison_rows(sim: citysim.Simulation, rows: list[Row]) -> list[str]:
    lines = []
    for row in rows:
        mean_text, ci_text, mean, se = interval_cells(per_replication(sim, row.kpi, row.priority))
        analytic = "" if row.analytic is None else fmt(row.analytic)
        lines.append(f"| {row.quantity} | `{row.kpi}` | {row.formula} | {analytic} | {mean_text} | {ci_text} "
                     f"| {z_cell(mean, se, row.analytic)} |")
    return lines


def little_row(name: str, sim: citysim.Simulation) -> str:
    """L from the monitor vs lambda-hat x W-bar from the incident log, and the sample-path identity."""
    run = sim.scenario.run
    window = run.duration_min - run.warmup_min
    incidents = sim.logs.incidents
    after = incidents[~incidents["warmup"] & incidents["t_queue"].notna()]
    lam = after.groupby("replication").size().sort_index().to_numpy() / window
    lam_w = lam * per_replication(sim, "dispatch_wait_min_mean", "all")
    big_l = per_replication(sim, "waiting_for_unit_time_avg", "all")
    worst = 0.0
    for index, (_, frame) in enumerate(incidents.groupby("replication", sort=True)):
        t_queue = frame["t_queue"].to_numpy()
        t_first = frame["t_dispatch"].fillna(run.duration_min).to_numpy()
        queued = ~np.isnan(t_queue)
        area = np.clip(np.minimum(t_first[queued], run.duration_min) - np.maximum(t_queue[queued], run.warmup_min),
                       0, None).sum()
        worst = max(worst, abs(area / window - big_l[index]))
    l_mean, l_ci, _, _ = interval_cells(big_l)
    lw_mean, lw_ci, _, _ = interval_cells(lam_w)
    d_mean, d_ci, _, _ = interval_cells(big_l - lam_w)
    return f"| {name} | {l_mean} {l_ci} | {lw_mean} {lw_ci} | {d_mean} {d_ci} | {worst:.1e} |"


# ----------------------------------------------------------------------------- document
def machine() -> str:
    return (f"{machine_line()}, numpy {np.__version__}, simpy {simpy.__version__}, citysim {citysim.__version__}")


def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src", "scenarios"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + (" (with uncommitted changes in src/ or scenarios/)" if dirty else "")


INTRO = """\
# Verification against queueing theory

<!-- Generated by `{command}`; do not edit by hand: change the script and rerun it. -->

Each file in `scenarios/verification/` reduces the police model to a queue whose behaviour is known
exactly: no call-taking stage (`call_centre.kind: none`), no dispatcher decision delay, zero travel
(`instant`, or straight-line travel at 10^9 km/h with zero turn-out and no noise, so that the choice
of the nearest unit is still made), exponential on-scene time of one mean, a constant hourly profile,
one unit per incident, every call dispatched and all units always on duty. Incidents then arrive as
a Poisson process and units are servers with exponential service: an M/M/c queue. The header
comment of every file derives its analytic values; `src/citysim/analysis/queueing.py` computes them.

**Method.** Every case is run for n independent replications (replication k uses child k of the
scenario's `run.seed`); each replication gives one value of every KPI after its warm-up
(`run.warmup_min`, the runs start empty). The table gives the mean over replications, its 95 %
t-interval, and z = (mean - analytic) / SE with SE = standard deviation / sqrt(n). With some 25
compared rows, one or two outside their 95 % interval is expected by chance; |z| beyond about 3
would not be. The tests (`tests/test_verification.py`) run the same cases with fewer replications
and pass when |z| <= 4.

KPIs: `dispatch_wait_min_mean` is the mean of t_dispatch - t_queue (queue entry to first unit
assigned) over incidents reported after the warm-up and sent a unit by the end of the run;
`p_wait_for_unit` the share of them that
waited at all; `waiting_for_unit_time_avg` the time-average number of incidents waiting for a first
unit, from a separate monitor; `unit_utilisation` busy unit-minutes over on-duty unit-minutes;
`busy_units_time_avg` the time-average number of busy units.
"""

NOTES = """\
Notes on the cases:

- (a) `mmc.yaml`: CALIBRATION.md's reference case c = 10, rho = 0.8 (C = 0.40918, Wq = 0.20459/mu).
- (b) `priorities.yaml`: waits by class from Cobham's formula
  Wq_k = [C/(c mu)] / [(1 - sigma_(k-1))(1 - sigma_k)]; every class has the same P(wait) (arrivals
  see time averages), and the rate-weighted mean wait is the FIFO Erlang C wait (conservation law).
- (c) `mminf.yaml`: 60 units for 10 Erlangs; as M/M/60, C(60, 10) = {mminf_c:.1e}, so no incident
  should ever wait: the simulated waits are exactly zero in every replication, not merely small.
- (d) `nearest.yaml`: the units of three districts, chosen by nearest straight-line travel time, one
  city-wide queue. Busy units follow M/M/N whatever unit is chosen (Larson's hypercube result), so
  utilisation = lambda/(N mu); with the single queue the whole system is M/M/9, so P(wait) and Wq
  follow Erlang C too. About half of all assignments cross a district boundary, so the nearest-unit
  choice is exercised; travel adds about 10^-6 min per trip.
"""


def render(results: dict[str, citysim.Simulation], power: dict[str, citysim.Simulation],
           timings: dict[str, float], total_s: float, scale: float) -> str:
    lines = [INTRO.format(command=COMMAND)]
    lines += ["## Simulated vs analytic", ""]
    for case in CASES:
        sim = results[case.name]
        q = reduction(sim.scenario)
        run = sim.scenario.run
        lines += [
            f"### {case.title}",
            "",
            f"`scenarios/verification/{case.name}.yaml`: c = {q.c}, lambda = {q.lam * 1440:g} per day, "
            f"1/mu = {1 / q.mu:g} min, a = {q.a:.4g}, rho = {q.a / q.c:.4g}; {sim.replications} replications of "
            f"{(run.duration_min - run.warmup_min) / 1440:g} days after a {run.warmup_min / 60:g} h warm-up.",
            "",
            "| quantity | KPI | formula | analytic | simulated | 95 % CI | z |",
            "|---|---|---|---|---|---|---|",
            *comparison_rows(sim, case.rows(q)),
            "",
        ]
    mminf = reduction(results["mminf"].scenario)
    lines += [NOTES.format(mminf_c=erlang_c(mminf.c, mminf.a))]

    lines += [
        "### (e) Little's law on the logs",
        "",
        "L is the time-average number of incidents waiting for a first unit, measured by the model's",
        "monitor; lambda-hat x W-bar is computed from the incident log alone (incidents entering the",
        "dispatch queue after the warm-up per minute, times their mean wait). Means over replications",
        "with 95 % t-intervals; the difference is paired by replication. The difference is not",
        "sampling noise but the window's edge terms (incidents already waiting at the end of the",
        "warm-up, or still waiting at the end), of order 1/T: small, and the tests compare L and",
        "lambda-hat x W-bar with the unpaired standard error. The last column checks the exact,",
        "finite-window form of the law: the monitor's L against the log's waiting times cut to the",
        "window [warm-up, end] and divided by its length, largest absolute difference over replications.",
        "",
        "| case | L (monitor) | lambda-hat x W-bar (log) | L - lambda-hat x W-bar "
        "| sample-path identity, max abs error |",
        "|---|---|---|---|---|",
        *(little_row(name, results[name]) for name in ("mmc", "priorities", "nearest")),
        "",
    ]

    q = reduction(power["fifo"].scenario)
    waits = priority_mean_waits(q.c, list(q.lam_by_priority.values()), q.mu)
    n_power = power["fifo"].replications
    as_in_test = "as in the test" if n_power == POWER_REPLICATIONS else f"the test uses {POWER_REPLICATIONS}"
    lines += [
        "## Power: the check detects a broken queue discipline",
        "",
        f"The priority case rerun with {n_power} replications ({as_in_test})",
        "under a dispatch policy passed in (`BrokenOrder`) that ignores the priority (FIFO) or reverses it.",
        "The per-class waits move far outside the tests' tolerance |z| <= 4 around Cobham's values,",
        "while the all-class mean wait still matches Erlang C (the order of service does not change the",
        "work waiting): only the per-class check can see this fault.",
        "`test_cobham_check_detects_a_broken_queue_discipline` asserts it.",
        "",
        "| discipline | priority | Cobham | simulated | 95 % CI | z |",
        "|---|---|---|---|---|---|",
    ]
    for label, kind in (("FIFO, priority ignored", "fifo"), ("priority reversed", "reversed")):
        sim = power[kind]
        for p, w in zip(q.lam_by_priority, waits, strict=True):
            mean_text, ci_text, mean, se = interval_cells(per_replication(sim, "dispatch_wait_min_mean", str(p)))
            lines.append(f"| {label} | {p} | {fmt(w)} | {mean_text} | {ci_text} | {z_cell(mean, se, w)} |")
        mean_text, ci_text, mean, se = interval_cells(per_replication(sim, "dispatch_wait_min_mean", "all"))
        overall = mmc_mean_wait(q.c, q.lam, q.mu)
        lines.append(f"| {label} | all (Erlang C) | {fmt(overall)} | {mean_text} | {ci_text} "
                     f"| {z_cell(mean, se, overall)} |")
    lines.append("")

    timing = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
    lines += [
        "## How this page was made",
        "",
        f"Command: `{COMMAND}" + (f" --scale {scale:g}" if scale != 1 else "") + "`.",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; git commit {git_commit()}.",
        f"- Machine: {machine()}.",
        f"- Wall time: {total_s:.0f} s in all, one process ({timing}).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every replication count (default 1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown file to write")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    results: dict[str, citysim.Simulation] = {}
    timings: dict[str, float] = {}
    for case in CASES:
        n = max(2, round(REPLICATIONS[case.name] * args.scale))
        t0 = time.perf_counter()
        results[case.name] = citysim.simulate(SCENARIOS / f"{case.name}.yaml", replications=n)
        timings[case.name] = time.perf_counter() - t0
        print(f"{case.name}: {n} replications, {timings[case.name]:.1f} s", file=sys.stderr)
    power: dict[str, citysim.Simulation] = {}
    for kind in ("fifo", "reversed"):
        n = max(2, round(POWER_REPLICATIONS * args.scale))
        t0 = time.perf_counter()
        scenario = citysim.load_scenario(SCENARIOS / "priorities.yaml")
        power[kind] = citysim.simulate(scenario, replications=n, policy=BrokenOrder(scenario, kind))
        timings[f"priorities with {kind} queue"] = time.perf_counter() - t0
    total = time.perf_counter() - started
    text = render(results, power, timings, total, args.scale)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({total:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

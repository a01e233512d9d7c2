"""Verification: the police model, reduced by the scenario files in scenarios/verification/, reproduces
queueing theory (Erlang C, Cobham's priority queue, M/M/infinity, utilisation under nearest-unit
dispatch, Little's law).

Statistical checks compare the mean over independent replications with the analytic value and pass
when |mean - analytic| <= Z * SE, SE = (standard deviation across replications) / sqrt(n). With
Z = 4 a correct model fails a single check with probability below 1e-3 (t distribution, n >= 20),
so a change of seed, or a model change that only reshuffles the random numbers, rarely breaks a
test; the tolerance still shrinks with 1/sqrt(n) (e.g. +-4 % on P(wait) and on the priority-1
wait here), and `test_cobham_check_detects_a_broken_queue_discipline` shows that it catches a
wrong queue discipline. Seeds are the scenarios' `run.seed`, so the results are reproducible.

Replication counts keep the whole file under ~60 s on a 2-core machine; `python
benchmarks/verification_table.py` runs the same cases longer and writes docs/verification.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import citysim
from citysim.analysis.queueing import (
    erlang_c,
    mmc_mean_queue_length,
    mmc_mean_wait,
    mmc_utilisation,
    mmc_wait_probability,
    priority_mean_waits,
)
from citysim.analysis.verification import BrokenOrder, per_replication, reduction

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios" / "verification"
Z = 4.0
#: Replications per case (each replication is one full run of the scenario file).
REPLICATIONS = {"mmc": 100, "priorities": 100, "nearest": 60, "mminf": 20}


# ----------------------------------------------------------------------------- helpers
@dataclass(frozen=True)
class Check:
    """A simulated mean over replications against an analytic value."""

    what: str
    mean: float
    se: float
    n: int
    expected: float

    @property
    def ok(self) -> bool:
        return abs(self.mean - self.expected) <= Z * self.se

    def __str__(self) -> str:
        if self.se == 0:
            return f"{self.what}: simulated {self.mean:.5g} (no variance), analytic {self.expected:.5g}"
        return (f"{self.what}: simulated {self.mean:.5g} +- {self.se:.3g} (SE, n={self.n}), analytic "
                f"{self.expected:.5g}, off by {(self.mean - self.expected) / self.se:+.1f} SE")


def check_values(what: str, values: np.ndarray, expected: float) -> Check:
    assert np.isfinite(values).all(), f"{what}: NaN in a replication"
    n = values.size
    return Check(what, float(values.mean()), float(values.std(ddof=1) / math.sqrt(n)), n, expected)


def check_kpi(sim: citysim.Simulation, kpi: str, expected: float, priority: str = "all") -> Check:
    values = per_replication(sim, kpi, priority)
    assert values.size == sim.replications, f"{kpi}/{priority}: expected one value per replication"
    return check_values(f"{kpi}[{priority}]", values, expected)


def assert_all_ok(checks: list[Check]) -> None:
    failed = [str(c) for c in checks if not c.ok]
    assert not failed, "outside Z * SE:\n" + "\n".join(failed)


def run(name: str) -> citysim.Simulation:
    return citysim.simulate(SCENARIOS / f"{name}.yaml", replications=REPLICATIONS[name])


def cobham_checks(sim: citysim.Simulation) -> list[Check]:
    """Mean wait for a unit of every priority class against Cobham's formula."""
    q = reduction(sim.scenario)
    waits = priority_mean_waits(q.c, q.lams, q.mu)
    return [check_kpi(sim, "dispatch_wait_min_mean", w, str(p))
            for p, w in zip(sorted(q.lam_by_priority), waits, strict=True)]


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def mmc() -> citysim.Simulation:
    return run("mmc")


@pytest.fixture(scope="module")
def priorities() -> citysim.Simulation:
    return run("priorities")


@pytest.fixture(scope="module")
def nearest() -> citysim.Simulation:
    return run("nearest")


@pytest.fixture(scope="module")
def mminf() -> citysim.Simulation:
    return run("mminf")


# ----------------------------------------------------------------------------- (a) M/M/c
def test_mmc_scenario_is_the_reference_case(mmc: citysim.Simulation) -> None:
    """mmc.yaml is CALIBRATION.md's c = 10, rho = 0.8 case."""
    q = reduction(mmc.scenario)
    assert q.c == 10
    assert q.lam / (q.c * q.mu) == pytest.approx(0.8)
    assert mmc_wait_probability(q.c, q.lam, q.mu) == pytest.approx(0.40918, abs=5e-6)
    assert mmc_mean_wait(q.c, q.lam, q.mu) * q.mu == pytest.approx(0.20459, abs=5e-6)


def test_mmc_matches_erlang_c(mmc: citysim.Simulation) -> None:
    """P(wait), mean wait for a unit, mean number waiting, utilisation and busy units match M/M/c."""
    q = reduction(mmc.scenario)
    assert_all_ok([
        check_kpi(mmc, "p_wait_for_unit", mmc_wait_probability(q.c, q.lam, q.mu)),
        check_kpi(mmc, "dispatch_wait_min_mean", mmc_mean_wait(q.c, q.lam, q.mu)),
        check_kpi(mmc, "waiting_for_unit_time_avg", mmc_mean_queue_length(q.c, q.lam, q.mu)),
        check_kpi(mmc, "unit_utilisation", mmc_utilisation(q.c, q.lam, q.mu)),
        check_kpi(mmc, "busy_units_time_avg", q.lam / q.mu),
    ])


def test_mmc_wait_is_measured_from_queue_entry_to_first_assignment(mmc: citysim.Simulation) -> None:
    """The KPI is the incident log's t_dispatch - t_queue over police cases (in the KPI window, sent a unit)."""
    incidents = mmc.logs.incidents
    counted = incidents[~incidents["warmup"] & (incidents["n_units"] > 0)]
    from_log = (counted["t_dispatch"] - counted["t_queue"]).groupby(counted["replication"]).mean()
    np.testing.assert_allclose(from_log.sort_index().to_numpy(), per_replication(mmc, "dispatch_wait_min_mean"))


# ----------------------------------------------------------------------------- (b) priorities
def test_priority_classes_match_cobham(priorities: citysim.Simulation) -> None:
    """Each class's mean wait matches Cobham; overall wait and every class's P(wait) match Erlang C."""
    q = reduction(priorities.scenario)
    assert len(q.lams) == 3
    p_wait = mmc_wait_probability(q.c, q.lam, q.mu)
    assert_all_ok([
        *cobham_checks(priorities),
        check_kpi(priorities, "dispatch_wait_min_mean", mmc_mean_wait(q.c, q.lam, q.mu)),
        # PASTA: every class sees all units busy with the same probability.
        *(check_kpi(priorities, "p_wait_for_unit", p_wait, str(p)) for p in sorted(q.lam_by_priority)),
    ])


@pytest.fixture(params=["fifo", "reversed"], ids=["fifo_ignoring_priority", "reversed_priority"])
def broken_priorities(request: pytest.FixtureRequest) -> citysim.Simulation:
    """The priorities case run under its own policy with the priority order broken (passed in)."""
    scenario = citysim.load_scenario(SCENARIOS / "priorities.yaml")
    return citysim.simulate(scenario, replications=REPLICATIONS["priorities"],
                            policy=BrokenOrder(scenario, request.param))


def test_cobham_check_detects_a_broken_queue_discipline(broken_priorities: citysim.Simulation) -> None:
    """Power: with the dispatcher's priority order broken, the same check (same seed, replications
    and Z) rejects every class. The overall mean wait still matches Erlang C (the conservation law:
    the order of service does not change the total work waiting), so only the per-class check can
    see the fault."""
    sim = broken_priorities
    q = reduction(sim.scenario)
    per_class = cobham_checks(sim)
    assert not any(c.ok for c in per_class), "\n".join(map(str, per_class))
    assert_all_ok([check_kpi(sim, "dispatch_wait_min_mean", mmc_mean_wait(q.c, q.lam, q.mu))])


# ----------------------------------------------------------------------------- (c) M/M/infinity
def test_mminf_never_waits(mminf: citysim.Simulation) -> None:
    """With units >> demand no incident waits for a unit: waits are exactly zero, not just small."""
    q = reduction(mminf.scenario)
    assert erlang_c(q.c, q.lam / q.mu) < 1e-20  # the scenario really is "infinite" for this run length
    incidents = mminf.logs.incidents
    dispatched = incidents[incidents["resolution"] == "dispatched"]
    assert len(dispatched) > 0.9 * len(incidents)
    assert ((dispatched["t_dispatch"] - dispatched["t_queue"]) == 0.0).all()
    for kpi in ("dispatch_wait_min_mean", "p_wait_for_unit", "waiting_for_unit_time_avg"):
        assert (per_replication(mminf, kpi) == 0.0).all(), kpi


def test_mminf_busy_units_is_offered_load(mminf: citysim.Simulation) -> None:
    """In M/M/infinity the number of busy units is Poisson(a): mean a = lambda / mu."""
    q = reduction(mminf.scenario)
    assert_all_ok([
        check_kpi(mminf, "busy_units_time_avg", q.lam / q.mu),
        check_kpi(mminf, "unit_utilisation", q.lam / (q.c * q.mu)),
    ])


# ----------------------------------------------------------------------------- (d) nearest dispatch
def test_nearest_dispatch_utilisation_is_lambda_over_n_mu(nearest: citysim.Simulation) -> None:
    """Nearest-unit dispatch over three districts: utilisation = lambda / (N mu), and the pooled system
    (one city-wide queue) is M/M/N, so P(wait) and the mean wait match Erlang C as well."""
    q = reduction(nearest.scenario)
    assert len(nearest.scenario.districts) == 3
    assert_all_ok([
        check_kpi(nearest, "unit_utilisation", mmc_utilisation(q.c, q.lam, q.mu)),
        check_kpi(nearest, "p_wait_for_unit", mmc_wait_probability(q.c, q.lam, q.mu)),
        check_kpi(nearest, "dispatch_wait_min_mean", mmc_mean_wait(q.c, q.lam, q.mu)),
    ])


def test_nearest_dispatch_reduction_is_real(nearest: citysim.Simulation) -> None:
    """The choice of unit crosses district lines often, while travel adds nothing measurable."""
    assert per_replication(nearest, "cross_district_share").mean() > 0.3
    assert per_replication(nearest, "travel_min_mean").max() < 1e-4


# ----------------------------------------------------------------------------- (e) Little's law
def _waiting_area_from_log(incidents: pd.DataFrame, warmup: float, end: float) -> float:
    """Integral over [warmup, end] of the number of incidents waiting for a first unit, from the log
    of one replication (an incident still waiting at the end waits until the end)."""
    t_queue = incidents["t_queue"].to_numpy()
    t_first = incidents["t_dispatch"].fillna(end).to_numpy()
    queued = ~np.isnan(t_queue)
    return float(np.clip(np.minimum(t_first[queued], end) - np.maximum(t_queue[queued], warmup), 0, None).sum())


def test_little_law_sample_path(mmc: citysim.Simulation) -> None:
    """Little's law on the finite window, replication by replication: the monitor's time-average of
    incidents waiting for a first unit equals (1/T) x the sum of their waits from the incident log,
    each wait cut to the window [warm-up, end] (an identity, so only rounding may differ)."""
    run_settings = mmc.scenario.run
    window = run_settings.duration_min - run_settings.warmup_min
    monitor = per_replication(mmc, "waiting_for_unit_time_avg")
    from_log = [
        _waiting_area_from_log(frame, run_settings.warmup_min, run_settings.duration_min) / window
        for _, frame in mmc.logs.incidents.groupby("replication", sort=True)
    ]
    np.testing.assert_allclose(monitor, from_log, rtol=1e-9, atol=1e-12)


def test_little_law_statistical(mmc: citysim.Simulation) -> None:
    """L = lambda W: the monitor's mean number waiting equals the log's arrival rate x mean wait.

    lambda is the rate of incidents entering the dispatch queue after the warm-up and W their mean
    wait (KPI dispatch_wait_min_mean), both from the incident log. The two sides differ per
    replication only by window-edge terms of order 1/T (incidents already waiting at the warm-up,
    or still waiting at the end; about +0.2 % of L here, and covered exactly by
    test_little_law_sample_path), so the tolerance is Z times the standard error of the difference
    of the two means, sqrt(SE_L^2 + SE_lambdaW^2)."""
    run_settings = mmc.scenario.run
    window = run_settings.duration_min - run_settings.warmup_min
    incidents = mmc.logs.incidents
    after = incidents[~incidents["warmup"] & incidents["t_queue"].notna()]
    lam = after.groupby("replication").size().sort_index().to_numpy() / window
    lam_w = lam * per_replication(mmc, "dispatch_wait_min_mean")
    big_l = per_replication(mmc, "waiting_for_unit_time_avg")
    l_check, lw_check = check_values("L", big_l, math.nan), check_values("lambda W", lam_w, math.nan)
    se = math.hypot(l_check.se, lw_check.se)
    assert abs(l_check.mean - lw_check.mean) <= Z * se, (l_check.mean, lw_check.mean, se)
    q = reduction(mmc.scenario)
    assert lam.mean() == pytest.approx(q.lam, abs=Z * lam.std(ddof=1) / math.sqrt(lam.size))

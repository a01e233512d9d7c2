"""`citysim compare A B`: two scenario files on paired replications (common random numbers), compared in
neutral terms (`comparison.py`); writes comparison.csv, steps.csv, the report and its figures."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from citysim.analysis.run_checks import health_warnings, run_health
from citysim.analysis.steps import step_means, step_table
from citysim.city.loading import validate_document
from citysim.config import Scenario, load_document
from citysim.config.experiment import Metric, registered_metric
from citysim.config.metrics import COMPARE_DEFAULTS
from citysim.experiment.comparison import A, B, GROUP_ROW_COLUMNS, comparison_table, group_rows
from citysim.experiment.contract import Outcome
from citysim.output import layout
from citysim.output.compare_report import direction, signed_pct, write_compare_report
from citysim.output.files import write_csv, write_json
from citysim.output.folder import folder_lock
from citysim.output.manifest import build_manifest, utc_now
from citysim.progress import QUIET, SILENT, Progress, Reporter
from citysim.simulation.model import simulate_one

CONFIDENCE = 0.95


def chosen_metrics(names: Sequence[str] = ()) -> list[Metric]:
    """The registered metrics of these names, in the order given and each once (the defaults if none);
    an unknown name is an InputError listing the known ones."""
    return [registered_metric(name) for name in dict.fromkeys(names or COMPARE_DEFAULTS)]


def compare_scenarios(a: Scenario, b: Scenario, replications: int, seed: int, metrics: list[Metric] | None = None,
                      claims: bool = False, progress: Progress = SILENT
                      ) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """comparison.csv's table of B against A over paired replications 0..n-1 (replication k of both on
    child k of `seed`), the table of what the times are made of (`analysis.steps`), and the warnings of
    either scenario's runs (incidents open at the end, units overloaded); `progress` counts the runs."""
    health: dict[str, list[dict[str, float]]] = {A: [], B: []}

    def incidents(scenario: Scenario, config: str, replication: int) -> pd.DataFrame:
        log = simulate_one(scenario, replication, seed).logs.incidents
        health[config].append(run_health(log))
        progress.advance()
        return log

    pairs = ((incidents(a, A, k), incidents(b, B, k)) for k in range(replications))
    table, steps = compare_incidents(pairs, metrics, claims)
    warnings = [message for config, scenario in ((A, a), (B, b))
                for message in health_warnings(health[config], f"{config} ({scenario.name})")]
    return table, steps, warnings


def compare_incidents(pairs: Iterable[tuple[pd.DataFrame, pd.DataFrame]], metrics: list[Metric] | None = None,
                      claims: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The comparison and steps tables from the incident logs of paired replications (A, B), one pair at a
    time (a pair's logs can go once it is counted). `claims` adds the claimed reductions and verdicts."""
    metrics = metrics if metrics is not None else chosen_metrics()
    rows = []
    steps: dict[str, list[dict[str, float]]] = {A: [], B: []}
    for replication, pair in enumerate(pairs):
        for config, incidents in zip((A, B), pair, strict=True):
            rows += [(config, replication, *row) for row in group_rows(incidents, metrics)]
            steps[config].append(step_means(incidents))
    claimed = {m.name: m.claimed_reduction_pct for m in metrics} if claims else None
    table = comparison_table(pd.DataFrame(rows, columns=GROUP_ROW_COLUMNS), CONFIDENCE, claimed)
    return table, step_table(steps[A], steps[B])


def terminal_table(table: pd.DataFrame) -> pd.DataFrame:
    """The overall rows in words: each metric's A and B means, the change of B against A, its interval,
    the pairs, and what it says (B longer or shorter than A, or no clear difference)."""
    overall = table[table["group_kind"] == "all"]
    shown = pd.DataFrame({
        "metric": overall["metric"], "A (min)": overall["a_mean_min"], "B (min)": overall["b_mean_min"],
        "change": overall["change_pct"].map(signed_pct),
        f"{100 * CONFIDENCE:g} % CI": [f"{signed_pct(lo)} to {signed_pct(hi)}"
                                      for lo, hi in zip(overall["ci_low_pct"], overall["ci_high_pct"], strict=True)],
        "pairs": overall["pairs"],
        "B against A": [direction(*row) for row in
                        overall[["change_pct", "ci_low_pct", "ci_high_pct"]].itertuples(index=False)],
    })
    if "verdict" in table:
        shown = shown.assign(claimed=overall["claimed_pct"].map(lambda v: f"{v:g} % cut"), verdict=overall["verdict"])
    return shown


def write_folder(a_path: Path, b_path: Path, replications: int, seed: int | None, out: Path | None,
                 metric_names: Sequence[str] = (), claims: bool = False, reporter: Reporter = QUIET) -> Outcome:
    """Compare B against A into `out` (default results/compare): comparison.csv, steps.csv, the report
    and its figures, then the manifest (last); `reporter` shows the runs done."""
    started = utc_now()
    metrics = chosen_metrics(metric_names)
    documents = [load_document(p) for p in (a_path, b_path)]
    a, b = (validate_document(d, p) for d, p in zip(documents, (a_path, b_path), strict=True))
    out = out if out is not None else Path("results") / "compare"
    root_seed = a.run.seed if seed is None else seed
    with folder_lock(out, f"citysim compare {a_path} {b_path}"):
        with reporter.counter("compare", 2 * replications) as progress:
            table, steps, warnings = compare_scenarios(a, b, replications, root_seed, metrics, claims, progress)
        write_csv(table, out / layout.COMPARISON)
        write_csv(steps, out / layout.STEPS)
        inputs = {**documents[0].file_hashes(), **documents[1].file_hashes()}
        manifest = build_manifest(command="compare", inputs=inputs, started=started,
                                  a={"scenario": a.name, "file": str(a_path)},
                                  b={"scenario": b.name, "file": str(b_path)}, seed=root_seed,
                                  replications=replications, confidence=CONFIDENCE,
                                  metrics=[m.name for m in metrics], claims=claims)
        write_compare_report(out, table, manifest)
        write_json(manifest, out / layout.MANIFEST)
    return Outcome(f"A = {a.name} ({a_path}), B = {b.name} ({b_path}): {replications} paired replications, "
                   f"seed {root_seed}; change = 100 (mean B / mean A - 1), positive when B is longer; results in "
                   f"{out}", terminal_table(table), [f"Warning: {message}" for message in warnings])

"""`citysim compare`: two scenario files, paired replications, the default claimed metrics; writes its folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from citysim.analysis.steps import step_means, step_table
from citysim.city.loading import validate_document
from citysim.config import Scenario, load_document
from citysim.config.experiment import Metric
from citysim.experiment.claim_check import BASELINE, SMART, claims_table
from citysim.experiment.contract import Outcome
from citysim.experiment.runs import RUN_COLUMNS, matched_rows, metric_rows
from citysim.output import layout
from citysim.output.files import write_csv, write_json
from citysim.output.folder import folder_lock
from citysim.output.manifest import build_manifest, utc_now
from citysim.progress import QUIET, SILENT, Progress, Reporter
from citysim.simulation.model import simulate_one

#: The claimed metrics by default: arrival = t_arrive - t_call, handling = t_clear - t_arrive (and call to clear,
#: and call to closure).
CONFIDENCE = 0.95
DEFAULT_METRICS = [
    Metric(name="arrival", start="t_call", end="t_arrive", claimed_reduction_pct=20.0),
    Metric(name="handling", start="t_arrive", end="t_clear", claimed_reduction_pct=35.0),
    Metric(name="handling_call_to_clear", start="t_call", end="t_clear", claimed_reduction_pct=35.0),
    Metric(name="handling_call_to_closed", start="t_call", end="t_closed", claimed_reduction_pct=35.0),
]


def compare_scenarios(baseline: Scenario, smart: Scenario, replications: int, seed: int,
                      progress: Progress = SILENT) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The claims table of `smart` against `baseline` over paired replications 0..n-1, and the table of
    what the times are made of (`analysis.steps`); `progress` counts the runs (two a replication)."""

    def incidents(scenario: Scenario, replication: int) -> pd.DataFrame:
        log = simulate_one(scenario, replication, seed).logs.incidents
        progress.advance()
        return log

    return compare_incidents([(incidents(baseline, k), incidents(smart, k)) for k in range(replications)])


def compare_incidents(pairs: list[tuple[pd.DataFrame, pd.DataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The claims and steps tables from the incident logs of paired replications (baseline, smart)."""
    rows = []
    steps: dict[str, list[dict[str, float]]] = {BASELINE: [], SMART: []}
    for replication, (base, smart) in enumerate(pairs):
        for config, incidents in ((BASELINE, base), (SMART, smart)):
            rows += [("comparison", config, replication, *row)
                     for row in metric_rows(incidents, DEFAULT_METRICS, by_priority=True)]
            steps[config].append(step_means(incidents))
        rows += [("comparison", config, replication, metric, "all", value, n)
                 for config, metric, value, n in matched_rows(base, smart, DEFAULT_METRICS)]
    claims = claims_table(pd.DataFrame(rows, columns=RUN_COLUMNS), DEFAULT_METRICS, CONFIDENCE)
    return claims, step_table(steps[BASELINE], steps[SMART])


def write_folder(baseline_path: Path, smart_path: Path, replications: int, seed: int | None,
                 out: Path | None, reporter: Reporter = QUIET) -> Outcome:
    """Compare the two files into `out` (default results/compare): comparison.csv, steps.csv, then the
    manifest; `reporter` shows the runs done."""
    started = utc_now()
    documents = [load_document(p) for p in (baseline_path, smart_path)]
    baseline, smart = (validate_document(d, p) for d, p in zip(documents, (baseline_path, smart_path), strict=True))
    out = out if out is not None else Path("results") / "compare"
    root_seed = baseline.run.seed if seed is None else seed
    with folder_lock(out, f"citysim compare {baseline_path} {smart_path}"):
        with reporter.counter("compare", 2 * replications) as progress:
            table, steps = compare_scenarios(baseline, smart, replications, root_seed, progress)
        write_csv(table, out / layout.COMPARISON)
        write_csv(steps, out / layout.STEPS)
        inputs = {**documents[0].file_hashes(), **documents[1].file_hashes()}
        write_json(build_manifest(command="compare", inputs=inputs, started=started, baseline=baseline.name,
                                  smart=smart.name, seed=root_seed, replications=replications), out / layout.MANIFEST)
    return Outcome(f"{baseline.name} -> {smart.name}, {replications} paired replications, seed {root_seed}; "
                   f"results in {out}", table[table["priority"] == "all"].drop(columns=["priority"]))

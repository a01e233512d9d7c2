"""The claim check: each situation's baseline and smart twin, replication by replication (common
random numbers), until the reductions are precise enough; then the claims table with verdicts.

Each run is stored as it finishes (`store.py`), so an interrupted experiment loses nothing already
finished and `--resume` carries on from it; the tables are assembled from the store at the end.
"""

from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from citysim.analysis.load_warnings import load_warnings
from citysim.analysis.map_layers import map_table
from citysim.analysis.replay import replay_table
from citysim.analysis.run_checks import (
    INPUT,
    grouped_warnings,
    open_at_end_warnings,
    precision_warnings,
    queueing_warnings,
    situation_steps,
    warnings_frame,
)
from citysim.city.loading import load_scenario
from citysim.config import Scenario, dump_scenario
from citysim.config.experiment import Experiment, Metric, Uncertainty, resolve
from citysim.config.levers import Levers
from citysim.config.schema import cross_field_problems
from citysim.config.yaml_loader import LoadedDocument
from citysim.errors import InputError
from citysim.experiment.batch import Call, Failure, Job, run_jobs
from citysim.experiment.contract import EXIT_OK, EXIT_RUNS_FAILED, Options, Outcome
from citysim.experiment.provenance import begin, edited_during_run, report_failures
from citysim.experiment.runs import MATCHED, RUN_COLUMNS, Key, run_pair_unit
from citysim.experiment.services_table import services_table
from citysim.analysis.stats import paired_reduction, verdict
from citysim.experiment.store import UnitStore
from citysim.names import slug
from citysim.output import layout
from citysim.output.files import write_csv, write_json, write_text
from citysim.output.manifest import build_manifest
from citysim.output.report import README_END, README_START, claims_markdown_table, replace_readme_block, write_reports
from citysim.progress import QUIET, Progress, Reporter

CLAIM_COLUMNS = [
    "scenario", "metric", "priority", "baseline_mean_min", "smart_mean_min", "reduction_pct", "ci_low_pct",
    "ci_high_pct", "claimed_pct", "verdict", "replications", "matched_reduction_pct", "matched_ci_low_pct",
    "matched_ci_high_pct",
]
BASELINE, SMART = "baseline", "smart"
PAIR = "baseline+smart"  # the store's unit: one replication of a situation, both configurations


@dataclass(frozen=True)
class Pair:
    """A situation's baseline scenario and its smart twin."""

    name: str
    baseline: Scenario
    smart: Scenario


def situation_baseline(path: Path) -> Scenario:
    """A situation's baseline scenario: it must have no levers of its own (the smart configuration adds them)."""
    baseline = load_scenario(path)
    if baseline.levers != Levers():
        raise InputError(path, "a situation's baseline must have no levers; the experiment's smart_levers file "
                         "supplies them to its smart twin.", ("levers",))
    return baseline


def with_levers(baseline: Scenario, levers: Levers, name: str, source: Path) -> Scenario:
    """The baseline with these levers, validated again (a lever may name a category it lacks)."""
    scenario = baseline.model_copy(update={"levers": levers, "name": name})
    problems = cross_field_problems(scenario)
    if problems:
        key, text = problems[0]
        raise InputError(source, f"the smart levers do not fit this situation: {text}", key)
    return scenario


def situation_and_levers(spec_path: Path, situation: str, smart_levers: str) -> tuple[Scenario, Levers]:
    """A one-situation experiment's baseline and the smart levers (checked to fit it)."""
    path = resolve(spec_path, situation)
    baseline = situation_baseline(path)
    levers = load_scenario(resolve(spec_path, smart_levers)).levers
    return baseline, with_levers(baseline, levers, f"{baseline.name}-smart", path).levers


def pairs_of(experiment: Experiment | Uncertainty, experiment_path: Path) -> list[Pair]:
    """Load each situation and make its smart twin: the same scenario with the smart levers."""
    levers = load_scenario(resolve(experiment_path, experiment.smart_levers)).levers
    pairs = []
    for situation in experiment.situations:
        path = resolve(experiment_path, situation.scenario)
        baseline = situation_baseline(path)
        pairs.append(Pair(situation.name, baseline, with_levers(baseline, levers, f"{baseline.name}-smart", path)))
    return pairs


def _precise_enough(runs: pd.DataFrame, experiment: Experiment) -> bool:
    for metric in experiment.metrics:
        b, s = _paired(runs, metric.name, "all")
        reduction = paired_reduction(b, s, experiment.confidence)
        if not reduction.half_width_pct <= experiment.replications.target_half_width_pct:
            return False
    return True


def _paired(runs: pd.DataFrame, metric: str, priority: str, configs: tuple[str, str] = (BASELINE, SMART)
            ) -> tuple[np.ndarray, np.ndarray]:
    rows = runs[(runs["metric"] == metric) & (runs["priority"] == priority)]
    table = rows.pivot(index="replication", columns="config", values="value_min")
    if configs[0] not in table or configs[1] not in table:
        return np.array([]), np.array([])
    return table[configs[0]].to_numpy(dtype=np.float64), table[configs[1]].to_numpy(dtype=np.float64)


def replicate_pair(pair: Pair, experiment: Experiment, progress: Progress) -> Job:
    """One situation as a batched job: replication pairs in batches until precise enough (or at the
    maximum). Returns its run rows and the store keys they came from, in replication order, so the
    tables do not depend on which run finished first. The pairs below the maximum that it did not need
    are taken off the `progress` total."""
    rule = experiment.replications
    rows: list[tuple[object, ...]] = []
    keys: list[Key] = []
    replication = 0
    while True:
        stop = min(replication + (rule.min if replication == 0 else rule.batch), rule.max)
        calls = [Call((pair.name, PAIR, k), experiment.seed, run_pair_unit,
                      (pair.baseline, pair.smart, (pair.name, PAIR, k), experiment.seed, experiment.metrics,
                       experiment.by_priority)) for k in range(replication, stop)]
        done = yield calls
        for call in calls:
            unit = done.get(call.key)
            if unit is not None:
                keys.append(call.key)
                rows += unit.rows
        replication = stop
        runs = pd.DataFrame(rows, columns=RUN_COLUMNS)
        if replication >= rule.max or _precise_enough(runs, experiment):
            progress.shrink(rule.max - replication)
            return runs, keys


def claims_table(runs: pd.DataFrame, metrics: list[Metric], confidence: float) -> pd.DataFrame:
    """One row per situation, metric and priority class: the reduction, its CI and the verdict, and (on the
    overall rows) the matched-incident reduction with its CI."""
    rows = []
    claimed = {m.name: m.claimed_reduction_pct for m in metrics}
    keys = runs[["situation", "metric", "priority"]].drop_duplicates().itertuples(index=False)
    for situation, metric, priority in keys:
        b, s = _paired(runs[runs["situation"] == situation], str(metric), str(priority))
        reduction = paired_reduction(b, s, confidence)
        # The matched-incident estimator (the same incidents in both configurations; overall only).
        mb, ms = _paired(runs[runs["situation"] == situation], str(metric), str(priority),
                         (MATCHED[BASELINE], MATCHED[SMART]))
        matched = paired_reduction(mb, ms, confidence)
        rows.append({
            "scenario": situation, "metric": metric, "priority": priority,
            "baseline_mean_min": reduction.baseline_mean, "smart_mean_min": reduction.smart_mean,
            "reduction_pct": reduction.reduction_pct, "ci_low_pct": reduction.ci_low_pct,
            "ci_high_pct": reduction.ci_high_pct, "claimed_pct": claimed[str(metric)],
            "verdict": verdict(reduction, claimed[str(metric)]), "replications": reduction.n,
            "matched_reduction_pct": matched.reduction_pct, "matched_ci_low_pct": matched.ci_low_pct,
            "matched_ci_high_pct": matched.ci_high_pct,
        })
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


@dataclass(frozen=True)
class ClaimCheck:
    runs: pd.DataFrame
    claims: pd.DataFrame
    services: pd.DataFrame  # services.csv
    pairs: list[Pair]
    wall_seconds: float
    failures: list[Failure]
    city_map: pd.DataFrame  # map.csv: every situation's map layers
    diagnostics: pd.DataFrame  # diagnostics.csv: every run's step means and health figures
    replay: pd.DataFrame  # replay.csv: the first situation's replication 0, hour by hour


def run_claim_check(experiment: Experiment, experiment_path: Path, out: Path, resume: bool = False,
                    reporter: Reporter = QUIET, executor: Executor | None = None) -> ClaimCheck:
    """Every situation of the experiment, then the claims table. Runs go to `executor` if given (a process
    pool or a Dask client's executor), else run here; `resume` keeps the runs an interrupted experiment
    finished in `out`; `reporter` shows the replication pairs done."""
    started = time.perf_counter()
    pairs = pairs_of(experiment, experiment_path)
    store = UnitStore(out, resume)
    failures: list[Failure] = []
    # The map layers need no run, and the replay one replication pair of its own: on a pool they are made
    # beside the runs.
    maps = [executor.submit(map_table, pair.baseline, pair.name) for pair in pairs] if executor is not None else []
    first = pairs[0]
    replay_args = (first.baseline, first.smart, first.name, experiment.seed)
    replay = executor.submit(replay_table, *replay_args) if executor is not None else None
    for pair in pairs:
        reporter.note(f"situation {pair.name}: baseline {pair.baseline.name} vs smart levers")
    # Every situation at once, so that a pool is kept busy across the situations' batches.
    with reporter.counter("claim check", len(pairs) * experiment.replications.max, "pair") as progress:
        outcomes = run_jobs([replicate_pair(pair, experiment, progress) for pair in pairs], store, executor,
                            failures, progress)
    parts = []
    for pair, (pair_runs, keys) in zip(pairs, outcomes, strict=True):
        reporter.note(f"  {pair.name}: {pair_runs['replication'].nunique()} replication pairs")
        for key in keys:
            store.record(key)
        parts.append(pair_runs)
    failures.sort(key=lambda f: (f.situation, f.config, f.replication))
    tables = store.write_tables()
    runs = pd.concat(parts, ignore_index=True)
    claims = claims_table(runs, experiment.metrics, experiment.confidence)
    services = services_table(tables["services"], experiment.confidence)
    city_map = pd.concat([future.result() for future in maps] if maps else
                         [map_table(pair.baseline, pair.name) for pair in pairs], ignore_index=True)
    replay_rows = replay.result() if replay is not None else replay_table(*replay_args)
    return ClaimCheck(runs, claims, services, pairs, time.perf_counter() - started, failures, city_map,
                      tables["diagnostics"], replay_rows)


def check_warnings(check: ClaimCheck, experiment: Experiment, replications: dict[str, int]) -> pd.DataFrame:
    """warnings.csv: what is wrong besides the claims, by situation: each scenario's load warnings (overload,
    a lever outside its sourced range), a CI wider than the rule's target at its maximum, incidents still
    open at the end, and configurations that queue for units."""
    found = []
    for pair in check.pairs:
        baseline = [message.removeprefix("Warning: ") for message in load_warnings(pair.baseline)]
        # The smart twin's own warnings only: one the baseline has already (overload, a speed) is said once.
        smart = [message.removeprefix("Warning: ") for message in load_warnings(pair.smart)]
        smart = [m for m in smart if m.replace(pair.smart.name, pair.baseline.name, 1) not in baseline]
        found += [(pair.name, INPUT, message) for message in baseline + smart]
    found += precision_warnings(check.claims, replications, experiment.replications.model_dump())
    found += open_at_end_warnings(check.diagnostics) + queueing_warnings(check.diagnostics)
    return warnings_frame(found)


def write_folder(experiment: Experiment, document: LoadedDocument, path: Path, out: Path,
                 options: Options) -> Outcome:
    """Run the claim check into `out`: claims, failures, resolved scenarios, charts and reports, then the
    manifest (last), and the README's claims block if asked."""
    readme = options.readme
    if readme is not None:
        text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
        if README_START not in text or README_END not in text:
            raise InputError(readme, f"expected a file with a {README_START} ... {README_END} block to update.")
    inputs = begin(experiment, path, document, out, options.resume)
    check = run_claim_check(experiment, path, out, options.resume, options.reporter, options.executor)
    write_csv(check.claims, out / layout.CLAIMS)
    write_csv(check.services, out / layout.SERVICES)
    warnings = report_failures(out, check.failures)
    write_csv(check.city_map, out / layout.MAP)
    write_csv(check.replay, out / layout.REPLAY)
    write_csv(situation_steps(check.diagnostics), out / layout.STEPS)
    replications = {str(k): int(v) for k, v in check.runs.groupby("situation")["replication"].nunique().items()}
    found = check_warnings(check, experiment, replications)
    write_csv(found, out / layout.WARNINGS)
    for pair in check.pairs:
        name = slug(pair.name)  # a file name made only of [a-z0-9-]: a situation's name cannot escape `out`
        write_text(dump_scenario(pair.baseline), out / layout.RESOLVED_SCENARIOS / f"{name}.baseline.yaml")
        write_text(dump_scenario(pair.smart), out / layout.RESOLVED_SCENARIOS / f"{name}.smart.yaml")
    manifest = build_manifest(
        command=f"citysim experiment {path}", inputs=inputs, started=options.started,
        experiment=experiment.name, description=experiment.description, confidence=experiment.confidence,
        seed=experiment.seed, replications=replications,
        replication_rule=experiment.replications.model_dump(),
        warmup_min={p.name: p.baseline.run.warmup_min for p in check.pairs},
        wall_seconds=round(check.wall_seconds, 1), resolved_scenarios=f"{layout.RESOLVED_SCENARIOS}/",
    )
    write_reports(out, [], manifest, options.executor)
    write_json(manifest, out / layout.MANIFEST)  # last: a folder with a manifest is complete
    if readme is not None:
        command = f"citysim experiment {path} --update-readme {readme}"
        try:
            updated = replace_readme_block(readme.read_text(encoding="utf-8"), claims_markdown_table(check.claims),
                                           command)
        except (OSError, ValueError) as exc:
            raise InputError(readme, f"cannot update the claims table: {exc}.") from None
        write_text(updated, readme)
    if check.failures:
        warnings.append(f"{len(check.failures)} run(s) failed ({layout.FAILURES}); the claims use the pairs that "
                        "completed.")
    warnings += edited_during_run(inputs)
    warnings += [f"Warning: {title}. {advice}".rstrip() + "".join(f"\n  {m}" for m in messages)
                 for title, advice, messages in grouped_warnings(found)]
    overall = check.claims[check.claims["priority"] == "all"].drop(columns=["priority"])
    return Outcome(f"Claim check '{experiment.name}': results in {out}", overall, warnings,
                   EXIT_RUNS_FAILED if check.failures else EXIT_OK)

"""Sensitivity of the reductions to each lever, and "what would it take" to reach the claims.

Tornado: from the smart configuration (every lever at its scenario strength), one lever at a time is
set to the low and the high end of its sourced range (`citysim.config.levers.LEVERS`), the others unchanged;
the public-transport levers are left out (the buses run after a police replication, so they cannot move it).

What would it take: every lever's strength is scaled by a common factor s (each capped at the high
end of its range, so the search never leaves what the sources support), and the smallest s whose
reduction reaches the claim is found by bisection, per metric. If even every lever at its high end
falls short, the claim is out of reach of the levers as sourced, and that is the answer.
All configurations run on common random numbers against the same baseline replications.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from citysim.config import Scenario
from citysim.config.experiment import Sensitivity
from citysim.config.levers import LEVERS, Levers, police_levers
from citysim.config.yaml_loader import LoadedDocument
from citysim.experiment.batch import Failure
from citysim.experiment.claim_check import situation_and_levers
from citysim.experiment.configurations import ConfigurationRunner, ReplicationMeans
from citysim.experiment.contract import EXIT_OK, EXIT_RUNS_FAILED, Options, Outcome
from citysim.experiment.provenance import begin, edited_during_run, report_failures
from citysim.experiment.size import most_runs
from citysim.analysis.stats import paired_reduction
from citysim.experiment.store import UnitStore
from citysim.output import layout
from citysim.output.figures import draw_folder
from citysim.output.files import write_csv, write_json
from citysim.output.manifest import build_manifest
from citysim.progress import QUIET, Reporter

TORNADO_COLUMNS = ["lever", "setting", "strength", "metric", "reduction_pct", "ci_low_pct", "ci_high_pct",
                   "change_pct_points"]
SEARCH_COLUMNS = ["metric", "claimed_pct", "reachable", "scale", "reduction_pct", "ci_low_pct", "ci_high_pct",
                  "strengths"]


def scaled_levers(levers: Levers, scale: float) -> Levers:
    """Every lever's strength x scale, capped at the high end of its sourced range."""
    updates = {}
    for name in Levers.model_fields:
        lever = getattr(levers, name)
        if lever is not None:
            strength = min(LEVERS[name].high, lever.strength * scale)
            updates[name] = lever.model_copy(update={"strength": strength})
    return levers.model_copy(update=updates)


@dataclass
class _Runner:
    """Runs configurations of one situation (through the result store), caching per-replication means."""

    spec: Sensitivity
    baseline: Scenario
    cache: dict[str, ReplicationMeans]
    configurations: ConfigurationRunner

    def means(self, key: str, scenario: Scenario) -> ReplicationMeans:
        if key not in self.cache:
            self.cache[key] = self.configurations.replication_means(self.spec.situation.name,
                                                                    [("config", scenario)])[0]
        return self.cache[key]

    def reduction(self, key: str, levers: Levers, metric: str) -> tuple[float, float, float]:
        smart = self.means(key, self.baseline.model_copy(update={"levers": levers}))
        base = self.means("baseline", self.baseline)
        reps = range(self.spec.replications)
        result = paired_reduction(np.array([base[(r, metric)] for r in reps]),
                                  np.array([smart[(r, metric)] for r in reps]), self.spec.confidence)
        return result.reduction_pct, result.ci_low_pct, result.ci_high_pct


@dataclass(frozen=True)
class SensitivityResult:
    tornado: pd.DataFrame
    search: pd.DataFrame
    configurations_run: int
    wall_seconds: float
    failures: list[Failure]


def run_sensitivity(spec: Sensitivity, spec_path: Path, out: Path, resume: bool = False,
                    reporter: Reporter = QUIET, executor: Executor | None = None) -> SensitivityResult:
    """The tornado and the what-would-it-take search; the runs go through the result store in `out`
    (`resume` keeps the runs an interrupted study finished there); `reporter` shows the runs done."""
    started = time.perf_counter()
    baseline, smart = situation_and_levers(spec_path, spec.situation.scenario, spec.smart_levers)
    with reporter.counter("sensitivity", most_runs(spec, spec_path)[0]) as progress:
        configurations = ConfigurationRunner(UnitStore(out, resume), executor, spec.seed, spec.replications,
                                             spec.metrics, progress=progress)
        runner = _Runner(spec, baseline, {}, configurations)
        tornado = []
        for metric in spec.metrics:
            tornado += _tornado_rows(runner, smart, metric.name)
            reporter.note(f"  tornado {metric.name}: {len(runner.cache)} configurations run")
        search = [_search(runner, smart, metric.name, metric.claimed_reduction_pct, spec.search_steps)
                  for metric in spec.metrics]
    return SensitivityResult(pd.DataFrame(tornado, columns=TORNADO_COLUMNS),
                             pd.DataFrame(search, columns=SEARCH_COLUMNS), len(runner.cache),
                             time.perf_counter() - started, configurations.failures)


def _tornado_rows(runner: _Runner, smart: Levers, metric: str) -> list[tuple[object, ...]]:
    """One metric's tornado: each police lever at the low and the high end of its range, the others as in `smart`."""
    base, _, _ = runner.reduction("smart", smart, metric)
    rows: list[tuple[object, ...]] = []
    for name in police_levers():  # a public-transport lever cannot move a police metric
        lever = getattr(smart, name)
        if lever is None:
            continue
        for setting in ("low", "high"):
            strength = getattr(LEVERS[name], setting)
            levers = smart.model_copy(update={name: lever.model_copy(update={"strength": strength})})
            value, low, high = runner.reduction(f"{name}={strength}", levers, metric)
            rows.append((name, setting, strength, metric, value, low, high, value - base))
    return rows


def _search(runner: _Runner, smart: Levers, metric: str, claimed: float, steps: int) -> tuple[object, ...]:
    """Bisection for the smallest common scale of the levers whose reduction reaches the claim."""
    ratios = [LEVERS[n].high / getattr(smart, n).strength for n in police_levers()
              if getattr(smart, n) is not None and getattr(smart, n).strength > 0]
    if not ratios:
        return (metric, claimed, False, 0.0, math.nan, math.nan, math.nan, "no lever is on")
    top = max(ratios)

    def at(scale: float) -> tuple[float, float, float]:
        return runner.reduction(f"scale={scale:.6f}", scaled_levers(smart, scale), metric)

    best = at(top)
    if best[0] < claimed:
        return (metric, claimed, False, top, *best, _strengths(scaled_levers(smart, top)))
    low, high = 0.0, top
    for _ in range(steps):
        middle = (low + high) / 2
        if at(middle)[0] >= claimed:
            high = middle
        else:
            low = middle
    return (metric, claimed, True, high, *at(high), _strengths(scaled_levers(smart, high)))


def _strengths(levers: Levers) -> str:
    return " ".join(f"{n}={getattr(levers, n).strength:.3g}" for n in Levers.model_fields if getattr(levers, n))


def write_folder(spec: Sensitivity, document: LoadedDocument, path: Path, out: Path, options: Options) -> Outcome:
    """Run the sensitivity study into `out`: the tornado and the search tables, charts, then the manifest."""
    inputs = begin(spec, path, document, out, options.resume)
    result = run_sensitivity(spec, path, out, options.resume, options.reporter, options.executor)
    write_csv(result.tornado, out / layout.SENSITIVITY)
    write_csv(result.search, out / layout.WHAT_WOULD_IT_TAKE)
    warnings = report_failures(out, result.failures)
    draw_folder(out, executor=options.executor)
    write_json(build_manifest(command=f"citysim experiment {path}", inputs=inputs,
                              started=options.started, experiment=spec.name, seed=spec.seed,
                              replications=spec.replications, configurations_run=result.configurations_run,
                              wall_seconds=round(result.wall_seconds, 1)), out / layout.MANIFEST)
    return Outcome(f"Sensitivity '{spec.name}' ({result.configurations_run} configurations): results in {out}",
                   result.search, warnings + edited_during_run(inputs),
                   EXIT_RUNS_FAILED if result.failures else EXIT_OK, width=200)

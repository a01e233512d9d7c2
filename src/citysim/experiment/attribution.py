"""Shapley attribution: how much of each reduction each group of smart levers delivers.

The players are groups of levers; the value of a coalition S is a claimed metric's mean with only
S's levers on. Every coalition runs on the same random numbers (replication k of every coalition
shares its seed), the Shapley values are computed per replication, and their mean and t-interval
are reported. Values are in percentage points of that replication's baseline mean, so for every
replication they sum exactly to that replication's reduction (efficiency); the "total" row is
the mean of those, which differs slightly from the claim check's ratio of means. Exact: all 2^k
coalitions; permutations: the average marginal contribution over sampled orderings (each ordering
also sums exactly to the total).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from citysim.config import Scenario
from citysim.config.experiment import Attribution, Metric
from citysim.config.levers import Levers
from citysim.config.yaml_loader import LoadedDocument
from citysim.experiment.batch import Failure
from citysim.experiment.claim_check import situation_and_levers
from citysim.experiment.configurations import ConfigurationRunner, ReplicationMeans
from citysim.experiment.contract import EXIT_OK, EXIT_RUNS_FAILED, Options, Outcome
from citysim.experiment.provenance import begin, edited_during_run, report_failures
from citysim.experiment.size import most_runs
from citysim.experiment.store import UnitStore
from citysim.output import layout
from citysim.output.figures import draw_folder
from citysim.output.files import write_csv, write_json
from citysim.output.manifest import build_manifest
from citysim.progress import QUIET, Reporter
from citysim.simulation.kpis import t_interval

Coalition = frozenset[str]
ATTRIBUTION_COLUMNS = ["metric", "group", "levers", "contribution_pct", "ci_low_pct", "ci_high_pct",
                       "share_of_total", "replications"]


def shapley_exact(players: list[str], value: Callable[[Coalition], float]) -> dict[str, float]:
    """Exact Shapley values of a game over `players`."""
    k = len(players)
    result = {}
    for player in players:
        others = [p for p in players if p != player]
        total = 0.0
        for size in range(k):
            weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
            for coalition in combinations(others, size):
                base = frozenset(coalition)
                total += weight * (value(base | {player}) - value(base))
        result[player] = total
    return result


def shapley_sampled(players: list[str], value: Callable[[Coalition], float],
                    orderings: Iterable[list[str]]) -> dict[str, float]:
    """Shapley values estimated from the given orderings of the players."""
    sums = dict.fromkeys(players, 0.0)
    count = 0
    for ordering in orderings:
        coalition: Coalition = frozenset()
        for player in ordering:
            grown = coalition | {player}
            sums[player] += value(grown) - value(coalition)
            coalition = grown
        count += 1
    return {p: s / count for p, s in sums.items()}


@dataclass
class _Game:
    """Runs coalitions on demand (through the result store) and caches each one's per-replication means."""

    spec: Attribution
    baseline: Scenario
    smart_levers: Levers
    cache: dict[Coalition, ReplicationMeans]
    runner: ConfigurationRunner

    def scenario_for(self, coalition: Coalition) -> Scenario:
        on = {lever for group in coalition for lever in self.spec.groups[group]}
        levers = Levers(**{name: getattr(self.smart_levers, name) for name in on})
        return self.baseline.model_copy(update={"levers": levers})

    def prefetch(self, coalitions: list[Coalition]) -> None:
        """Run every coalition not yet cached as one batch, so that they run side by side on the executor
        (asked one at a time, a coalition with fewer replications than workers leaves workers idle)."""
        missing = [c for c in coalitions if c not in self.cache]
        means = self.runner.replication_means(self.spec.situation.name,
                                              [("coalition", self.scenario_for(c)) for c in missing])
        self.cache.update(zip(missing, means, strict=True))

    def values(self, coalition: Coalition) -> ReplicationMeans:
        if coalition not in self.cache:
            self.cache[coalition] = self.runner.replication_means(
                self.spec.situation.name, [("coalition", self.scenario_for(coalition))])[0]
        return self.cache[coalition]


@dataclass(frozen=True)
class AttributionResult:
    table: pd.DataFrame
    coalitions_run: int
    wall_seconds: float
    failures: list[Failure]


def run_attribution(spec: Attribution, spec_path: Path, out: Path, resume: bool = False,
                    reporter: Reporter = QUIET, executor: Executor | None = None) -> AttributionResult:
    """Shapley values of every group for every metric, with CIs over replications; the runs go through
    the result store in `out` (`resume` keeps the runs an interrupted attribution finished there);
    `reporter` shows the runs done."""
    started = time.perf_counter()
    baseline, smart_levers = situation_and_levers(spec_path, spec.situation.scenario, spec.smart_levers)
    with reporter.counter("attribution", most_runs(spec, spec_path)[0]) as progress:
        runner = ConfigurationRunner(UnitStore(out, resume), executor, spec.seed, spec.replications, spec.metrics,
                                     progress=progress)
        game = _Game(spec, baseline, smart_levers, {}, runner)
        orderings = _orderings(spec)
        game.prefetch(coalitions_asked(list(spec.groups), spec.method, orderings))
        rows = [row for metric in spec.metrics for row in _metric_rows(game, metric, orderings, reporter)]
    return AttributionResult(pd.DataFrame(rows, columns=ATTRIBUTION_COLUMNS), len(game.cache),
                             time.perf_counter() - started, runner.failures)


def _orderings(spec: Attribution) -> list[list[str]]:
    """The sampled orderings of the groups (method permutations; none for exact), from their own stream."""
    if spec.method != "permutations":
        return []
    generator = np.random.default_rng(np.random.SeedSequence(spec.seed, spawn_key=(2**31 - 1,)))
    return [list(generator.permutation(list(spec.groups))) for _ in range(spec.orderings)]


def coalitions_asked(players: list[str], method: str, orderings: list[list[str]]) -> list[Coalition]:
    """Every coalition the Shapley computation asks for, in the order it first asks (the empty one first),
    found by running it on a game that only records; so the runs can be made at once, in that order."""
    asked: dict[Coalition, None] = {frozenset(): None}

    def record(coalition: Coalition) -> float:
        asked.setdefault(coalition)
        return 0.0

    if method == "exact":
        shapley_exact(players, record)
    else:
        shapley_sampled(players, record, orderings)
    return list(asked)


def _metric_rows(game: _Game, metric: Metric, orderings: list[list[str]], reporter: Reporter
                 ) -> list[dict[str, object]]:
    """One metric's attribution rows: each group's contribution, then the total, with CIs over replications."""
    spec = game.spec
    players = list(spec.groups)
    per_replication: list[dict[str, float]] = []
    for replication in range(spec.replications):
        empty = game.values(frozenset())[(replication, metric.name)]

        def value(coalition: Coalition, replication: int = replication, name: str = metric.name,
                  empty: float = empty) -> float:
            # Metric mean as a reduction, in percentage points of the baseline mean (NaN if that is 0).
            if not empty:
                return math.nan
            return 100.0 * (empty - game.values(coalition)[(replication, name)]) / abs(empty)

        per_replication.append(shapley_exact(players, value) if spec.method == "exact"
                               else shapley_sampled(players, value, orderings))
    reporter.note(f"  {metric.name}: {len(game.cache)} lever combinations run")
    rows: list[dict[str, object]] = []
    total = np.array([sum(r.values()) for r in per_replication])
    for player in players:
        values = np.array([r[player] for r in per_replication])
        mean, _sd, low, high = t_interval(values)
        rows.append({"metric": metric.name, "group": player, "levers": " ".join(spec.groups[player]),
                     "contribution_pct": mean, "ci_low_pct": low, "ci_high_pct": high,
                     "share_of_total": mean / total.mean() if total.mean() else math.nan,
                     "replications": spec.replications})
    mean, _sd, low, high = t_interval(total)
    rows.append({"metric": metric.name, "group": "total", "levers": "all", "contribution_pct": mean,
                 "ci_low_pct": low, "ci_high_pct": high, "share_of_total": 1.0,
                 "replications": spec.replications})
    return rows


def write_folder(spec: Attribution, document: LoadedDocument, path: Path, out: Path, options: Options) -> Outcome:
    """Run the attribution into `out`: attribution.csv, its charts, then the manifest."""
    inputs = begin(spec, path, document, out, options.resume)
    result = run_attribution(spec, path, out, options.resume, options.reporter, options.executor)
    write_csv(result.table, out / layout.ATTRIBUTION)
    warnings = report_failures(out, result.failures)
    draw_folder(out, executor=options.executor)
    write_json(build_manifest(command=f"citysim experiment {path}", inputs=inputs,
                              started=options.started, experiment=spec.name, seed=spec.seed,
                              replications=spec.replications, method=spec.method,
                              coalitions_run=result.coalitions_run, wall_seconds=round(result.wall_seconds, 1)),
               out / layout.MANIFEST)
    each = f"{spec.replications} replication{'s' if spec.replications != 1 else ''} each"
    return Outcome(f"Attribution '{spec.name}' ({spec.method}, {result.coalitions_run} lever combinations, "
                   f"{each}): results in {out}", result.table.drop(columns=["levers"]),
                   warnings + edited_during_run(inputs), EXIT_RUNS_FAILED if result.failures else EXIT_OK)

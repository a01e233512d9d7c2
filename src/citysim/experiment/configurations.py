"""Runs of configurations through the result store, for the studies that compare many variants of one
situation (attribution, sensitivity, uncertainty).

A configuration is a situation's scenario with some inputs changed. Each runs on common random
numbers (its replication k uses the study's child seed k) and is keyed by a digest of its resolved
scenario, so a configuration asked for twice runs once, and one stored by an interrupted study is
read back on `--resume`.
"""

from __future__ import annotations

import hashlib
import math
from concurrent.futures import Executor
from dataclasses import dataclass, field

from citysim.config import Scenario
from citysim.config.experiment import Metric
from citysim.experiment.batch import Call, Failure, run_stored
from citysim.experiment.runs import Key, UnitResult, run_metrics_unit
from citysim.experiment.store import UnitStore
from citysim.progress import SILENT, Progress

#: One configuration's metric means, keyed (replication, metric); NaN where a run failed.
ReplicationMeans = dict[tuple[int, str], float]


def scenario_digest(scenario: Scenario) -> str:
    """A short digest of the resolved scenario: configurations that differ in any input differ here."""
    return hashlib.sha256(scenario.model_dump_json().encode("utf-8")).hexdigest()[:16]


@dataclass
class ConfigurationRunner:
    """Runs configurations of a study through the store: each (situation, scenario) once per replication;
    `progress` counts the runs as they are done."""

    store: UnitStore
    executor: Executor | None
    seed: int
    replications: int
    metrics: list[Metric]
    failures: list[Failure] = field(default_factory=list)
    progress: Progress = SILENT

    def keys(self, situation: str, role: str, scenario: Scenario) -> list[Key]:
        digest = scenario_digest(scenario)
        return [(situation, f"{role}-{digest}", k) for k in range(self.replications)]

    def replication_means(self, situation: str, configs: list[tuple[str, Scenario]]) -> list[ReplicationMeans]:
        """Each configuration's per-replication metric means, in order; runs made (in parallel) as needed,
        and recorded for runs.csv in the order they were first asked for."""
        calls: dict[Key, Call] = {}
        wanted = []
        for role, scenario in configs:
            keys = self.keys(situation, role, scenario)
            wanted.append(keys)
            for key in keys:
                if key not in calls:
                    calls[key] = Call(key, self.seed, run_metrics_unit, (scenario, key, self.seed, self.metrics))
        done = run_stored(list(calls.values()), self.store, self.executor, self.failures, self.progress)
        for key in calls:
            if key in done:
                self.store.record(key)
        return [{(replication, metric.name): _value(done.get(key), metric.name)
                 for replication, key in enumerate(keys) for metric in self.metrics} for keys in wanted]


def _value(unit: UnitResult | None, metric: str) -> float:
    """A run's mean of the metric over all priorities (NaN if the run failed or has no such cases)."""
    found = [row[5] for row in unit.rows if row[3] == metric and row[4] == "all"] if unit is not None else []
    return float(found[0]) if found and isinstance(found[0], float | int) else math.nan

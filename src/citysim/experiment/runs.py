"""One run of a claim check (situation, configuration, replication) and what it contributes: the
claimed metrics' means and the chart tables. A top-level function, so worker processes can run it; its
seed is fixed before it is handed out, so its result does not depend on who runs it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from citysim.analysis.chart_tables import district_table, hourly_table, sample_table
from citysim.config import Scenario
from citysim.config.experiment import Metric
from citysim.simulation.kpis import police_cases
from citysim.simulation.model import simulate_one

RUN_COLUMNS = ["situation", "config", "replication", "metric", "priority", "value_min", "incidents"]
Key = tuple[str, str, int]


def metric_rows(incidents: pd.DataFrame, metrics: list[Metric], by_priority: bool) -> list[tuple[str, str, float, int]]:
    """(metric, priority, mean minutes, incidents) for one run: police cases (incidents sent a unit)
    reported after the warm-up that have both of the metric's times."""
    counted = police_cases(incidents)
    rows = []
    for metric in metrics:
        values = (counted[metric.end] - counted[metric.start]).dropna()
        rows.append((metric.name, "all", float(values.mean()) if len(values) else math.nan, int(values.size)))
        if by_priority:
            priorities = counted.loc[values.index, "priority"]
            for priority, group in values.groupby(priorities):
                rows.append((metric.name, str(priority), float(group.mean()), int(group.size)))
    return rows


@dataclass(frozen=True)
class UnitResult:
    """What one run (situation, configuration, replication) contributes to the results folder."""

    key: Key
    rows: list[tuple[object, ...]]
    hourly: pd.DataFrame
    districts: pd.DataFrame
    samples: pd.DataFrame | None


def run_unit(scenario: Scenario, keys: Key, seed: int, metrics: list[Metric], by_priority: bool) -> UnitResult:
    """Simulate one run and reduce it to its rows and tables."""
    situation, config, replication = keys
    result = simulate_one(scenario, replication, seed)
    rows: list[tuple[object, ...]] = [(situation, config, replication, m, p, v, n)
                                      for m, p, v, n in metric_rows(result.logs.incidents, metrics, by_priority)]
    samples = sample_table(result, metrics, situation, config) if replication == 0 else None
    return UnitResult(keys, rows, hourly_table(result, keys), district_table(result, keys), samples)


def replication_means(scenario: Scenario, replication: int, seed: int, metrics: list[Metric]) -> dict[str, float]:
    """One replication's mean of each metric over all priorities (for attribution and sensitivity)."""
    incidents = simulate_one(scenario, replication, seed).logs.incidents
    return {metric: mean for metric, priority, mean, _n in metric_rows(incidents, metrics, by_priority=False)
            if priority == "all"}

"""One run of a claim check (situation, configuration, replication) and what it contributes: the
claimed metrics' means and the chart tables. A top-level function, so worker processes can run it; its
seed is fixed before it is handed out, so its result does not depend on who runs it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from citysim.analysis.chart_tables import district_table, hourly_table, sample_table
from citysim.analysis.run_checks import DIAGNOSTIC_COLUMNS, run_diagnostics
from citysim.config import Scenario
from citysim.config.experiment import Metric
from citysim.simulation.kpis import police_cases
from citysim.simulation.model import simulate_one
from citysim.simulation.services import SERVICE_COLUMNS, service_kpis

RUN_COLUMNS = ["situation", "config", "replication", "metric", "priority", "value_min", "incidents"]
#: service_runs.csv: each run's traffic-service metrics.
SERVICE_RUN_COLUMNS = ["situation", "config", "replication", *SERVICE_COLUMNS]
Key = tuple[str, str, int]


def metric_rows(incidents: pd.DataFrame, metrics: list[Metric], by_priority: bool) -> list[tuple[str, str, float, int]]:
    """(metric, priority, mean minutes, incidents) for one run: police cases (incidents reported in the KPI
    window and sent a unit) that have both of the metric's times."""
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
    services: pd.DataFrame  # SERVICE_RUN_COLUMNS (no columns for a study's metric-only run)
    diagnostics: pd.DataFrame  # DIAGNOSTIC_COLUMNS: step means and health figures (none for a metric-only run)


MATCHED = {"baseline": "baseline_matched", "smart": "smart_matched"}


def matched_rows(baseline: pd.DataFrame, smart: pd.DataFrame,
                 metrics: list[Metric]) -> list[tuple[str, str, float, int]]:
    """(config, metric, mean minutes, incidents) over matched incidents: the police cases of both runs
    (the same draw_id) that have both of the metric's times in both. Unlike the ratio of means over each
    run's own cases, prevention and diversion cannot change which cases are compared."""
    b = police_cases(baseline).set_index("draw_id")
    s = police_cases(smart).set_index("draw_id")
    common = b.index.intersection(s.index)
    rows = []
    for metric in metrics:
        vb = b.loc[common, metric.end] - b.loc[common, metric.start]
        vs = s.loc[common, metric.end] - s.loc[common, metric.start]
        keep = (vb.notna() & vs.notna()).to_numpy()
        for config, values in (("baseline", vb), ("smart", vs)):
            kept = values.to_numpy()[keep]
            rows.append((MATCHED[config], metric.name, float(kept.mean()) if kept.size else math.nan, int(kept.size)))
    return rows


def _run_rows(keys: Key, incidents: pd.DataFrame, metrics: list[Metric],
              by_priority: bool) -> list[tuple[object, ...]]:
    """runs.csv's rows of one run: its keys, then each metric's (metric, priority, mean, incidents)."""
    return [(*keys, m, p, v, n) for m, p, v, n in metric_rows(incidents, metrics, by_priority)]


def run_pair_unit(baseline: Scenario, smart: Scenario, keys: Key, seed: int, metrics: list[Metric],
                  by_priority: bool) -> UnitResult:
    """One replication of a situation, baseline and smart twin on the same random numbers: both runs' rows
    and tables, and the matched-incident rows that need both runs' incidents."""
    situation, _pair, replication = keys
    results = {config: simulate_one(scenario, replication, seed)
               for config, scenario in (("baseline", baseline), ("smart", smart))}
    rows: list[tuple[object, ...]] = []
    hourly, districts, samples, services, diagnostics = [], [], [], [], []
    scenarios = {"baseline": baseline, "smart": smart}
    for config, result in results.items():
        config_keys = (situation, config, replication)
        rows += _run_rows(config_keys, result.logs.incidents, metrics, by_priority)
        services.append(_keyed(service_kpis(scenarios[config], result), config_keys))
        hourly.append(hourly_table(result, config_keys))
        districts.append(district_table(result, config_keys))
        diagnostics += [(*config_keys, *row) for row in run_diagnostics(result.logs.incidents)]
        if replication == 0:
            samples.append(sample_table(result, metrics, situation, config))
    rows += [(situation, config, replication, m, "all", v, n) for config, m, v, n in
             matched_rows(results["baseline"].logs.incidents, results["smart"].logs.incidents, metrics)]
    return UnitResult(keys, rows, pd.concat(hourly, ignore_index=True), pd.concat(districts, ignore_index=True),
                      pd.concat(samples, ignore_index=True) if samples else None,
                      pd.concat(services, ignore_index=True)[SERVICE_RUN_COLUMNS],
                      pd.DataFrame(diagnostics, columns=DIAGNOSTIC_COLUMNS))


def _keyed(table: pd.DataFrame, keys: Key) -> pd.DataFrame:
    """A run's table with its (situation, config, replication) in front."""
    situation, config, replication = keys
    return table.assign(situation=situation, config=config, replication=replication)


def run_metrics_unit(scenario: Scenario, keys: Key, seed: int, metrics: list[Metric]) -> UnitResult:
    """Simulate one run and keep only its metric rows (all priorities together): what an uncertainty
    study needs from each of its many configurations."""
    incidents = simulate_one(scenario, keys[2], seed).logs.incidents
    return UnitResult(keys, _run_rows(keys, incidents, metrics, by_priority=False), pd.DataFrame(), pd.DataFrame(),
                      None, pd.DataFrame(), pd.DataFrame())

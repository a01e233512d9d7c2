"""The neutral comparison of two scenarios, A and B: per metric and per group of incidents (all, each
priority class, each incident's district), the mean minutes of A and of B over paired replications and the
change of B against A in percent with its paired delta-method interval (`stats.py`: minus a reduction).

The claim's language (claimed reduction, verdict) is added only on request (`claimed`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from citysim.config.experiment import Metric
from citysim.analysis.stats import paired_reduction, verdict
from citysim.simulation.kpis import police_cases

A, B = "A", "B"
#: The groups of incidents, in table order: all of them, by priority class, by the incident's district.
GROUP_KINDS = {"all": None, "priority": "priority", "district": "district"}
GROUP_ROW_COLUMNS = ["config", "replication", "metric", "group_kind", "group", "value_min", "incidents"]
COMPARISON_COLUMNS = ["metric", "group_kind", "group", "a_mean_min", "b_mean_min", "change_pct", "ci_low_pct",
                      "ci_high_pct", "pairs", "a_incidents", "b_incidents"]
CLAIM_COLUMNS = ["claimed_pct", "verdict"]


def group_rows(incidents: pd.DataFrame, metrics: list[Metric]) -> list[tuple[str, str, str, float, int]]:
    """(metric, group kind, group, mean minutes, incidents) of one run, over its police cases (incidents
    sent a unit, reported after the warm-up) that have both of the metric's times."""
    cases = police_cases(incidents)
    rows: list[tuple[str, str, str, float, int]] = []
    for metric in metrics:
        values = (cases[metric.end] - cases[metric.start]).dropna()
        for kind, column in GROUP_KINDS.items():
            if column is None:
                rows.append((metric.name, kind, "all", float(values.mean()) if len(values) else math.nan,
                             int(values.size)))
                continue
            groups = cases.loc[values.index, column].astype(str)
            for group, part in values.groupby(groups, sort=False):
                rows.append((metric.name, kind, str(group), float(part.mean()), int(part.size)))
    return rows


def _group_order(keys: pd.DataFrame) -> pd.DataFrame:
    """The groups in table order: metric as given, group kinds as in GROUP_KINDS, priority classes by
    number, districts by name."""
    kinds = list(GROUP_KINDS)
    metrics = list(dict.fromkeys(keys["metric"]))
    order = keys.assign(
        _metric=keys["metric"].map(metrics.index), _kind=keys["group_kind"].map(kinds.index),
        _number=pd.to_numeric(keys["group"].where(keys["group_kind"] == "priority"), errors="coerce"))
    return order.sort_values(["_metric", "_kind", "_number", "group"], kind="stable")[["metric", "group_kind", "group"]]


def comparison_table(runs: pd.DataFrame, confidence: float, claimed: dict[str, float] | None = None
                     ) -> pd.DataFrame:
    """One row per metric and group (from GROUP_ROW_COLUMNS rows): A's and B's means over the replications
    where both have cases of the group, the change of B against A with its interval, the pairs used and the
    incidents counted (over all replications). With `claimed` (metric -> claimed reduction, %), also the
    claimed reduction and the claim check's verdict on the reduction (minus the change)."""
    values = runs.set_index(["metric", "group_kind", "group", "replication", "config"])["value_min"].unstack("config")
    counts = runs.groupby(["metric", "group_kind", "group", "config"])["incidents"].sum()
    rows = []
    for metric, kind, group in _group_order(runs[["metric", "group_kind", "group"]].drop_duplicates()) \
            .itertuples(index=False):
        paired = values.loc[(metric, kind, group)].reindex(columns=[A, B])
        reduction = paired_reduction(paired[A].to_numpy(dtype=np.float64), paired[B].to_numpy(dtype=np.float64),
                                     confidence)
        change = reduction.as_change()
        row = [metric, kind, group, change.a_mean, change.b_mean, change.change_pct, change.ci_low_pct,
               change.ci_high_pct, change.n, int(counts.get((metric, kind, group, A), 0)),
               int(counts.get((metric, kind, group, B), 0))]
        if claimed is not None:
            row += [claimed[metric], verdict(reduction, claimed[metric])]
        rows.append(row)
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS + (CLAIM_COLUMNS if claimed is not None else []))

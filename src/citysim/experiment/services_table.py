"""services.csv: each situation's traffic-service metrics, baseline against smart, paired by replication.

The reduction and its interval are the claims' (`paired_reduction`: 1 - mean(smart) / mean(baseline), a
delta-method interval over the paired replications), so a service metric and a police claim are read
the same way. Every metric is lower-is-better: a negative reduction is a worsening.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from citysim.analysis.stats import paired_reduction
from citysim.simulation.services import SERVICE_METRICS

SERVICES_COLUMNS = ["situation", "service", "metric", "baseline", "smart", "reduction_pct", "ci_low_pct",
                    "ci_high_pct"]
BASELINE, SMART = "baseline", "smart"


def services_table(service_runs: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """One row per situation and metric (in `SERVICE_METRICS` order) from service_runs.csv's rows."""
    rows = []
    order = {metric: index for index, metric in enumerate(SERVICE_METRICS)}
    for situation in dict.fromkeys(service_runs["situation"]):
        of_situation = service_runs[service_runs["situation"] == situation]
        for metric in sorted(dict.fromkeys(of_situation["metric"]), key=lambda m: order.get(m, len(order))):
            table = of_situation[of_situation["metric"] == metric].pivot(
                index="replication", columns="config", values="value")
            if BASELINE not in table or SMART not in table:
                continue
            reduction = paired_reduction(table[BASELINE].to_numpy(dtype=np.float64),
                                         table[SMART].to_numpy(dtype=np.float64), confidence)
            service = of_situation.loc[of_situation["metric"] == metric, "service"].iloc[0]
            rows.append((situation, service, metric, reduction.baseline_mean, reduction.smart_mean,
                         reduction.reduction_pct, reduction.ci_low_pct, reduction.ci_high_pct))
    return pd.DataFrame(rows, columns=SERVICES_COLUMNS)

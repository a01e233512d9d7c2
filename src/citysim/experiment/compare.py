"""`citysim compare`: two scenario files, paired replications, the default claimed metrics."""

from __future__ import annotations

import pandas as pd

from citysim.config import Scenario
from citysim.config.experiment import Metric
from citysim.experiment.claim_check import BASELINE, SMART, claims_table
from citysim.experiment.runs import RUN_COLUMNS, metric_rows
from citysim.simulation.model import simulate_one

#: The claim's metrics as DESIGN.md defines them by default.
CONFIDENCE = 0.95
DEFAULT_METRICS = [
    Metric(name="arrival", start="t_call", end="t_arrive", claimed_reduction_pct=20.0),
    Metric(name="handling", start="t_arrive", end="t_clear", claimed_reduction_pct=35.0),
    Metric(name="handling_call_to_clear", start="t_call", end="t_clear", claimed_reduction_pct=35.0),
]


def compare_scenarios(baseline: Scenario, smart: Scenario, replications: int, seed: int) -> pd.DataFrame:
    """The claims table of `smart` against `baseline` over paired replications 0..n-1."""
    rows = []
    for replication in range(replications):
        for config, scenario in ((BASELINE, baseline), (SMART, smart)):
            incidents = simulate_one(scenario, replication, seed).logs.incidents
            rows += [("comparison", config, replication, *row)
                     for row in metric_rows(incidents, DEFAULT_METRICS, by_priority=True)]
    return claims_table(pd.DataFrame(rows, columns=RUN_COLUMNS), DEFAULT_METRICS, CONFIDENCE)

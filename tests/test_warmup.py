"""The Shanghai baseline's 2 h warm-up is long enough: a 6 h warm-up gives the same day's KPIs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from citysim import load_scenario, simulate

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "shanghai" / "baseline.yaml"
REPLICATIONS = 3
Z = 4.0  # a false alarm needs a 4-standard-error deviation


@pytest.mark.slow
def test_longer_warmup_does_not_change_day_kpis() -> None:
    """Arrival time, handling time and utilisation agree within 4 SE between 2 h and 6 h warm-ups."""
    short = load_scenario(BASELINE)
    assert short.run.warmup_min == 120
    # The drain after the window does not bear on the warm-up; without it both runs are 4 h shorter.
    short = short.model_copy(update={"run": short.run.model_copy(update={"drain_min": 0.0})})
    run = short.run.model_copy(update={"start_clock_h": 18, "duration_min": 1440 + 360, "warmup_min": 360})
    long = short.model_copy(update={"run": run})
    summaries = [simulate(s, replications=REPLICATIONS).summary for s in (short, long)]
    for kpi in ("arrival_min_mean", "handling_min_mean", "unit_utilisation"):
        rows = [s[(s["kpi"] == kpi) & (s["priority"] == "all")].iloc[0] for s in summaries]
        difference = rows[0]["mean"] - rows[1]["mean"]
        standard_error = math.sqrt(sum(r["std"] ** 2 / r["n"] for r in rows))
        assert abs(difference) <= Z * standard_error, (kpi, difference, standard_error)

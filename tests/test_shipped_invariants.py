"""Invariants on every scenario file shipped (Shanghai situations, smart, verification cases)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citysim import load_scenario
from citysim.simulation.model import simulate_one
from test_invariants import check_invariants

SHIPPED = sorted(p for p in (Path(__file__).resolve().parents[1] / "scenarios").rglob("*.yaml")
                 if p.name != "priors.yaml")  # priors files hold distributions, not scenarios


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_scenario_invariants(path: Path) -> None:
    """Ordered timestamps, no unit on two jobs, one resolution each, counts conserved, physical speeds."""
    scenario = load_scenario(path)
    if scenario.run.duration_min > 3 * 1440:  # long verification runs: one day is enough for invariants
        scenario = scenario.model_copy(update={"run": scenario.run.model_copy(update={"duration_min": 1440.0,
                                                                                       "warmup_min": 120.0})})
    elif scenario.operations is not None:  # the Shanghai files: 12 h and a 1 h drain keep the suite short
        scenario = scenario.model_copy(update={"run": scenario.run.model_copy(update={"duration_min": 720.0,
                                                                                       "drain_min": 60.0})})
    result = simulate_one(scenario, 0)
    check_invariants(result.logs, result.scenario)
    incidents = result.logs.incidents
    assert len(incidents) == (incidents["resolution"].isin(["dispatched", "phone", "diverted", "open"])).sum()
    traffic = result.logs.traffic
    if len(traffic):
        free_flow = scenario.network.classes.expressway.free_flow_kmh * (1 + 1e-9)  # no road beats the expressway
        for column in ("expressway_kmh", "arterial_kmh"):
            assert ((traffic[column] > 0) & (traffic[column] <= free_flow)).all(), column
        assert (traffic["travel_time_index"] >= 1.0 - 1e-12).all()
        crashes = result.logs.crashes
        assert (crashes["t_block_end"] >= crashes["t_occur"]).all()
        assert np.isfinite(crashes["delay_vehicle_h"]).all()

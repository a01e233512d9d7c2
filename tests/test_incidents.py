"""Incident management: crash queues bounded by their storage, with diversion; the exact delay integral; the
traffic-service KPIs (simulation/traffic_services.py); and the two incident levers on those KPIs.

Model-level checks run conftest's small scenario on the tiny road network with crashes (test_levers' city
blocks); its runs take a tenth of a second, so the lever checks sum over a dozen replications.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from citysim.city.context import city_context
from citysim.city.geography import DistrictGrid
from citysim.city.traffic import Blockage, TrafficState
from citysim.config import Scenario
from citysim.simulation.kpis import METRIC_COLUMNS
from citysim.simulation.model import RunResult, simulate_one
from citysim.simulation.traffic_services import incident_kpis, network_delays, traffic_kpis
from conftest import SMALL_SCENARIO_YAML
from test_levers import CRASH_CATEGORY, CRASHES, TINY_BLOCKS, lever, scenario_of

# A hand-sized blockage: c = 3,600 veh/h (60 a minute), half left (30 a minute), q = 3,240 veh/h (54 a minute):
# the queue grows by 24 a minute and dissolves at 6 a minute; 240 vehicles fill it in 10 minutes.
C, CF, Q, STORAGE, DETOUR = 3600.0, 0.5, 3240.0, 240.0, 12.0


def capped(end: float = 25.0, storage: float = STORAGE) -> Blockage:
    return Blockage(arc=0, start=0.0, capacity_factor=CF, inflow=Q, capacity=C, storage=storage, detour_min=DETOUR,
                    end=end)


# --------------------------------------------------------------------------- the queue, by hand


def test_full_queue_stays_at_storage_then_dissolves():
    """The queue grows 24/min to the 240 it can hold at 10 min, stays there until the end (25), then falls 6/min."""
    b = capped()
    assert b.queue(5.0) == pytest.approx(120.0)
    assert b.queue(10.0) == pytest.approx(240.0)
    assert b.queue(20.0) == 240.0 and b.queue(25.0) == 240.0
    assert b.queue(45.0) == pytest.approx(120.0)
    assert b.queue(65.0) == 0.0 and b.queue(100.0) == 0.0
    assert b.delay_min(20.0) == pytest.approx(240.0 / 30.0)  # a police car meets Q / c_r while blocked
    assert b.delay_min(45.0) == pytest.approx(120.0 / 60.0)  # and Q / c after


def test_full_queue_summary_by_hand():
    """D = 25, full from 10 on: 24 x 15 = 360 diverted; queue area 1/2 240 x 10 + 240 x 15 + 1/2 240 x 40 =
    9,600 veh-min = 160 veh-h; detours 360 x 12 min = 72 veh-h; total 232."""
    cost = capped().summary()
    assert cost.blockage_min == 25.0
    assert cost.dissolve_min == pytest.approx(40.0)
    assert cost.peak_queue_veh == pytest.approx(240.0)
    assert cost.diverted_veh == pytest.approx(360.0)
    assert cost.queue_vehicle_h == pytest.approx(160.0)
    assert cost.detour_vehicle_h == pytest.approx(72.0)
    assert cost.delay_vehicle_h == pytest.approx(232.0)


def test_queue_below_storage_is_the_triangle():
    """A 5-minute blockage (peak 120 < 240) diverts nobody: its delay is the unbounded queue's triangle."""
    short, unbounded = capped(end=5.0).summary(), capped(end=5.0, storage=np.inf).summary()
    assert short == unbounded
    assert short.diverted_veh == 0.0 and short.detour_vehicle_h == 0.0
    assert short.queue_vehicle_h == pytest.approx(0.5 * 120.0 * (5.0 + 20.0) / 60.0)


@pytest.mark.parametrize(("end", "storage", "factor"), [(3.0, 50.0, 0.49), (40.0, 50.0, 0.49), (90.0, 800.0, 0.17),
                                                         (12.0, np.inf, 0.49), (30.0, 10.0, 0.95)])
def test_summary_is_the_integral_of_the_queue(end, storage, factor):
    """The closed-form queue vehicle-hours equal a fine numerical integral of queue(t), full or not."""
    b = Blockage(arc=0, start=0.0, capacity_factor=factor, inflow=Q, capacity=C, storage=storage, detour_min=DETOUR,
                 end=end)
    cost = b.summary()
    t = np.linspace(0.0, end + cost.dissolve_min + 1.0, 400_001)
    queue = np.array([b.queue(x) for x in t])
    numeric = float(((queue[1:] + queue[:-1]) / 2 * np.diff(t)).sum()) / 60.0
    assert cost.queue_vehicle_h == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    assert cost.peak_queue_veh <= storage
    growth = max(0.0, Q - factor * C) / 60.0
    assert cost.diverted_veh == pytest.approx(max(0.0, growth * end - storage))  # arrivals that found no room


def test_storage_never_raises_delay():
    """Less storage means less queue delay, and less delay in all while the detour (12 min) is shorter than the
    full queue's wait S / c_r (S >= 360 here): a 60-minute blockage whose unbounded queue reaches 1,440."""
    costs = [capped(end=60.0, storage=s).summary() for s in (np.inf, 1000.0, 600.0, 400.0)]
    queue = [c.queue_vehicle_h for c in costs]
    assert all(a > b for a, b in itertools.pairwise(queue))
    total = [c.delay_vehicle_h for c in costs]
    assert all(a > b for a, b in itertools.pairwise(total))


def test_refresh_logs_recurrent_delay_rate(tiny_city: Scenario):
    """The traffic log's recurrent delay rate is sum(volume x (BPR - free-flow minutes)) / 60 at the refresh."""
    profile = city_context(tiny_city, DistrictGrid.from_scenario(tiny_city)).profile
    state = TrafficState(profile)
    state.refresh(0.0, 8.5)
    state.refresh(15.0, 3.0)
    network = profile.network
    for row, clock in zip(state.log, (8.5, 3.0), strict=True):
        volume = profile.demand_ratio(clock) * network.arc_capacity
        expected = float((volume * (profile.arc_minutes(clock) - network.arc_free_flow_min)).sum()) / 60.0
        assert row[-1] == pytest.approx(expected)
    assert state.log[0][-1] > 10 * state.log[1][-1] > 0  # the morning peak against 03:00


# --------------------------------------------------------------------------- KPIs of a run


def city_data(data: dict[str, Any]) -> dict[str, Any]:
    """The small scenario on the tiny road network with about 150 crashes a day (test_levers' city blocks)."""
    data["districts"][0]["units"], data["districts"][1]["units"] = 10, 8
    data.update(copy.deepcopy(TINY_BLOCKS))
    data["demand"]["categories"]["crash"] = copy.deepcopy(CRASH_CATEGORY)
    data["crashes"] = copy.deepcopy(CRASHES)
    return data


@pytest.fixture
def tiny_city(small_scenario_data: dict[str, Any]) -> Scenario:
    return Scenario.model_validate(city_data(small_scenario_data))


def _values(frame: pd.DataFrame) -> dict[str, float]:
    assert list(frame.columns) == METRIC_COLUMNS and frame["metric"].is_unique
    return dict(zip(frame["metric"], frame["value"].astype(float), strict=True))


def test_kpis_of_a_small_city_day(tiny_city: Scenario):
    """The KPIs are the logs' figures over the KPI window: delays per day, the share, detection and blockage."""
    result = simulate_one(tiny_city, 0)
    run, logs = tiny_city.run, result.logs
    days = (run.duration_min - run.warmup_min) / 1440.0
    traffic, incidents = _values(traffic_kpis(result)), _values(incident_kpis(result))
    assert set(traffic) == {"peak_travel_time_index", "arterial_peak_min_per_km", "recurrent_delay_vehicle_h_per_day"}
    assert set(incidents) == {"crash_delay_vehicle_h_per_day", "incident_delay_share", "detection_min",
                              "detection_to_clearance_min", "crash_blockage_min"}
    crashes = logs.crashes[(logs.crashes["t_occur"] >= run.warmup_min) & (logs.crashes["t_occur"] < run.duration_min)]
    assert len(crashes) < len(logs.crashes)  # the warm-up's crashes are left out
    assert incidents["crash_delay_vehicle_h_per_day"] == pytest.approx(crashes["delay_vehicle_h"].sum() / days)
    rows = logs.traffic[(logs.traffic["t_min"] >= run.warmup_min) & (logs.traffic["t_min"] < run.duration_min)]
    recurrent = rows["recurrent_delay_veh_h_per_h"].sum() * 15.0 / 60.0 / days
    assert traffic["recurrent_delay_vehicle_h_per_day"] == pytest.approx(recurrent)
    assert network_delays(logs, tiny_city) == pytest.approx((recurrent, incidents["crash_delay_vehicle_h_per_day"]))
    crash = incidents["crash_delay_vehicle_h_per_day"]
    assert incidents["incident_delay_share"] == pytest.approx(crash / (crash + recurrent))
    detected = crashes[crashes["t_detect"].notna()]
    assert incidents["detection_min"] == pytest.approx((detected["t_detect"] - detected["t_occur"]).mean())
    assert incidents["crash_blockage_min"] == pytest.approx(crashes["blockage_min"].mean())
    assert 0 <= incidents["detection_to_clearance_min"] <= incidents["crash_blockage_min"]
    # 07-09 and 17-19 of a 06:00-16:00 run: the morning peak only, slower than the run's mean.
    peak = rows[(rows["clock_h"] >= 7) & (rows["clock_h"] < 9)]
    assert traffic["peak_travel_time_index"] == pytest.approx(peak["travel_time_index"].mean())
    assert traffic["peak_travel_time_index"] > rows["travel_time_index"].mean()


def test_kpis_empty_without_network_or_crashes(small_scenario_data: dict[str, Any]):
    """Straight-line travel: both tables empty; a road network without crashes: traffic KPIs only."""
    plain = simulate_one(Scenario.model_validate(small_scenario_data), 0)
    for frame in (traffic_kpis(plain), incident_kpis(plain)):
        assert frame.empty and list(frame.columns) == METRIC_COLUMNS
    small_scenario_data.update(copy.deepcopy(TINY_BLOCKS))
    roads = simulate_one(Scenario.model_validate(small_scenario_data), 0)
    assert len(traffic_kpis(roads)) == 3 and incident_kpis(roads).empty


# --------------------------------------------------------------------------- the incident levers

REPLICATIONS = range(12)


def _runs(data: dict[str, Any], levers: dict[str, Any] | None) -> list[RunResult]:
    return [simulate_one(scenario_of(data, levers), rep) for rep in REPLICATIONS]


def _metric(runs: list[RunResult], name: str) -> np.ndarray:
    return np.array([_values(incident_kpis(r))[name] for r in runs])


@pytest.fixture(scope="module")
def lever_runs() -> dict[str, Any]:
    """Twelve replications of the tiny city without levers, with video_detection at 1, fast_crash_handling at 0.4."""
    data = city_data(yaml.safe_load(SMALL_SCENARIO_YAML))
    return {"data": data, "base": _runs(data, None), "video": _runs(data, lever("video_detection", 1.0)),
            "fast": _runs(data, lever("fast_crash_handling", 0.4))}


def test_video_detection_detects_sooner_and_cuts_crash_delay(lever_runs):
    """Video detection at 1 cuts detection (occurrence to report) in every replication to about the 1 min
    detection time, and the crash delay summed over the replications (police clear injury crashes sooner).
    One replication's delay is noisy: the earlier crash calls also move the police elsewhere."""
    base, video = (_metric(lever_runs[k], "detection_min") for k in ("base", "video"))
    assert (video < base - 1.0).all() and (video <= 1.0).all(), (video, base)
    delay = [_metric(lever_runs[k], "crash_delay_vehicle_h_per_day").sum() for k in ("base", "video")]
    assert delay[1] < 0.97 * delay[0], delay


def test_fast_crash_handling_shortens_blockages_and_cuts_crash_delay(lever_runs):
    """Drivers clearing minor crashes 40 % sooner shorten the mean blockage in every replication and cut the
    crash delay summed over the replications; detection is untouched."""
    base, fast = (_metric(lever_runs[k], "crash_blockage_min") for k in ("base", "fast"))
    assert (fast < base).all(), (fast, base)
    np.testing.assert_array_equal(_metric(lever_runs["fast"], "detection_min"), _metric(lever_runs["base"],
                                                                                        "detection_min"))
    delay = [_metric(lever_runs[k], "crash_delay_vehicle_h_per_day").sum() for k in ("base", "fast")]
    assert delay[1] < 0.98 * delay[0], delay


def _police_hash(result: RunResult) -> str:
    logs = result.logs
    text = logs.incidents.to_csv(index=False) + logs.units.to_csv(index=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("name", ["video_detection", "fast_crash_handling"])
def test_incident_levers_at_zero_leave_police_logs_and_kpis(name, lever_runs):
    """At strength 0 each incident lever leaves the incident and unit logs (hashed) and the KPIs as without it."""
    data = lever_runs["data"]
    for rep in (0, 1):
        off, zero = lever_runs["base"][rep], simulate_one(scenario_of(data, lever(name, 0.0)), rep)
        assert _police_hash(zero) == _police_hash(off)
        pd.testing.assert_frame_equal(incident_kpis(zero), incident_kpis(off), check_exact=True)
        pd.testing.assert_frame_equal(traffic_kpis(zero), traffic_kpis(off), check_exact=True)

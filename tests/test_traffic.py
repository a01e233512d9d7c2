"""Traffic: BPR link times, hourly profiles, crash blockages and their queues, and the traffic layer in a run.

Unit-level checks use the tiny network (tests/data/tiny_network.yaml); model-level checks use one
replication of the Shanghai baseline (plus a repeat and a routing variant), run once per module.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from citysim.city.context import city_context
from citysim.city.geography import DistrictGrid
from citysim.city.loading import load_scenario
from citysim.city.network import ARTERIAL, EXPRESSWAY, build_network
from citysim.city.routing import Router
from citysim.city.traffic import Blockage, TrafficProfile, TrafficState, bpr_minutes
from citysim.clock import hourly_segments
from citysim.config import Scenario
from citysim.simulation.model import RunResult, simulate_one
from citysim.simulation.traffic_services import incident_kpis, traffic_kpis

DATA = Path(__file__).parent / "data"
TINY_BLOCKS: dict[str, Any] = yaml.safe_load((DATA / "tiny_network.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def tiny_profile(small_scenario_data: dict[str, Any]) -> TrafficProfile:
    """The tiny network's traffic profile (cars cruising for parking on North's streets)."""
    small_scenario_data.update(copy.deepcopy(TINY_BLOCKS))
    scenario = Scenario.model_validate(small_scenario_data)
    assert scenario.network is not None and scenario.traffic is not None
    grid = DistrictGrid.from_scenario(scenario)
    network = build_network(scenario.network, grid)
    return TrafficProfile(network, scenario.network.classes, scenario.traffic, parking_districts=[0])


# --------------------------------------------------------------------------- BPR and the hourly profile


def test_bpr_at_capacity_is_1_15_free_flow():
    """BPR with alpha 0.15, beta 4 at v/c = 1 gives exactly 1.15 x the free-flow time (and t0 at v/c = 0)."""
    t0 = np.array([0.5, 2.0, 7.25, 30.0])
    assert (bpr_minutes(t0, np.ones(4), 0.15, 4) == t0 * 1.15).all()
    assert (bpr_minutes(t0, np.zeros(4), 0.15, 4) == t0).all()
    assert bpr_minutes(np.array([2.0]), np.array([2.0]), 0.15, 4)[0] == pytest.approx(2.0 * (1 + 0.15 * 16))


def test_bpr_monotone_in_volume_capacity():
    """BPR link time strictly increases with v/c (beta > 0) and is never below free flow."""
    ratio = np.linspace(0.0, 3.0, 301)
    minutes = bpr_minutes(np.full(ratio.size, 4.0), ratio, 0.15, 4)
    assert (np.diff(minutes) > 0).all()
    assert (minutes >= 4.0).all()


def test_demand_ratio_interpolates_between_hour_midpoints(tiny_profile):
    """v/c is the hour's ratio at its midpoint, the mean of two hours on the hour, wraps at midnight, and is
    x (1 + cruising share) on North's arterials (only there)."""
    network = tiny_profile.network
    parking = tiny_profile.volume_factor(8.5) > 1.0
    np.testing.assert_array_equal(parking, (network.arc_class == ARTERIAL) & (network.arc_district == 0))
    share = tiny_profile.cruising.share[0, 8]
    assert 0.01 < share < 0.5
    np.testing.assert_allclose(tiny_profile.volume_factor(8.5)[parking], 1 + share)
    arterial = (network.arc_class == ARTERIAL) & ~parking
    expressway = network.arc_class == EXPRESSWAY
    at = tiny_profile.demand_ratio
    np.testing.assert_allclose(at(8.5)[arterial], 1.5)  # hour 8
    np.testing.assert_allclose(at(8.5)[expressway], 1.6)
    np.testing.assert_allclose(at(8.0)[arterial], (1.4 + 1.5) / 2)  # between hours 7 and 8
    np.testing.assert_allclose(at(0.25)[arterial], 0.25 * 0.4 + 0.75 * 0.3)  # 3/4 from 23:30 to 00:30
    np.testing.assert_allclose(at(8.5)[parking], 1.5 * (1 + share))


def test_peak_hour_arcs_slower_than_3am(tiny_profile):
    """Every arc takes longer at 08:30 than at 03:00; local streets slow by the arterials' BPR factor, with
    the cruising share in North."""
    peak, night = tiny_profile.arc_minutes(8.5), tiny_profile.arc_minutes(3.0)
    assert (peak > night).all()
    assert (night >= tiny_profile.network.arc_free_flow_min).all()
    north, south = (int(np.flatnonzero(tiny_profile.network.node_district == d)[0]) for d in (0, 1))
    share = tiny_profile.cruising.share[0, 8]
    assert tiny_profile.local_time_factor(8.5, south) == pytest.approx(1 + 0.15 * 1.5**4)
    assert tiny_profile.local_time_factor(8.5, north) == pytest.approx(1 + 0.15 * (1.5 * (1 + share))**4)
    assert tiny_profile.local_time_factor(8.5, south) > tiny_profile.local_time_factor(3.0, south) >= 1.0


# --------------------------------------------------------------------------- blockages

#: One lane of three blocked (capacity left 0.49) on a 2-lane expressway arc fed at 0.9 c, 100-110 min.
C, CF, Q = 3600.0, 0.49, 0.9 * 3600.0
GROWTH = (Q - C * CF) / 60.0  # veh/min while blocked
SPARE = (C - Q) / 60.0  # veh/min discharged after


def blockage(end: float = 110.0) -> Blockage:
    return Blockage(arc=0, start=100.0, capacity_factor=CF, inflow=Q, capacity=C, end=end)


def test_blockage_queue_grows_then_dissolves_linearly():
    """The queue grows at q - c_r while blocked and shrinks at c - q afterwards, to zero and no further."""
    b = blockage()
    for t in (100.0, 101.0, 104.5, 110.0):
        assert b.queue(t) == pytest.approx(GROWTH * (t - 100.0))
    peak = GROWTH * 10.0
    dissolve = peak / SPARE
    for t in (111.0, 120.0, 110.0 + dissolve / 2):
        assert b.queue(t) == pytest.approx(peak - SPARE * (t - 110.0))
    assert b.queue(110.0 + dissolve / 2) == pytest.approx(peak / 2)
    assert b.queue(110.0 + dissolve + 1e-6) == 0.0
    assert b.queue(500.0) == 0.0


def test_blockage_delay_for_arriving_vehicle():
    """A vehicle arriving mid-blockage waits Q / c_r > 0, after it Q / c, and nothing once the queue is gone."""
    b = blockage()
    assert b.delay_min(105.0) == pytest.approx(GROWTH * 5.0 / (C * CF / 60.0))
    assert b.delay_min(105.0) > 0
    assert b.delay_min(120.0) == pytest.approx((GROWTH * 10.0 - SPARE * 10.0) / (C / 60.0))
    assert b.delay_min(110.0 + GROWTH * 10.0 / SPARE + 0.01) == 0.0


def test_blockage_summary_is_queue_triangle():
    """summary() gives D, T = Q/(c - q) and total delay 1/2 Q (D + T) / 60 vehicle-hours."""
    duration, dissolve, _peak, _diverted, delay, _detour = blockage().summary()
    peak = GROWTH * 10.0
    assert duration == 10.0
    assert dissolve == pytest.approx(peak / SPARE)
    assert delay == pytest.approx(0.5 * peak * (10.0 + peak / SPARE) / 60.0)


@pytest.mark.parametrize("minutes", [1.0, 10.0, 37.0])
def test_one_minute_blockage_four_to_five_minutes_congestion(minutes):
    """With q = 0.9 c and capacity left 0.49, (D + T) / D = 1 + 0.41 / 0.1 = 5.1, whatever D."""
    duration, dissolve, *_rest = blockage(end=100.0 + minutes).summary()
    assert (duration + dissolve) / duration == pytest.approx(5.1)


def test_no_queue_when_inflow_fits_reduced_capacity():
    """Traffic below the capacity left by the crash queues nowhere: no delay, T = 0, zero vehicle-hours."""
    b = Blockage(arc=0, start=0.0, capacity_factor=0.6, inflow=0.5 * C, capacity=C, end=30.0)
    assert b.queue(15.0) == 0.0 and b.delay_min(15.0) == 0.0
    assert b.summary() == (30.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def test_route_minutes_through_blocked_arc(tiny_profile):
    """route_minutes through a blocked arc exceeds its BPR time while the queue stands and returns to it after."""
    network = tiny_profile.network
    state = TrafficState(tiny_profile)
    state.refresh(0.0, 8.5)
    router = Router(network, state.arc_minutes)
    origin = int(np.argmin(np.hypot(network.node_x + 4.0, network.node_y)))
    destination = int(np.argmin(np.hypot(network.node_x - 4.0, network.node_y)))
    route = router.route(origin, destination)
    assert route.size >= 2
    base = state.route_minutes(route, 0.0)
    assert base == pytest.approx(float(state.arc_minutes[route].sum()))
    arc = int(route[1])
    capacity = float(network.arc_capacity[arc])
    inflow = min(float(tiny_profile.demand_ratio(8.5)[arc]) * capacity, 0.9 * capacity)
    crash = Blockage(arc, 0.0, 0.49, inflow, capacity)
    state.block(crash)
    elsewhere = router.route(destination, origin)
    assert arc not in elsewhere.tolist()
    assert state.route_minutes(elsewhere, 10.0) == pytest.approx(float(state.arc_minutes[elsewhere].sum()))
    during = state.route_minutes(route, 10.0)
    assert during == pytest.approx(base + crash.delay_min(10.0)) and during > base
    state.unblock(crash, 20.0)
    assert crash.end == 20.0
    dissolve = crash.summary().dissolve_min
    assert dissolve > 0
    assert state.route_minutes(route, 20.0 + dissolve / 2) > base
    after = 20.0 + dissolve + 0.5
    assert state.route_minutes(route, after) == pytest.approx(base)
    state.refresh(after, 8.5)
    assert not state.blocked, "a dissolved blockage is forgotten at the next refresh"


# --------------------------------------------------------------------------- Shanghai: calibration and a run


@pytest.fixture(scope="module")
def shanghai(shanghai_path: Path) -> dict[str, Any]:
    """Shanghai baseline replication 0 twice, and once with routing 'current' (validated from data); without
    the drain after the day, which no traffic check needs (it keeps the suite shorter)."""
    scenario = load_scenario(shanghai_path)
    scenario = scenario.model_copy(update={"run": scenario.run.model_copy(update={"drain_min": 0.0})})
    data = scenario.model_dump(mode="json")
    data["travel"]["routing"] = "current"
    current = Scenario.model_validate(data)
    return {"scenario": scenario, "run": simulate_one(scenario, 0), "again": simulate_one(scenario, 0),
            "current": simulate_one(current, 0)}


def _profile(scenario: Scenario) -> TrafficProfile:
    return city_context(scenario, DistrictGrid.from_scenario(scenario)).profile


def test_shanghai_am_peak_calibration(shanghai_path):
    """07:00-09:00 expressway speed is 40.7 km/h +- 15 % and the peak-hour travel time index 1.9-2.2 (calibration)."""
    profile = _profile(load_scenario(shanghai_path))
    network = profile.network
    expressway = network.arc_class == EXPRESSWAY
    speeds, indices = [], []
    for clock in np.arange(7.0, 9.0, 0.25):  # the traffic refreshes of the am peak, as the KPI averages them
        minutes = profile.arc_minutes(clock)
        speeds.append(network.arc_km[expressway].sum() / (minutes[expressway].sum() / 60.0))
        volume = profile.demand_ratio(clock) * network.arc_capacity
        indices.append((volume * minutes).sum() / (volume * network.arc_free_flow_min).sum())
    assert 40.7 * 0.85 <= np.mean(speeds) <= 40.7 * 1.15, np.mean(speeds)
    hourly_index = max(np.mean(indices[:4]), np.mean(indices[4:]))
    assert 1.9 <= hourly_index <= 2.2, hourly_index
    night = profile.arc_minutes(3.0)
    assert network.arc_km[expressway].sum() / (night[expressway].sum() / 60.0) > 75.0


def test_traffic_log_matches_profile(shanghai):
    """The traffic log has a row per refresh, and its 08:30 speed and index are the profile's."""
    scenario, traffic = shanghai["scenario"], shanghai["run"].logs.traffic
    refresh = scenario.traffic.refresh_min
    assert len(traffic) == math.ceil(scenario.run.horizon_min / refresh)
    np.testing.assert_allclose(traffic["t_min"], np.arange(len(traffic)) * refresh)
    np.testing.assert_allclose(traffic["clock_h"], (scenario.run.start_clock_h + traffic["t_min"] / 60.0) % 24)
    profile = _profile(scenario)
    network = profile.network
    row = traffic[np.isclose(traffic["clock_h"], 8.5)].iloc[0]
    minutes = profile.arc_minutes(8.5)
    expressway = network.arc_class == EXPRESSWAY
    assert row["expressway_kmh"] == pytest.approx(network.arc_km[expressway].sum() / minutes[expressway].sum() * 60)
    volume = profile.demand_ratio(8.5) * network.arc_capacity
    index = (volume * minutes).sum() / (volume * network.arc_free_flow_min).sum()
    assert row["travel_time_index"] == pytest.approx(index)


def test_traffic_log_within_physical_bounds(shanghai):
    """Logged speeds lie in (0, free-flow speed], the travel time index is >= 1, blockage counts are >= 0."""
    traffic = shanghai["run"].logs.traffic
    assert ((traffic["expressway_kmh"] > 0) & (traffic["expressway_kmh"] <= 80.0 * (1 + 1e-12))).all()
    assert ((traffic["arterial_kmh"] > 0) & (traffic["arterial_kmh"] <= 40.0 * (1 + 1e-12))).all()
    assert (traffic["travel_time_index"] >= 1.0 - 1e-12).all()
    assert (traffic["blockages"] >= 0).all() and traffic["blockages"].max() > 0


def test_shanghai_peak_driving_slower_than_night(shanghai):
    """Police trips dispatched at 07:30-09:30 drive fewer km per minute than at 01:00-05:00 (the BPR
    congestion of the arterials and local streets). Mean arrival itself need not differ: fewer units are
    on duty at night, so night trips are longer."""
    scenario, units = shanghai["scenario"], shanghai["run"].logs.units
    clock = (scenario.run.start_clock_h + units["t_dispatch"] / 60.0) % 24.0
    pace = units["travel_min"] / units["travel_km"]
    peak = pace[(clock >= 7.5) & (clock < 9.5) & (units["travel_km"] > 0)].dropna()
    night = pace[(clock >= 1.0) & (clock < 5.0) & (units["travel_km"] > 0)].dropna()
    assert len(peak) > 300 and len(night) > 300
    assert peak.median() > 1.3 * night.median(), (peak.median(), night.median())

def test_crash_count_is_poisson_around_the_daily_rate(shanghai):
    """The run has about crashes_per_day x days crashes: within 4 sd of the exposure-weighted Poisson mean."""
    scenario, crashes = shanghai["scenario"], shanghai["run"].logs.crashes
    per_day, run = scenario.crashes.crashes_per_day, scenario.run
    flat = per_day * run.duration_min / 1440.0  # the KPI window (the drain's night hours have little traffic)
    in_window = int((crashes["t_occur"] < run.duration_min).sum())
    assert abs(in_window - flat) < 0.1 * flat
    profile = _profile(scenario)
    daily = np.array([profile.vehicle_km_per_hour(h + 0.5).sum() for h in range(24)])
    mean = sum(per_day / 1440.0 * daily[h] / daily.mean() * (end - start)
               for start, end, h in hourly_segments(run.start_clock_h, run.horizon_min))
    assert abs(len(crashes) - mean) < 4 * math.sqrt(mean), (len(crashes), mean)
    assert crashes["crash_id"].tolist() == list(range(len(crashes)))


def test_crash_log_rows_consistent(shanghai):
    """Every crash blocks from t_occur for a positive time that ends within the run; queues and delays >= 0."""
    scenario, crashes = shanghai["scenario"], shanghai["run"].logs.crashes
    assert (crashes["t_block_end"] >= crashes["t_occur"]).all()
    assert (crashes["blockage_min"] > 0).all()
    np.testing.assert_allclose(crashes["blockage_min"], crashes["t_block_end"] - crashes["t_occur"])
    assert (crashes["t_block_end"] <= scenario.run.horizon_min).all()
    assert (crashes["queue_dissolve_min"] >= 0).all() and (crashes["delay_vehicle_h"] >= 0).all()
    assert set(crashes["severity"].unique()) == {"minor", "injury"}


def test_crash_log_detection_storage_and_delay(shanghai):
    """t_detect is the crash incident's t_call (NaN if never reported); a queue never exceeds its storage
    (queue_storage_links x lanes x km x jam density), vehicles divert only from a full queue, and the delay is
    the queue's part plus the detours' part."""
    scenario, run = shanghai["scenario"], shanghai["run"]
    crashes, incidents = run.logs.crashes, run.logs.incidents.set_index("incident_id")
    reported = crashes["incident_id"].notna()
    np.testing.assert_array_equal(crashes.loc[reported, "t_detect"],
                                  incidents.loc[crashes.loc[reported, "incident_id"].astype(int), "t_call"])
    assert crashes.loc[~reported, "t_detect"].isna().all()
    assert (crashes.loc[reported, "t_detect"] >= crashes.loc[reported, "t_occur"]).all()
    network = _profile(scenario).network
    spec = scenario.crashes
    arcs = crashes["arc"].to_numpy()
    storage = spec.queue_storage_links * network.arc_lanes[arcs] * network.arc_km[arcs] \
        * spec.jam_density_veh_per_lane_km
    assert (crashes["peak_queue_veh"] <= storage * (1 + 1e-12)).all()
    full = np.isclose(crashes["peak_queue_veh"], storage)
    assert full.any() and (crashes.loc[~full, "diverted_veh"] == 0).all()
    assert (crashes.loc[full, "diverted_veh"] > 0).all()
    np.testing.assert_allclose(crashes["detour_delay_vehicle_h"], crashes["diverted_veh"] * spec.detour_min / 60.0)
    np.testing.assert_allclose(crashes["delay_vehicle_h"],
                               crashes["queue_delay_vehicle_h"] + crashes["detour_delay_vehicle_h"])


def test_shanghai_incident_share_of_delay_in_sourced_band(shanghai):
    """Crash delay is 10-40 % of all network delay on the Shanghai baseline (FHWA 2004: 25 %; the prior's band),
    and the peak travel time index (07-09, 17-19) lies in AutoNavi's 1.6-2.2."""
    run = shanghai["run"]
    share = incident_kpis(run).set_index("metric")["value"]["incident_delay_share"]
    assert 0.10 <= share <= 0.40, share
    index = traffic_kpis(run).set_index("metric")["value"]["peak_travel_time_index"]
    assert 1.6 <= index <= 2.2, index


def test_crash_incidents_match_crash_log(shanghai):
    """Crash incidents (crash >= 0) are traffic_crash, at their crash's time and place; others are never crashes."""
    run = shanghai["run"]
    incidents, crashes = run.logs.incidents, run.logs.crashes
    crash_rows = incidents[incidents["crash"] >= 0]
    assert (crash_rows["category"] == "traffic_crash").all()
    assert (incidents.loc[incidents["crash"] < 0, "category"] != "traffic_crash").all()
    assert crash_rows["crash"].is_unique
    joined = crash_rows.merge(crashes, left_on="crash", right_on="crash_id", suffixes=("", "_crash"))
    assert len(joined) == len(crash_rows)
    assert (joined["incident_id"] == joined["incident_id_crash"]).all()
    for column in ("t_occur", "x_km", "y_km"):
        np.testing.assert_array_equal(joined[column], joined[f"{column}_crash"])
    reported_late = crashes["incident_id"].isna()
    assert len(crashes) - reported_late.sum() == len(crash_rows)


def test_injury_crashes_get_a_unit(shanghai):
    """Every injury crash's incident gets a unit unless still open at the end; its blockage ends at clearance."""
    scenario, run = shanghai["scenario"], shanghai["run"]
    incidents = run.logs.incidents.set_index("incident_id")
    injury = run.logs.crashes[(run.logs.crashes["severity"] == "injury") & run.logs.crashes["incident_id"].notna()]
    assert len(injury) > 50
    rows = incidents.loc[injury["incident_id"].astype(int)]
    assert rows["resolution"].isin(["dispatched", "open"]).all()
    assert (rows.loc[rows["resolution"] == "dispatched", "n_units"] >= 1).all()
    cleared = rows["t_clear"].notna().to_numpy()
    np.testing.assert_allclose(injury["t_block_end"].to_numpy()[cleared], rows["t_clear"].to_numpy()[cleared])
    np.testing.assert_allclose(injury["t_block_end"].to_numpy()[~cleared], scenario.run.horizon_min)


def test_same_seed_same_traffic_and_crash_logs(shanghai):
    """Two runs of the same scenario, seed and replication give identical traffic and crash logs."""
    first, second = shanghai["run"].logs, shanghai["again"].logs
    pd.testing.assert_frame_equal(first.traffic, second.traffic, check_exact=True)
    pd.testing.assert_frame_equal(first.crashes, second.crashes, check_exact=True)


def test_routing_lever_keeps_incidents_and_crashes(shanghai):
    """Changing only travel.routing (free_flow -> current) leaves every incident and every crash as it was."""
    base, other = shanghai["run"].logs, shanghai["current"].logs
    upstream = ["t_occur", "t_call", "category", "x_km", "y_km", "crash"]
    pd.testing.assert_frame_equal(base.incidents[upstream], other.incidents[upstream], check_exact=True)
    drawn = ["crash_id", "arc", "severity", "district", "x_km", "y_km", "t_occur"]
    pd.testing.assert_frame_equal(base.crashes[drawn], other.crashes[drawn], check_exact=True)
    pd.testing.assert_frame_equal(base.traffic.drop(columns="blockages"), other.traffic.drop(columns="blockages"),
                                  check_exact=True)


def test_run_result_type(shanghai):
    """The Shanghai fixture's runs are RunResults of replication 0 with traffic and crash logs."""
    for key in ("run", "again", "current"):
        result = shanghai[key]
        assert isinstance(result, RunResult) and result.replication == 0
        assert len(result.logs.traffic) > 0 and len(result.logs.crashes) > 0

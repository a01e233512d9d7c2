"""Cruising for parking: Little's law, the local streets that carry it, parking guidance and the parking KPIs.

Runs use conftest's small scenario, lightly loaded (18 units), on the tiny road network
(tests/data/tiny_network.yaml: cars cruise for parking in North).
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from citysim.city.context import city_context
from citysim.city.geography import DistrictGrid
from citysim.city.loading import load_scenario
from citysim.city.network import ARTERIAL, build_network
from citysim.city.parking import cruising_flow
from citysim.config import Scenario
from citysim.config.schema import Parking
from citysim.errors import InputError
from citysim.simulation.kpis import METRIC_COLUMNS as PARKING_KPI_COLUMNS
from citysim.simulation.model import RunResult, simulate_one
from citysim.simulation.parking_kpis import parking_kpis

DATA = Path(__file__).parent / "data"
TINY_BLOCKS: dict[str, Any] = yaml.safe_load((DATA / "tiny_network.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def road_data(small_scenario_data: dict[str, Any]) -> dict[str, Any]:
    """The small scenario with 18 units on the tiny road network."""
    small_scenario_data["districts"][0]["units"] = 10
    small_scenario_data["districts"][1]["units"] = 8
    small_scenario_data.update(copy.deepcopy(TINY_BLOCKS))
    return small_scenario_data


def run(data: dict[str, Any], guidance: float | None = None) -> RunResult:
    data = copy.deepcopy(data)
    if guidance is not None:
        data["levers"] = {"parking_guidance": {"strength": guidance}}
    return simulate_one(Scenario.model_validate(data), 0)


def kpis(result: RunResult) -> dict[str, float]:
    frame = parking_kpis(result)
    return dict(zip(frame["metric"], frame["value"], strict=True))


def digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode("utf-8")).hexdigest()


def test_cruising_is_littles_law(road_data):
    """24,000 parkings a day at a flat profile, all in North: 1,000 an hour; 3 min of search each gives 50 cars
    cruising (L = lambda W), 600 vehicle-km an hour at 12 km/h, and that over North's arterial vehicle-km."""
    scenario = Scenario.model_validate(road_data)
    assert scenario.network is not None
    network = build_network(scenario.network, DistrictGrid.from_scenario(scenario))
    parking = Parking(parked_cars_per_day=24000, search_min=3.0, cruising_speed_kmh=12.0, districts=["North"])
    flow = cruising_flow(network, parking, [1.0] * 24, [0])
    np.testing.assert_allclose(flow.parked_per_hour, 1000.0)
    np.testing.assert_allclose(flow.cruising, 50.0)
    np.testing.assert_allclose(flow.vehicle_km_per_hour, 600.0)
    north = (network.arc_class == ARTERIAL) & (network.arc_district == 0)
    np.testing.assert_allclose(flow.share, 600.0 / (network.arc_capacity[north] * network.arc_km[north]).sum())
    # two districts: the parkings split by arterial km, and none searches without a search time
    both = cruising_flow(network, parking, [1.0] * 24, [0, 1])
    km = [network.arc_km[(network.arc_class == ARTERIAL) & (network.arc_district == d)].sum() for d in (0, 1)]
    np.testing.assert_allclose(both.parked_per_hour[:, 0], 1000.0 * np.array(km) / sum(km))
    idle = cruising_flow(network, parking.model_copy(update={"search_min": 0.0}), [1.0] * 24, [0])
    assert (idle.share == 0).all()


def test_shanghai_cruising_share_in_the_sourced_band(shanghai_path):
    """The baseline's cruising share of central traffic lies in the research prior's 3-20 % (FHWA 2023: about
    10 % at peak), and its cruising vehicle-hours are parked cars x search hours."""
    scenario = load_scenario(shanghai_path)
    assert scenario.traffic is not None
    profile = city_context(scenario, DistrictGrid.from_scenario(scenario)).profile
    share = profile.cruising.share
    assert share.shape == (7, 24)
    assert ((share > 0.03) & (share < 0.20)).all()
    parking = scenario.traffic.parking
    assert profile.cruising.cruising.sum() == pytest.approx(parking.parked_cars_per_day * parking.search_min / 60)


def test_guidance_lowers_cruising_local_congestion_and_police_trips(road_data):
    """Guidance at 0.5 halves the search and the cruising vehicle-hours, lowers the peak local-street travel
    time index in North, and shortens police trips to North's incidents; at 0.9 more so."""
    base, half, most = (kpis(run(road_data, g)) for g in (None, 0.5, 0.9))
    assert half["search_min_per_car"] == pytest.approx(0.5 * base["search_min_per_car"])
    assert half["cruising_vehicle_h"] == pytest.approx(0.5 * base["cruising_vehicle_h"])
    assert most["cruising_vehicle_h"] < half["cruising_vehicle_h"]
    assert 1.0 < most["local_street_tti_peak"] < half["local_street_tti_peak"] < base["local_street_tti_peak"]
    assert most["police_trip_min"] < half["police_trip_min"] < base["police_trip_min"]


def test_guidance_speeds_local_trips_in_north_only(road_data):
    """Local streets in North get faster under guidance; South's, where nobody cruises, keep their time."""
    base, guided = (city_context(result.scenario, DistrictGrid.from_scenario(result.scenario)).profile
                    for result in (run(road_data), run(road_data, 0.5)))
    nodes = base.network.node_district
    north, south = int(np.flatnonzero(nodes == 0)[0]), int(np.flatnonzero(nodes == 1)[0])
    assert guided.local_time_factor(8.5, north) < base.local_time_factor(8.5, north)
    assert guided.local_time_factor(8.5, south) == base.local_time_factor(8.5, south)


def test_guidance_at_zero_keeps_the_police_logs(road_data):
    """parking_guidance at strength 0 gives incident and unit logs bit-identical to the lever absent."""
    base, zero, half = run(road_data), run(road_data, 0.0), run(road_data, 0.5)
    for name in ("incidents", "units"):
        assert digest(getattr(zero.logs, name)) == digest(getattr(base.logs, name)), name
    assert digest(half.logs.units) != digest(base.logs.units)


def test_no_parking_gives_an_empty_frame(scenario_data, road_data):
    """Without a road network, or without parking districts, the KPI frame is empty with the same columns."""
    road_data["traffic"]["parking"]["districts"] = []
    for data in (scenario_data(), road_data):
        frame = parking_kpis(simulate_one(Scenario.model_validate(data), 0))
        assert frame.empty and list(frame.columns) == PARKING_KPI_COLUMNS


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [("cruising_share", 0.1, "unknown key 'cruising_share'"), ("search_min", -1.0, "greater than or equal to 0"),
     ("cruising_speed_kmh", 0.0, "greater than 0"), ("parked_cars_per_day", "many", "number")],
)
def test_bad_parking_keys_are_input_errors(road_data, write_yaml, key, value, expected):
    """An unknown or out-of-range parking key is one clear InputError naming the key path."""
    road_data["traffic"]["parking"][key] = value
    with pytest.raises(InputError) as info:
        load_scenario(write_yaml("parking.yaml", road_data))
    text = str(info.value)
    assert text.startswith("Error in ") and "\n" not in text and expected in text, text
    assert info.value.key_path[:3] == ("traffic", "parking", key)

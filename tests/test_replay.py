"""The replay table: open incidents and units at each hour, derived from hand-made logs; and the map layers'
district polygons against the scenario's own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from citysim.analysis.replay import Homes, replay_frames, snapshot_times
from citysim.simulation.logs import RunLogs


def _logs() -> RunLogs:
    """Two incidents and two units, a third unit off duty. Incident 0 is called at 10, dispatched at 20,
    reached at 40 and cleared at 100; incident 1 is called at 50 and never dispatched. Unit 0 drives to
    incident 0 from (0, 0) and is free again at 110; unit 1 waits at home all along."""
    incidents = pd.DataFrame({"incident_id": [0, 1], "priority": [1, 3], "lon": [10.0, 5.0], "lat": [20.0, 5.0],
                              "t_call": [10.0, 50.0], "t_dispatch": [20.0, np.nan], "t_arrive": [40.0, np.nan],
                              "t_clear": [100.0, np.nan]})
    units = pd.DataFrame({"unit": [0], "incident_id": [0], "t_dispatch": [20.0], "t_arrive": [40.0],
                          "t_clear": [100.0], "t_free": [110.0], "from_lon": [0.0], "from_lat": [0.0]})
    duty = pd.DataFrame({"unit": [0, 1, 2], "t_start": [0.0, 0.0, 200.0], "t_end": [300.0, 300.0, 300.0]})
    empty = pd.DataFrame()
    return RunLogs(incidents, units, duty, empty, empty, empty)


HOMES = Homes(lon=np.array([1.0, 2.0, 3.0]), lat=np.array([1.0, 2.0, 3.0]))


def _at(t: float) -> pd.DataFrame:
    return replay_frames(_logs(), HOMES, np.array([t]), start_clock_h=6.0)


def test_an_open_incident_is_waiting_then_en_route_then_on_scene_then_gone():
    """An incident shows from its call to its clearance, in the state of its first unit."""
    states = {t: _at(t).query("kind == 'incident' and priority == 1")["state"].tolist() for t in (5, 15, 30, 60, 100)}
    assert states == {5: [], 15: ["waiting"], 30: ["en route"], 60: ["on scene"], 100: []}
    assert _at(60).query("priority == 3")["state"].tolist() == ["waiting"]  # never dispatched: open to the end


def test_a_busy_unit_is_on_its_way_then_at_the_scene_and_a_free_one_at_home():
    """Halfway through its trip the unit is halfway along the straight line; at the scene from its arrival
    until it is free; every other unit on duty is free at its waiting place; an off-duty unit is not shown."""
    halfway = _at(30).query("kind == 'unit'").sort_values("state")
    assert halfway[["state", "lon", "lat"]].values.tolist() == [["busy", 5.0, 10.0], ["free", 2.0, 2.0]]
    reporting = _at(105).query("kind == 'unit' and state == 'busy'")
    assert reporting[["lon", "lat"]].values.tolist() == [[10.0, 20.0]]  # cleared at 100, free at 110
    later = _at(120).query("kind == 'unit'")
    assert later["state"].tolist() == ["free", "free"] and sorted(later["lon"]) == [1.0, 2.0]


def test_frames_are_the_hour_marks_of_the_kpi_window_with_their_clock_hour():
    """One frame per hour from the end of the warm-up, at most 24, each with its clock hour."""
    assert snapshot_times(60.0, 600.0).tolist() == [60.0 + 60 * k for k in range(9)]
    assert len(snapshot_times(120.0, 1560.0)) == 24
    table = replay_frames(_logs(), HOMES, snapshot_times(0.0, 180.0), start_clock_h=23.0)
    assert table.groupby("frame")["clock_h"].first().tolist() == [23.0, 0.0, 1.0]


def test_map_layers_draw_the_scenarios_own_district_polygons(small_scenario_data):
    """The district rings of map.csv enclose the same land as the scenario's polygons (area within 0.5 %), and
    those match each district's area_km2: the map is drawn from the polygons the model samples on."""
    import shapely

    from citysim.analysis.map_layers import map_table
    from citysim.city.geography import DistrictGrid
    from citysim.config import Scenario

    scenario = Scenario.model_validate(small_scenario_data)
    grid = DistrictGrid.from_scenario(scenario)
    rings = map_table(scenario, "s").query("layer == 'district'")
    for district, polygon in zip(grid.names, grid.polygons, strict=True):
        parts = rings[rings["name"] == district]
        km = [grid.projection.to_km(lat, lon) for lon, lat in parts[["lon", "lat"]].to_numpy()]
        drawn = shapely.Polygon(km).area
        assert drawn == pytest.approx(polygon.area, rel=0.005)
        stated = next(d.area_km2 for d in scenario.districts if d.name == district)
        assert drawn == pytest.approx(stated, rel=0.02)

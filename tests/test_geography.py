"""Geography: district land, the demand surface, hot spots, barriers on every trip, and the typos that
must exit 2 (sign flips, swapped lat/lon, degrees given as km, absurd sizes)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
import yaml

from citysim.analysis.geography_audit import barrier_trips, incident_placement
from citysim.city.geography import DistrictGrid
from citysim.city.loading import load_scenario
from citysim.city.surface import demand_surface
from citysim.city.travel import Place, Places
from citysim.cli import EXIT_BAD_INPUT, main
from citysim.config.schema import Scenario
from citysim.errors import InputError
from citysim.simulation.model import CityModel, simulate_one

SHANGHAI = Path(__file__).resolve().parents[1] / "scenarios" / "shanghai"


@pytest.fixture(scope="module")
def shanghai() -> Scenario:
    return load_scenario(SHANGHAI / "baseline.yaml")


@pytest.fixture(scope="module")
def shanghai_day(shanghai: Scenario) -> Any:
    return simulate_one(shanghai, 0)


def test_shanghai_land_matches_the_yearbook_where_boundaries_are_inland(shanghai):
    """The polygons' areas are within 10 % of the Statistical Yearbook's for the districts without coast
    (the coastal ones take in reclaimed land: reported in docs/calibration.md)."""
    grid = DistrictGrid.from_scenario(shanghai)
    inland = ["Huangpu", "Xuhui", "Changning", "Jing'an", "Putuo", "Hongkou", "Minhang", "Jiading", "Songjiang",
              "Qingpu"]
    for district, area in zip(shanghai.districts, grid.area_km2, strict=True):
        if district.name in inland:
            assert abs(area / district.area_km2 - 1) < 0.1, (district.name, area)


def test_incidents_lie_on_their_own_district_land(shanghai, shanghai_day):
    """Measured from the log's lon/lat against the polygons: none off land, none outside its district."""
    audit = incident_placement(shanghai, shanghai_day.logs)
    assert audit["incidents"] > 20_000
    assert audit["off_land_share"] == 0.0
    assert audit["outside_own_district_share"] == 0.0


def test_no_trip_crosses_a_barrier_without_a_crossing(shanghai, shanghai_day):
    """Every trip from one bank to the other names its bridge or tunnel and drives at least the straight
    detour through the nearest crossing."""
    audit = barrier_trips(shanghai, shanghai_day.logs)
    assert (audit["across_without_crossing"] == 0).all(), audit
    assert (audit["shorter_than_detour"] == 0).all(), audit


def test_barrier_lines_lie_in_water(shanghai):
    """The Shanghai barriers cut at most 0.5 km of district land each (their points were derived off
    the polygons' shores; the Huangpu's water is removed from the polygons)."""
    grid = DistrictGrid.from_scenario(shanghai)
    land = shapely.union_all(grid.polygons)
    assert shanghai.network is not None
    for barrier in shanghai.network.barriers:
        line = shapely.LineString([grid.projection.to_km(lat, lon) for lat, lon in barrier.points])
        assert line.intersection(land).length < 0.5, barrier.name


def test_a_trip_across_the_huangpu_uses_a_crossing(shanghai):
    """Lujiazui to the Bund: straight across the river, so the drive goes over a named crossing and the
    dispatcher's estimate is the network's, not the local streets'."""
    model = CityModel(shanghai, 0)
    grid = model.grid
    bund, lujiazui = grid.projection.to_km(31.2400, 121.4860), grid.projection.to_km(31.2400, 121.5050)
    nodes, access = model.travel.locate(np.array([bund[0], lujiazui[0]]), np.array([bund[1], lujiazui[1]]))
    origin = Place(bund[0], bund[1], int(nodes[0]), float(access[0]))
    destination = Place(lujiazui[0], lujiazui[1], int(nodes[1]), float(access[1]))
    trip = model.travel.drive(origin, destination, 600.0, 10.0)
    assert trip.crossing >= 0
    assert trip.km > 1.3 * np.hypot(bund[0] - lujiazui[0], bund[1] - lujiazui[1])
    origins = Places(np.array([origin.x]), np.array([origin.y]), np.array([origin.node]),
                     np.array([origin.access]), np.zeros(1))
    straight_local = np.hypot(bund[0] - lujiazui[0], bund[1] - lujiazui[1]) * 1.3 * 60 / 30
    assert model.travel.estimate_min(origins, destination, 10.0)[0] > straight_local


def test_nearest_agrees_with_the_estimates(shanghai):
    """The dispatcher's lazy nearest-unit choice is the argmin of the full barrier-aware estimates."""
    model = CityModel(shanghai, 0)
    rng = np.random.default_rng(5)
    fleet = model.fleet
    for incident in rng.choice(model.plan.size, 40, replace=False):
        units = rng.choice(fleet.size, 200, replace=False)
        origins = fleet.places(units, 0.0)
        place = model.ledger.locate(int(incident))
        estimates = model.travel.estimate_min(origins, place, 10.0)
        assert model.travel.nearest(origins, place, 10.0) == int(np.argmin(estimates))


def test_hot_spots_take_their_share(small_scenario_data):
    """A category's hot_spot_share of its calls falls in the hot cells (plus the rest's own share of them)."""
    data = small_scenario_data
    data["geography"] = {"cell_km": 0.5, "hot_spots": {"area_share": 0.05, "seed": 1}}
    data["demand"]["calls_per_day"] = 20_000
    for category in data["demand"]["categories"].values():
        category["hot_spot_share"] = 0.6
    scenario = Scenario.model_validate(data)
    model = CityModel(scenario, 0)
    surface = demand_surface(scenario, model.grid)
    hot = np.zeros(model.plan.size, dtype=bool)
    for d, polygon in enumerate(model.grid.polygons):
        cells = shapely.union_all(_triangles(surface, (surface.district == d) & surface.hot))
        mine = model.plan.district == d
        hot[mine] = shapely.contains_xy(cells.buffer(1e-9), model.plan.x_km[mine], model.plan.y_km[mine])
        assert shapely.contains_xy(polygon.buffer(1e-9), model.plan.x_km[mine], model.plan.y_km[mine]).all()
    expected = 0.6 + 0.4 * float(surface.density[surface.hot].sum() / surface.density.sum())
    n = model.plan.size
    assert abs(hot.mean() - expected) < 4 * np.sqrt(expected * (1 - expected) / n), (hot.mean(), expected)


def _triangles(surface: Any, mask: np.ndarray) -> np.ndarray:
    a = np.column_stack([surface.ax[mask], surface.ay[mask]])
    b, c = a + np.column_stack([surface.ex[mask], surface.ey[mask]]), a + np.column_stack(
        [surface.fx[mask], surface.fy[mask]])
    return shapely.polygons(np.stack([a, b, c, a], axis=1))


def test_uniform_surface_places_incidents_uniformly(small_scenario_data):
    """Without density or hot spots, incidents are uniform on a disc district: the share within half
    its radius is a quarter."""
    scenario = Scenario.model_validate(small_scenario_data | {"demand": {
        **small_scenario_data["demand"], "calls_per_day": 20_000}})
    model = CityModel(scenario, 0)
    grid, plan = model.grid, model.plan
    for d, district in enumerate(scenario.districts):
        mine = plan.district == d
        r = np.hypot(plan.x_km[mine] - grid.x_km[d], plan.y_km[mine] - grid.y_km[d])
        radius = np.sqrt(district.area_km2 / np.pi)
        share = float((r < radius / 2).mean())
        assert abs(share - 0.25) < 4 * np.sqrt(0.25 * 0.75 / mine.sum()) + 0.01, share


# --------------------------------------------------------------------------- typos that must exit 2

def _shanghai_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SHANGHAI / "baseline.yaml").read_text(encoding="utf-8"))
    data["geography"]["district_polygons"] = str(SHANGHAI / "geodata" / "districts.geojson")
    return data


def _sign_flip(data: dict[str, Any]) -> None:
    data["districts"][3]["lon"] = -121.4461


def _swapped_barrier_point(data: dict[str, Any]) -> None:
    point = data["network"]["barriers"][0]["points"][4]
    point[0], point[1] = point[1], point[0]


def _southern_barrier_point(data: dict[str, Any]) -> None:
    data["network"]["barriers"][0]["points"][2][0] = -31.95


def _km_for_degrees(data: dict[str, Any]) -> None:
    data["network"]["barriers"][0]["crossings"][1].update({"lat": 13.4, "lon": 2.1})


def _huge_area(data: dict[str, Any]) -> None:
    del data["geography"]
    data["districts"][0]["area_km2"] = 1e9


def _overlapping_discs(data: dict[str, Any]) -> None:
    del data["geography"]


def _tiny_lattice(data: dict[str, Any]) -> None:
    data["network"]["grid"]["inner_spacing_km"] = 1e-5


def _far_ring(data: dict[str, Any]) -> None:
    data["network"]["rings"][0]["radius_km"] = 1e5


TYPOS = {
    "district longitude sign flipped": (_sign_flip, "districts[3]"),
    "barrier point lat/lon swapped": (_swapped_barrier_point, "network.barriers[0].points[4]"),
    "barrier point in the southern hemisphere": (_southern_barrier_point, "network.barriers[0].points[2]"),
    "crossing given in km": (_km_for_degrees, "network.barriers[0].crossings[1]"),
    "district area of 1e9 km2": (_huge_area, "districts[0].area_km2"),
    "disc districts overlap": (_overlapping_discs, "districts"),
    "lattice spacing of 10 m": (_tiny_lattice, "network.grid.inner_spacing_km"),
}


@pytest.mark.parametrize("name", list(TYPOS))
def test_geographic_typos_exit_2_naming_the_key(name, tmp_path, capsys):
    edit, key = TYPOS[name]
    data = _shanghai_data()
    edit(data)
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    assert main(["validate", str(path)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert key in err, err
    assert "Traceback" not in err and err.strip().count("\n") == 0, err


def test_a_ring_far_outside_the_city_is_an_input_error(tmp_path, capsys):
    """A ring of 1e5 km radius is refused before any node is placed."""
    data = _shanghai_data()
    _far_ring(data)
    path = tmp_path / "ring.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    assert main(["validate", str(path)]) == EXIT_BAD_INPUT
    assert "network.rings[0]" in capsys.readouterr().err


@pytest.mark.parametrize("problem, text, expected", [
    ("missing file", None, "cannot be read"),
    ("not JSON", "{", "not valid JSON"),
    ("unknown district", {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "Atlantis"}, "geometry": None}]}, "not a district"),
])
def test_bad_polygon_files_are_input_errors(problem, text, expected, tmp_path):
    data = _shanghai_data()
    polygons = tmp_path / "districts.geojson"
    if text is not None:
        polygons.write_text(text if isinstance(text, str) else json.dumps(text), encoding="utf-8")
    data["geography"]["district_polygons"] = "districts.geojson"
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_scenario(path)
    assert expected in caught.value.problem
    assert caught.value.key_path == ("geography", "district_polygons")


def test_polygon_path_is_relative_to_the_file_that_names_it(tmp_path):
    """A child scenario elsewhere inherits the parent's polygons, found beside the parent."""
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: {SHANGHAI / 'baseline.yaml'}\nname: child\n", encoding="utf-8")
    scenario = load_scenario(child)
    assert scenario.geography is not None and scenario.geography.district_polygons is not None
    assert Path(scenario.geography.district_polygons) == (SHANGHAI / "geodata" / "districts.geojson").resolve()
    assert copy.deepcopy(scenario) == scenario

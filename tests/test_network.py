"""The road network: construction from a scenario's `network` block, broken networks, Shanghai's skeleton.

The tiny network (tests/data/tiny_network.yaml, merged into conftest's two-district scenario) has one
ring of radius 5.5 km around the projection origin, a 2 km arterial lattice over the two district discs,
and a north-south river at 121.505 E with one bridge. Geometry checks here use their own segment
intersection, not the package's.
"""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from citysim.city.geography import DistrictGrid
from citysim.city.geometry import segment_crossing_counts
from citysim.city.loading import load_scenario
from citysim.city.network import ARTERIAL, EXPRESSWAY, RoadNetwork, build_network
from citysim.city.routing import Router
from citysim.cli import EXIT_BAD_INPUT, main
from citysim.config import Scenario
from citysim.errors import InputError

DATA = Path(__file__).parent / "data"
TINY_BLOCKS: dict[str, Any] = yaml.safe_load((DATA / "tiny_network.yaml").read_text(encoding="utf-8"))
RIVER_LON = 121.505
#: An island east of the districts: a coast line at 121.56 E with one bridge, and two hand-written nodes.
COAST = {"name": "Test Coast", "points": [[31.10, 121.56], [31.35, 121.56]],
         "crossings": [{"name": "Isle Bridge", "lat": 31.25, "lon": 121.56, "road_class": "arterial", "lanes": 2}]}
ISLE_NODES = [{"name": "Isle A", "lat": 31.25, "lon": 121.58}, {"name": "Isle B", "lat": 31.25, "lon": 121.60}]
ISLE_LINK = {"from_node": "Isle A", "to_node": "Isle B", "road_class": "arterial", "lanes": 2, "length_km": 2.5}


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def tiny(small_scenario_data: dict[str, Any]) -> dict[str, Any]:
    """The small scenario with the tiny network, traffic and network-travel blocks."""
    data = small_scenario_data
    data.update(copy.deepcopy(TINY_BLOCKS))
    return data


def build(data: dict[str, Any]) -> tuple[RoadNetwork, DistrictGrid]:
    scenario = Scenario.model_validate(data)
    assert scenario.network is not None
    grid = DistrictGrid.from_scenario(scenario)
    return build_network(scenario.network, grid), grid


def node_at(network: RoadNetwork, x: float, y: float) -> int:
    """The node at (x, y) km (there must be one within 1 m)."""
    distance = np.hypot(network.node_x - x, network.node_y - y)
    index = int(np.argmin(distance))
    assert distance[index] < 1e-3, f"no node at ({x:.3f}, {y:.3f}); nearest is {distance[index]:.3f} km away"
    return index


def crossing_arcs(network: RoadNetwork, line: np.ndarray) -> np.ndarray:
    """Indices of arcs whose segment properly intersects the polyline (parametric solve, own code)."""
    px, py = network.node_x[network.arc_from][:, None], network.node_y[network.arc_from][:, None]
    rx = (network.node_x[network.arc_to] - network.node_x[network.arc_from])[:, None]
    ry = (network.node_y[network.arc_to] - network.node_y[network.arc_from])[:, None]
    qx, qy = line[:-1, 0][None, :], line[:-1, 1][None, :]
    sx, sy = (line[1:, 0] - line[:-1, 0])[None, :], (line[1:, 1] - line[:-1, 1])[None, :]
    denominator = rx * sy - ry * sx
    with np.errstate(divide="ignore", invalid="ignore"):
        t = ((qx - px) * sy - (qy - py) * sx) / denominator
        u = ((qx - px) * ry - (qy - py) * rx) / denominator
    hit = (denominator != 0) & (t > 0) & (t < 1) & (u > 0) & (u < 1)
    return np.flatnonzero(hit.any(axis=1))


def link_keys(network: RoadNetwork, arcs: np.ndarray) -> set[tuple[float, ...]]:
    """Undirected links (by rounded end coordinates) of some arcs, comparable across builds."""
    keys = set()
    for arc in arcs.tolist():
        ends = sorted([(round(float(network.node_x[network.arc_from[arc]]), 4),
                        round(float(network.node_y[network.arc_from[arc]]), 4)),
                       (round(float(network.node_x[network.arc_to[arc]]), 4),
                        round(float(network.node_y[network.arc_to[arc]]), 4))])
        keys.add((*ends[0], *ends[1]))
    return keys


def assert_links_are_arc_pairs(network: RoadNetwork) -> None:
    pairs = list(zip(network.arc_from.tolist(), network.arc_to.tolist(), strict=True))
    assert len(set(pairs)) == len(pairs), "two arcs join the same ordered pair of nodes"
    assert all(f != t for f, t in pairs), "an arc is a self-loop"
    index = {pair: i for i, pair in enumerate(pairs)}
    for i, (f, t) in enumerate(pairs):
        j = index.get((t, f))
        assert j is not None, f"arc {i} ({f}->{t}) has no reverse arc"
        for name in ("arc_km", "arc_class", "arc_lanes", "arc_capacity", "arc_free_flow_min"):
            values = getattr(network, name)
            assert values[i] == values[j], f"{name} differs between arc {i} and its reverse {j}"


@pytest.fixture(scope="module")
def shanghai(shanghai_path: Path) -> tuple[Scenario, RoadNetwork, DistrictGrid]:
    scenario = load_scenario(shanghai_path)
    assert scenario.network is not None
    grid = DistrictGrid.from_scenario(scenario)
    return scenario, build_network(scenario.network, grid), grid


# --------------------------------------------------------------------------- construction (tiny network)


def test_tiny_network_builds_connected(tiny):
    """The hand-made scenario loads and builds a connected network of ring and lattice nodes, none dropped."""
    network, _grid = build(tiny)
    assert 25 <= network.n_nodes <= 45
    assert network.dropped_lattice_nodes == 0
    assert set(np.unique(network.arc_class).tolist()) == {EXPRESSWAY, ARTERIAL}
    radius = np.hypot(network.node_x, network.node_y)
    assert np.sum(np.isclose(radius, 5.5)) == 12, "ring of circumference 34.6 km at 3 km spacing: 12 nodes"
    assert np.isfinite(Router(network, network.arc_free_flow_min).minutes).all()


def test_every_link_is_two_arcs(tiny):
    """Every link appears as exactly two opposite arcs with the same length, class, lanes and times."""
    network, _grid = build(tiny)
    assert network.n_arcs % 2 == 0
    assert_links_are_arc_pairs(network)


def test_arc_attributes_follow_the_spec(tiny):
    """Arc km = straight km x link_circuity; free flow = km / class speed x 60; capacity = lanes x per-lane."""
    network, _grid = build(tiny)
    straight = np.hypot(network.node_x[network.arc_to] - network.node_x[network.arc_from],
                        network.node_y[network.arc_to] - network.node_y[network.arc_from])
    np.testing.assert_allclose(network.arc_km, straight * 1.2, rtol=1e-12)
    speed = np.where(network.arc_class == EXPRESSWAY, 80.0, 40.0)
    per_lane = np.where(network.arc_class == EXPRESSWAY, 1800.0, 800.0)
    np.testing.assert_allclose(network.arc_free_flow_min, network.arc_km / speed * 60.0, rtol=1e-12)
    np.testing.assert_array_equal(network.arc_capacity, network.arc_lanes * per_lane)
    assert set(network.arc_lanes[network.arc_class == EXPRESSWAY].tolist()) == {2}


def test_adjacent_ring_nodes_free_flow_time(tiny):
    """Free-flow time between neighbouring ring nodes is one expressway arc: chord x 1.2 / 80 km/h x 60."""
    network, _grid = build(tiny)
    a = node_at(network, 0.0, 5.5)  # bearing 0
    b = node_at(network, 5.5 * math.sin(math.radians(30)), 5.5 * math.cos(math.radians(30)))  # bearing 30
    chord = 2 * 5.5 * math.sin(math.radians(15))
    router = Router(network, network.arc_free_flow_min)
    assert router.minutes[a, b] == pytest.approx(chord * 1.2 / 80.0 * 60.0, rel=1e-12)
    route = router.route(a, b)
    assert route.size == 1 and network.arc_class[route[0]] == EXPRESSWAY
    assert network.arc_from[route[0]] == a and network.arc_to[route[0]] == b


def test_extra_link_free_flow_time(tiny):
    """An extra link with length_km joins two extra nodes (an island reached by a bridge) at length / speed."""
    tiny["network"]["barriers"] = [COAST]
    tiny["network"]["extra_nodes"] = ISLE_NODES
    tiny["network"]["extra_links"] = [ISLE_LINK]
    network, grid = build(tiny)
    a = node_at(network, *grid.projection.to_km(31.25, 121.58))
    b = node_at(network, *grid.projection.to_km(31.25, 121.60))
    router = Router(network, network.arc_free_flow_min)
    assert router.minutes[a, b] == pytest.approx(2.5 / 40.0 * 60.0, rel=1e-12)
    assert router.minutes[b, a] == pytest.approx(3.75, rel=1e-12)
    assert np.isfinite(router.minutes).all(), "the island is reached over its bridge"


def test_extra_link_length_survives_a_barrier_cut(tiny):
    """An extra link keeps its length_km even when a barrier elsewhere removes the links it cuts."""
    tiny["network"]["barriers"].append(COAST)  # the river (which cuts ring and lattice links) comes first
    tiny["network"]["extra_nodes"] = ISLE_NODES
    tiny["network"]["extra_links"] = [ISLE_LINK]
    network, grid = build(tiny)
    a = node_at(network, *grid.projection.to_km(31.25, 121.58))
    b = node_at(network, *grid.projection.to_km(31.25, 121.60))
    arc = np.flatnonzero((network.arc_from == a) & (network.arc_to == b))
    assert arc.size == 1
    assert network.arc_km[arc[0]] == 2.5
    assert Router(network, network.arc_free_flow_min).minutes[a, b] == pytest.approx(3.75, rel=1e-12)


def test_barrier_without_crossing_that_splits_network_is_error(tiny):
    """A river with no crossing that cuts off more than 5 % of the nodes is an InputError, not a dropped area."""
    tiny["network"]["barriers"][0]["crossings"] = []
    with pytest.raises(InputError, match="disconnected") as info:
        build(tiny)
    assert info.value.key_path == ("network",)


def test_crossing_adds_one_link_across(tiny):
    """The bridge is the only way across the river: a node at its coordinates linked to one node on each
    bank (two links, four arcs, all marked as the bridge), of the class and lanes specified."""
    network, grid = build(tiny)
    river_x, _ = grid.projection.to_km(31.25, RIVER_LON)
    line = np.array([grid.projection.to_km(31.17, RIVER_LON), grid.projection.to_km(31.30, RIVER_LON)])
    marked = np.flatnonzero(network.arc_crossing >= 0)
    assert marked.size == 4, "two links (four arcs) for the bridge"
    assert set(crossing_arcs(network, line).tolist()) <= set(marked.tolist()), "only the bridge crosses"
    middle = int(np.bincount(np.concatenate([network.arc_from[marked], network.arc_to[marked]])).argmax())
    assert network.node_crossing[middle] >= 0
    outer = sorted(network.node_x[n] for n in set(network.arc_from[marked].tolist()) - {middle})
    assert outer[0] < river_x < outer[1]
    for arc in marked.tolist():
        assert network.arc_class[arc] == ARTERIAL and network.arc_lanes[arc] == 2
        assert network.arc_capacity[arc] == 1600.0
    # Every trip between the banks uses the bridge.
    router = Router(network, network.arc_free_flow_min)
    west, east = node_at(network, 4.0, 0.0), node_at(network, 6.0, 0.0)
    assert set(router.route(west, east).tolist()) & set(marked.tolist())


def test_snap_stays_on_its_bank(tiny):
    """A point just west of the river snaps to a west-bank node even when an east-bank node is nearer."""
    network, grid = build(tiny)
    river_x, _ = grid.projection.to_km(31.25, RIVER_LON)
    x, y = np.array([river_x - 0.1]), np.array([0.0])
    nearest = int(np.argmin(np.hypot(network.node_x - x[0], network.node_y - y[0])))
    assert network.node_x[nearest] > river_x, "the test needs an east-bank node nearest"
    node, km = network.snap(x, y)
    assert network.node_x[node[0]] < river_x
    assert km[0] == pytest.approx(math.hypot(network.node_x[node[0]] - x[0], network.node_y[node[0]] - y[0]))


# --------------------------------------------------------------------------- broken networks


def _lonely(data: dict[str, Any]) -> None:
    data["network"]["extra_nodes"] = [{"name": "Lonely", "lat": 31.30, "lon": 121.45}]


def _negative_length(data: dict[str, Any]) -> None:
    data["network"]["barriers"].append(COAST)
    data["network"]["extra_nodes"] = ISLE_NODES
    data["network"]["extra_links"] = [{**ISLE_LINK, "length_km": -1.0}]


def _zero_capacity(data: dict[str, Any]) -> None:
    data["network"]["classes"]["arterial"]["capacity_veh_per_hour_per_lane"] = 0


def _unknown_node(data: dict[str, Any]) -> None:
    data["network"]["extra_nodes"] = ISLE_NODES
    data["network"]["extra_links"] = [{**ISLE_LINK, "to_node": "Nowhere"}]


BROKEN = {
    # name: (change, key path in the message, a text the key's line contains, text the message contains)
    "disconnected extra node": (_lonely, "at key 'network'", "network:", "extra node"),
    "negative length_km": (_negative_length, "network.extra_links[0].length_km", "length_km: -1.0", "greater than 0"),
    "zero capacity": (_zero_capacity, "network.classes.arterial.capacity_veh_per_hour_per_lane",
                      "capacity_veh_per_hour_per_lane: 0", "greater than 0"),
    "unknown node": (_unknown_node, "network.extra_links[0].to_node", "to_node: Nowhere", "'Nowhere'"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_network_is_input_error(case, tiny, write_yaml, line_of, capsys):
    """A broken network is an InputError naming file, key and line; `citysim validate` exits 2, no traceback."""
    change, key, needle, text = BROKEN[case]
    change(tiny)
    path = write_yaml("broken.yaml", tiny)
    with pytest.raises(InputError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message and key in message and text in message
    assert f"line {line_of(path.read_text(encoding='utf-8'), needle)}," in message
    assert main(["validate", str(path)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and key in err
    assert "Traceback" not in err


def test_broken_network_subprocess_no_traceback(tiny, write_yaml):
    """`citysim validate` as a real process on a disconnected network: exit 2, one paragraph, no traceback."""
    _lonely(tiny)
    path = write_yaml("lonely.yaml", tiny)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "citysim.cli", "validate", str(path)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"Error in {path}")
    assert "disconnected" in proc.stderr and proc.stdout == ""


def _shanghai_with_crossing_at(shanghai_path: Path, index: int, lat: float, lon: float) -> dict[str, Any]:
    data = load_scenario(shanghai_path).model_dump(mode="json")
    data["network"]["barriers"][0]["crossings"][index].update(lat=lat, lon=lon)
    return data


def test_crossing_far_from_barrier_is_input_error(shanghai_path, write_yaml, capsys):
    """A Huangpu crossing misplaced 25 km inland (Jiading) is an InputError naming the crossing; validate exits 2."""
    path = write_yaml("far.yaml", _shanghai_with_crossing_at(shanghai_path, 5, 31.36, 121.24))  # Yangpu Bridge
    with pytest.raises(InputError) as info:
        load_scenario(path)
    message = str(info.value)
    assert str(path) in message and "network.barriers" in message and "Yangpu Bridge" in message
    assert main(["validate", str(path)]) == EXIT_BAD_INPUT
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("where", ["shanghai bridge on Chongming", "tiny bridge 30 km off the river's end"])
def test_crossing_far_from_barrier_is_always_an_error(where, shanghai_path, tiny):
    """A crossing many km from its barrier is an InputError however many road nodes lie around it."""
    if where.startswith("shanghai"):
        data = _shanghai_with_crossing_at(shanghai_path, 5, 31.60, 121.60)
    else:
        data = tiny
        data["network"]["barriers"][0]["crossings"][0].update(lat=31.57, lon=RIVER_LON)
    with pytest.raises(InputError, match="crossing"):
        build(data)


# --------------------------------------------------------------------------- the Shanghai skeleton


def test_shanghai_network_connected_and_sized(shanghai):
    """Shanghai's network has 200-600 nodes, drops at most 5 % of them, and every node reaches every other."""
    _scenario, network, _grid = shanghai
    assert 200 <= network.n_nodes <= 600
    assert network.dropped_lattice_nodes <= 0.05 * (network.n_nodes + network.dropped_lattice_nodes)
    minutes = Router(network, network.arc_free_flow_min).minutes
    assert np.isfinite(minutes).all()
    assert_links_are_arc_pairs(network)


def test_shanghai_only_crossing_links_cross_barriers(shanghai):
    """No Shanghai arc crosses a river or the coast except the links of the listed crossings."""
    _scenario, network, _grid = shanghai
    for line in network.barrier_lines:
        across = crossing_arcs(network, line)
        assert across.size, "a barrier with crossings is crossed somewhere"
        assert (network.arc_crossing[across] >= 0).all(), "a link across a barrier that no crossing made"


def test_shanghai_each_crossing_joins_both_banks(shanghai):
    """Each listed crossing is in the network, and its links' outer ends lie on opposite banks of its barrier."""
    scenario, network, _grid = shanghai
    assert scenario.network is not None
    names = network.crossing_names
    for b, barrier in enumerate(scenario.network.barriers):
        line = network.barrier_lines[b]
        for crossing in barrier.crossings:
            ids = [i for i, name in enumerate(names) if crossing.name in name.split(" + ")]
            assert ids, f"{crossing.name} is not in the network"
            arcs = np.flatnonzero(np.isin(network.arc_crossing, ids))
            ends = np.unique(np.concatenate([network.arc_from[arcs], network.arc_to[arcs]]))
            outer = ends[network.node_crossing[ends] < 0]
            x, y = network.node_x[outer], network.node_y[outer]
            sides = segment_crossing_counts(np.full(outer.size, x[0]), np.full(outer.size, y[0]), x, y, line) % 2
            assert sides.any(), f"{crossing.name} does not join both banks of {barrier.name}"


def test_shanghai_network_circuity(shanghai):
    """Network km / straight km over node pairs more than 10 km apart averages 1.15-1.5 (25-city mean 1.32)."""
    _scenario, network, _grid = shanghai
    road_km = Router(network, network.arc_km).minutes  # shortest km, not minutes
    straight = np.hypot(network.node_x[:, None] - network.node_x[None, :],
                        network.node_y[:, None] - network.node_y[None, :])
    rng = np.random.default_rng(7)
    a, b = rng.integers(0, network.n_nodes, 5000), rng.integers(0, network.n_nodes, 5000)
    far = straight[a, b] > 10.0
    assert far.sum() > 1000
    circuity = float(np.mean(road_km[a, b][far] / straight[a, b][far]))
    assert 1.15 <= circuity <= 1.5, circuity
    assert (road_km[a, b][far] >= straight[a, b][far] * 1.1 - 1e-9).all(), "no route shorter than link_circuity"

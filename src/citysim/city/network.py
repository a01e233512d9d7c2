"""The road network: a graph of a few hundred nodes generated from the scenario's description.

Layers (all in km on the scenario's projection):
- ring expressways as circles around `network.centre`, with a node every `node_spacing_km` and at
  every radial's bearing (where the two meet, they share the node: an interchange);
- radial expressways from the innermost ring outwards;
- arterials: a lattice over the districts' land (denser inside `grid.inner_radius_km`) joined by the
  edges of its Delaunay triangulation that are no longer than 1.6 lattice spacings;
- ramps joining every expressway node to its nearest arterial node;
- barriers (rivers, coasts): any link crossing one is removed, and each listed crossing adds a node at
  its coordinates linked to the nearest nodes on either bank;
- extra nodes and links written by hand.
Link length = straight-line distance x `link_circuity`. Generated nodes cut off from the main network
(lattice points or expressway stubs stranded by a barrier) are dropped and counted, up to
MAX_DROPPED_SHARE of all nodes; a hand-written node that is cut off, or a larger loss, is an error.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, QhullError, cKDTree

from citysim.arrays import FloatArray, IntArray
from citysim.city.geography import DistrictGrid
from citysim.city.geometry import segment_crossing_counts, segments_cross_polyline
from citysim.config.limits import MAX_NETWORK_NODES
from citysim.config.schema import Network
from citysim.errors import InputError

EXPRESSWAY, ARTERIAL = 0, 1
CLASS_NAMES = ("expressway", "arterial")
LATTICE_LINK_FACTOR = 1.6  # Delaunay edges longer than this many lattice spacings are not roads
RAMP_MAX_KM = 6.0
RAMP_LANES = 2  # ASSUMPTION: ramps and joins to the arterial lattice have two lanes each way
MAX_CROSSING_OFFSET_KM = 3.0  # a crossing must lie this close to its barrier's line (estuary tunnels: mid-channel)
CROSSING_CANDIDATES = 40
SNAP_CANDIDATES = 8
MAX_DROPPED_SHARE = 0.05
MAX_LATTICE_POINTS = 250_000  # a guard before the lattice is allocated



@dataclass(frozen=True)
class _Link:
    """A two-way road between two nodes; `km` set only where the scenario gives the length."""

    a: int
    b: int
    road_class: int
    lanes: int
    km: float | None = None
    crossing: str | None = None  # the bridge or tunnel this link is, if it crosses a barrier


@dataclass
class _Builder:
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)  # "ring", "radial", "grid", "extra", "crossing"
    links: list[_Link] = field(default_factory=list)

    def node(self, x: float, y: float, kind: str) -> int:
        self.x.append(x)
        self.y.append(y)
        self.kind.append(kind)
        return len(self.x) - 1


@dataclass(frozen=True)
class RoadNetwork:
    """Nodes and directed arcs (each link is two arcs), with free-flow times and capacities."""

    node_x: FloatArray
    node_y: FloatArray
    node_district: IntArray
    arc_from: IntArray
    arc_to: IntArray
    arc_km: FloatArray
    arc_class: IntArray
    arc_lanes: IntArray
    arc_capacity: FloatArray  # veh/h
    arc_free_flow_min: FloatArray
    arc_district: IntArray
    barrier_lines: tuple[FloatArray, ...]
    dropped_lattice_nodes: int
    arc_crossing: IntArray  # index into crossing_names, -1 for arcs that cross no barrier
    node_crossing: IntArray  # the crossing a node stands on (its bridge or tunnel), -1 for other nodes
    crossing_names: tuple[str, ...]

    @property
    def n_nodes(self) -> int:
        return int(self.node_x.size)

    @property
    def n_arcs(self) -> int:
        return int(self.arc_from.size)

    @functools.cached_property
    def arc_index(self) -> IntArray:
        """Dense node x node matrix of arc index + 1 (0: no arc), to turn a node path into arcs."""
        n = self.n_nodes
        index = csr_matrix((np.arange(1, self.n_arcs + 1), (self.arc_from, self.arc_to)), shape=(n, n))
        return np.asarray(index.toarray(), dtype=np.intp)

    def snap(self, x: FloatArray, y: FloatArray) -> tuple[IntArray, FloatArray]:
        """Nearest node to each point reachable without crossing a barrier, and the straight-line km."""
        tree = cKDTree(np.column_stack([self.node_x, self.node_y]))
        k = min(SNAP_CANDIDATES, self.n_nodes)
        distance, index = tree.query(np.column_stack([x, y]), k=k)
        distance, index = distance.reshape(len(x), k), index.reshape(len(x), k)
        choice = np.zeros(len(x), dtype=np.intp)
        pending = np.arange(len(x))  # points whose current candidate crosses a barrier
        for j in range(k):
            crosses = np.zeros(pending.size, dtype=bool)
            for line in self.barrier_lines:
                crosses |= segments_cross_polyline(x[pending], y[pending], self.node_x[index[pending, j]],
                                                   self.node_y[index[pending, j]], line)
            choice[pending[~crosses]] = j
            pending = pending[crosses]
            if pending.size == 0:
                break
        rows = np.arange(len(x))
        return index[rows, choice].astype(np.intp), distance[rows, choice]


def _rings_and_radials(spec: Network, b: _Builder, cx: float, cy: float) -> list[int]:
    """Ring and radial expressway nodes and links; returns the expressway node ids."""
    rings = sorted(spec.rings, key=lambda r: r.radius_km)
    bearings = sorted({round(r.bearing_deg, 6) for r in spec.radials})
    ring_nodes: list[dict[float, int]] = []
    for ring in rings:
        count = max(6, math.ceil(2 * math.pi * ring.radius_km / ring.node_spacing_km))
        start, end = ring.arc_deg if ring.arc_deg is not None else (0.0, 360.0)
        span = (end - start) % 360.0 or 360.0

        def covered(angle: float, start: float = start, span: float = span) -> bool:
            return (angle - start) % 360.0 <= span + 1e-9

        angles = sorted(set(np.round(np.arange(count) * 360.0 / count, 6)) | set(bearings),
                        key=lambda a: (a - start) % 360.0)
        angles = [a for a in angles if covered(a)]
        nodes = {a: b.node(cx + ring.radius_km * math.sin(math.radians(a)),
                           cy + ring.radius_km * math.cos(math.radians(a)), "ring") for a in angles}
        ordered = [nodes[a] for a in angles]
        closed = ring.arc_deg is None
        for i, node in enumerate(ordered[: len(ordered) if closed else len(ordered) - 1]):
            b.links.append(_Link(node, ordered[(i + 1) % len(ordered)], EXPRESSWAY, ring.lanes))
        ring_nodes.append(nodes)
    for radial in spec.radials:
        angle = round(radial.bearing_deg, 6)
        sin, cos = math.sin(math.radians(angle)), math.cos(math.radians(angle))
        stops = [(r.radius_km, ring_nodes[i][angle]) for i, r in enumerate(rings)
                 if r.radius_km < radial.length_km and angle in ring_nodes[i]]
        start = rings[0].radius_km if rings else 0.0
        chain: list[int] = []
        previous_radius = start
        for radius, ring_node in [*stops, (radial.length_km, -1)]:
            gap = radius - previous_radius
            steps = max(1, math.ceil(gap / radial.node_spacing_km)) if gap > 0 else 0
            for step in range(1, steps):
                r = previous_radius + gap * step / steps
                chain.append(b.node(cx + r * sin, cy + r * cos, "radial"))
            if ring_node >= 0:
                chain.append(ring_node)
            elif gap > 0:
                chain.append(b.node(cx + radius * sin, cy + radius * cos, "radial"))
            previous_radius = radius
        if not rings:
            chain.insert(0, b.node(cx, cy, "radial"))
        for a, c in itertools.pairwise(chain):
            b.links.append(_Link(a, c, EXPRESSWAY, radial.lanes))
    return [i for i, k in enumerate(b.kind) if k in ("ring", "radial")]


def _lattice(spec: Network, grid: DistrictGrid, b: _Builder, cx: float, cy: float) -> list[int]:
    """Arterial lattice nodes on the districts' land and their Delaunay links; returns node ids."""
    g = spec.grid
    xmin, ymin, xmax, ymax = grid.bounds()
    reach = float(np.max(np.hypot([xmin - cx, xmax - cx], [ymin - cy, ymax - cy])))
    for spacing, key in ((g.inner_spacing_km, "inner_spacing_km"), (g.outer_spacing_km, "outer_spacing_km")):
        size = (2 * math.ceil(reach / spacing) + 1) ** 2
        if size > MAX_LATTICE_POINTS:
            raise InputError(None, f"an arterial lattice {spacing:g} km apart over the districts' {reach:,.0f} km "
                             f"reach would have {size:,} points, more than {MAX_LATTICE_POINTS:,}; expected a "
                             "spacing of a city's blocks (about 1-10 km).", ("network", "grid", key))
    points: list[tuple[float, float, float]] = []
    for spacing, inner in ((g.inner_spacing_km, True), (g.outer_spacing_km, False)):
        steps = np.arange(-math.ceil(reach / spacing), math.ceil(reach / spacing) + 1) * spacing
        xs, ys = np.meshgrid(cx + steps, cy + steps)
        xs, ys = xs.ravel(), ys.ravel()
        radius = np.hypot(xs - cx, ys - cy)
        keep = radius <= g.inner_radius_km if inner else radius > g.inner_radius_km
        keep &= grid.on_land(xs, ys)
        points.extend((float(x), float(y), spacing) for x, y in zip(xs[keep], ys[keep], strict=True))
    _check_node_count(len(b.x) + len(points), ("network", "grid"))
    if len(points) < 3:
        raise InputError(None, f"the arterial lattice has {len(points)} point(s) on land; expected at least 3 "
                         "(make grid.inner_spacing_km / outer_spacing_km smaller than the districts).",
                         ("network", "grid"))
    ids = [b.node(x, y, "grid") for x, y, _ in points]
    spacing_of = np.array([s for _, _, s in points])
    coords = np.array([[x, y] for x, y, _ in points])
    try:
        triangles = Delaunay(coords).simplices
    except QhullError:
        raise InputError(None, "the arterial lattice's points lie on one line, so they cannot form a road grid; "
                         "make grid.inner_spacing_km / outer_spacing_km smaller.", ("network", "grid")) from None
    edges = {tuple(sorted((int(t[i]), int(t[j])))) for t in triangles for i, j in ((0, 1), (1, 2), (0, 2))}
    for i, j in sorted(edges):
        length = float(np.hypot(*(coords[i] - coords[j])))
        if length <= LATTICE_LINK_FACTOR * max(spacing_of[i], spacing_of[j]):
            b.links.append(_Link(ids[i], ids[j], ARTERIAL, g.lanes))
    return ids


def _ramps(b: _Builder, expressway: list[int], arterial: list[int]) -> None:
    tree = cKDTree(np.column_stack([np.array(b.x)[arterial], np.array(b.y)[arterial]]))
    distance, index = tree.query(np.column_stack([np.array(b.x)[expressway], np.array(b.y)[expressway]]))
    for node, d, i in zip(expressway, distance, index, strict=True):
        if d <= RAMP_MAX_KM:
            b.links.append(_Link(node, arterial[int(i)], ARTERIAL, RAMP_LANES))


def _component_sizes(n: int, links: list[_Link]) -> np.ndarray:
    """For each node, the number of nodes in its connected component."""
    pairs = np.array([(link.a, link.b) for link in links], dtype=np.intp).reshape(-1, 2)
    graph = csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    return np.asarray(np.bincount(label)[label], dtype=np.intp)


def _distance_to_polyline(line: np.ndarray, px: float, py: float) -> float:
    start, direction = line[:-1], line[1:] - line[:-1]
    t = np.clip(((px - start[:, 0]) * direction[:, 0] + (py - start[:, 1]) * direction[:, 1])
                / (direction**2).sum(axis=1), 0.0, 1.0)
    return float(np.hypot(start[:, 0] + t * direction[:, 0] - px, start[:, 1] + t * direction[:, 1] - py).min())


def _crossing_link(
    x: np.ndarray, y: np.ndarray, tree: cKDTree, line: np.ndarray, sizes: np.ndarray, px: float, py: float
) -> tuple[int, int] | None:
    """The node pair a crossing at (px, py) joins: on opposite banks (the segment between them crosses
    the line an odd number of times), linking the largest road systems there (not stranded stubs),
    then the shortest. None if no nearby pair straddles the barrier."""
    _, near = tree.query([px, py], k=min(CROSSING_CANDIDATES, len(x)))
    a, b = np.meshgrid(near, near, indexing="ij")
    a, b = a.ravel(), b.ravel()
    keep = a < b
    a, b = a[keep], b[keep]
    across = segment_crossing_counts(x[a], y[a], x[b], y[b], line) % 2 == 1
    if not across.any():
        return None
    a, b = a[across], b[across]
    smaller_system = np.minimum(sizes[a], sizes[b])
    reach = np.hypot(x[a] - px, y[a] - py) + np.hypot(x[b] - px, y[b] - py)
    best = np.lexsort((reach, -smaller_system))[0]
    return int(a[best]), int(b[best])


def _apply_barriers(spec: Network, grid: DistrictGrid, b: _Builder) -> list[np.ndarray]:
    """Cut every link that crosses a barrier, then add each listed crossing: a node at its coordinates,
    linked to the nearest nodes on either bank, so that a route over it passes where it really is."""
    lines = []
    for index, barrier in enumerate(spec.barriers):
        x, y = np.array(b.x), np.array(b.y)
        tree = cKDTree(np.column_stack([x, y]))
        line = np.array([grid.projection.to_km(lat, lon) for lat, lon in barrier.points])
        lines.append(line)
        ends = np.array([(link.a, link.b) for link in b.links])
        crosses = segments_cross_polyline(x[ends[:, 0]], y[ends[:, 0]], x[ends[:, 1]], y[ends[:, 1]], line)
        b.links = [link for link, cut in zip(b.links, crosses, strict=True) if not cut]
        sizes = _component_sizes(len(x), b.links)
        for number, crossing in enumerate(barrier.crossings):
            where = ("network", "barriers", index, "crossings", number)
            px, py = grid.projection.to_km(crossing.lat, crossing.lon)
            offset = _distance_to_polyline(line, px, py)
            if offset > MAX_CROSSING_OFFSET_KM:
                raise InputError(None, f"crossing '{crossing.name}' lies {offset:.1f} km from the line of barrier "
                                 f"'{barrier.name}'; expected a point within {MAX_CROSSING_OFFSET_KM} km of it "
                                 "(check its lat/lon, or the barrier's points).", where)
            pair = _crossing_link(x, y, tree, line, sizes, px, py)
            if pair is None:
                raise InputError(None, f"crossing '{crossing.name}' of barrier '{barrier.name}' has no road nodes "
                                 "near it on both banks; check its lat/lon.", where)
            road_class = EXPRESSWAY if crossing.road_class == "expressway" else ARTERIAL
            middle = b.node(px, py, "crossing")
            for end in pair:
                b.links.append(_Link(end, middle, road_class, crossing.lanes, crossing=crossing.name))
    return lines


def _check_node_count(nodes: int, where: tuple[str | int, ...]) -> None:
    """The real node count against MAX_NETWORK_NODES, before triangulation and all-pairs shortest paths
    (the land of a GeoJSON can hold more lattice points than config.limits estimated from area_km2)."""
    if nodes > MAX_NETWORK_NODES:
        raise InputError(None, f"the road network would have {nodes:,} nodes, more than the limit of "
                         f"{MAX_NETWORK_NODES:,} (Shanghai's has 490); expected node and lattice spacings of "
                         "kilometres.", where)


def build_network(spec: Network, grid: DistrictGrid) -> RoadNetwork:
    """Generate the network a scenario describes; raise InputError if it is broken."""
    b = _Builder()
    cx, cy = grid.projection.to_km(spec.centre[0], spec.centre[1])
    expressway = _rings_and_radials(spec, b, cx, cy)
    arterial = _lattice(spec, grid, b, cx, cy)
    if expressway and arterial:
        _ramps(b, expressway, arterial)
    names = {}
    for extra in spec.extra_nodes:
        names[extra.name] = b.node(*grid.projection.to_km(extra.lat, extra.lon), "extra")
        if extra.join_network and arterial:
            _ramps(b, [names[extra.name]], arterial)
    for link in spec.extra_links:
        b.links.append(_Link(names[link.from_node], names[link.to_node],
                             EXPRESSWAY if link.road_class == "expressway" else ARTERIAL, link.lanes, link.length_km))
    lines = _apply_barriers(spec, grid, b)
    return _finish(spec, grid, b, lines)


def _merge_parallel(links: list[_Link]) -> list[_Link]:
    """One link per pair of nodes. Where layers meet twice (a ramp along a lattice edge) the faster
    class wins; parallel roads of the same class (two tunnels reaching the same nodes) add their lanes."""
    merged: dict[tuple[int, int], _Link] = {}
    for link in links:
        pair = (min(link.a, link.b), max(link.a, link.b))
        other = merged.get(pair)
        if other is None or link.road_class < other.road_class:
            merged[pair] = link
        elif link.road_class == other.road_class:
            names = " + ".join(n for n in (other.crossing, link.crossing) if n) or None
            merged[pair] = _Link(other.a, other.b, other.road_class, other.lanes + link.lanes, other.km or link.km,
                                 names)
    return list(merged.values())


def _finish(spec: Network, grid: DistrictGrid, b: _Builder, lines: list[np.ndarray]) -> RoadNetwork:
    n = len(b.x)
    size = _component_sizes(n, b.links)
    stray = [i for i in range(n) if size[i] != size.max()]
    bad = [i for i in stray if b.kind[i] == "extra"]
    if bad or len(stray) > MAX_DROPPED_SHARE * n:
        first = (bad or stray)[0]
        what = f"{len(bad)} extra node(s)" if bad else f"{len(stray)} of {n} nodes"
        raise InputError(None, f"the road network is disconnected: {what} cannot be reached from the rest (the "
                         f"first at {b.x[first]:.1f} km east, {b.y[first]:.1f} km north of the districts' mean "
                         "centre); connect them with a link, set join_network on an extra node, or add a barrier "
                         "crossing.", ("network",))
    keep = size == size.max()
    new_id = np.cumsum(keep) - 1
    x, y = np.array(b.x)[keep], np.array(b.y)[keep]
    classes = (spec.classes.expressway, spec.classes.arterial)
    rows = []
    crossing_ids: dict[str, int] = {}
    for link in _merge_parallel([k for k in b.links if keep[k.a] and keep[k.b] and k.a != k.b]):
        crossing = -1 if link.crossing is None else crossing_ids.setdefault(link.crossing, len(crossing_ids))
        straight = math.hypot(b.x[link.a] - b.x[link.b], b.y[link.a] - b.y[link.b])
        km = link.km if link.km is not None else straight * spec.link_circuity
        road = classes[link.road_class]
        capacity = link.lanes * road.capacity_veh_per_hour_per_lane
        free_flow = km / road.free_flow_kmh * 60.0
        for a, c in ((link.a, link.b), (link.b, link.a)):
            rows.append((new_id[a], new_id[c], km, link.road_class, link.lanes, capacity, free_flow, crossing))
    arcs = np.array(rows)
    node_crossing = np.full(int(keep.sum()), -1, dtype=np.intp)
    crossing_arcs = arcs[:, 7] >= 0
    middles = np.array([b.kind[i] == "crossing" for i in range(n)])[keep]
    for node_column in (0, 1):
        ends = arcs[crossing_arcs, node_column].astype(np.intp)
        on = middles[ends]
        node_crossing[ends[on]] = arcs[crossing_arcs, 7][on].astype(np.intp)
    arc_from, arc_to = arcs[:, 0].astype(np.intp), arcs[:, 1].astype(np.intp)
    node_district = grid.district_of(x, y)
    mid_x, mid_y = (x[arc_from] + x[arc_to]) / 2, (y[arc_from] + y[arc_to]) / 2
    return RoadNetwork(
        node_x=x, node_y=y, node_district=node_district,
        arc_from=arc_from, arc_to=arc_to, arc_km=arcs[:, 2], arc_class=arcs[:, 3].astype(np.intp),
        arc_lanes=arcs[:, 4].astype(np.intp), arc_capacity=arcs[:, 5], arc_free_flow_min=arcs[:, 6],
        arc_district=grid.district_of(mid_x, mid_y), barrier_lines=tuple(lines),
        dropped_lattice_nodes=len(stray), arc_crossing=arcs[:, 7].astype(np.intp), node_crossing=node_crossing,
        crossing_names=tuple(crossing_ids),
    )

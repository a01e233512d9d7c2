"""Bus routes on the road network: each line's path on the arterials, its stops, and its buses' running
minutes between stops at any traffic refresh.

A line runs between the nodes on arterials nearest its two terminals (straight-line nearest: a
terminal beside a river may snap across it), on the shortest free-flow path over
arterial arcs only (buses serve the surface roads, not the elevated expressways). Stops stand every
`stop_spacing_km` along the path, the terminals included. A bus's time on a segment between stops is

    running: bus_time_factor x (car link minutes - the links' signal delay), or km / bus_lane_kmh on the
             share of the segment that has an open bus lane (independent of the general traffic, and never
             slower than mixed traffic: a bus may leave the lane);
    signals: segment km x signals per arterial km x delay per signal (`operations.driving.signals`, the
             same signals the police model uses), of which transit signal priority removes a share.

The car link minutes are the traffic profile's BPR times at the clock time of each traffic refresh
(crash queues are not seen by buses: not done). Dwell at stops is added by `citysim.city.buses`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from citysim.arrays import FloatArray, IntArray
from citysim.city.geography import DistrictGrid
from citysim.city.network import ARTERIAL, RoadNetwork
from citysim.city.routing import Router
from citysim.city.traffic import TrafficProfile
from citysim.clock import clock_hour
from citysim.config.operations import Signals
from citysim.config.transit import BusLine, Transit
from citysim.errors import InputError

#: Arc-time factor that keeps expressway arcs out of a bus route unless no arterial path exists.
NON_ARTERIAL_PENALTY = 1e6


@dataclass(frozen=True)
class BusRoute:
    """One direction of one line: its arcs, stops and lane."""

    line: str
    direction: int  # 0: from the first terminal, 1: back
    arcs: IntArray
    arc_start_km: FloatArray  # km along the route where each arc begins
    km: float
    stop_km: FloatArray  # km along the route of each stop (first and last: the terminals)
    lane_km: tuple[float, float] | None  # where a bus lane may run, in km along this direction

    @property
    def n_stops(self) -> int:
        return int(self.stop_km.size)

    def segment_km(self) -> FloatArray:
        return np.diff(self.stop_km)


def line_routes(line: BusLine, index: int, network: RoadNetwork, grid: DistrictGrid) -> tuple[BusRoute, BusRoute]:
    """Both directions of a line on the arterial network; an InputError if no arterial path joins them."""
    penalty = np.where(network.arc_class == ARTERIAL, 1.0, NON_ARTERIAL_PENALTY)
    router = Router(network, network.arc_free_flow_min * penalty, lazy=True)
    ends = [grid.projection.to_km(*line.from_lat_lon), grid.projection.to_km(*line.to_lat_lon)]
    on_arterials = np.unique(network.arc_from[network.arc_class == ARTERIAL])
    _, nearest = cKDTree(np.column_stack([network.node_x[on_arterials], network.node_y[on_arterials]])).query(ends)
    a, b = int(on_arterials[nearest[0]]), int(on_arterials[nearest[1]])
    where = ("transit", "lines", index)
    if a == b:
        raise InputError(None, f"bus line '{line.name}': both terminals snap to the same network node.", where)
    arcs = router.route(a, b)
    if (network.arc_class[arcs] != ARTERIAL).any():
        raise InputError(None, f"bus line '{line.name}': no path on arterial roads joins its terminals.", where)
    reverse = network.arc_index[network.arc_to[arcs][::-1], network.arc_from[arcs][::-1]] - 1
    routes = []
    for direction, path in enumerate((arcs, reverse)):
        km_each = network.arc_km[path]
        total = float(km_each.sum())
        count = max(2, round(total / line.stop_spacing_km) + 1)
        lane: tuple[float, float] | None = None
        if line.bus_lane_km is not None:
            start, end = min(line.bus_lane_km[0], total), min(line.bus_lane_km[1], total)
            lane = (start, end) if direction == 0 else (total - end, total - start)
        routes.append(BusRoute(line.name, direction, np.asarray(path, dtype=np.intp),
                               np.concatenate([[0.0], np.cumsum(km_each)[:-1]]), total,
                               np.linspace(0.0, total, count), lane))
    return routes[0], routes[1]


def lane_share_by_arc(route: BusRoute, open_share: float) -> FloatArray:
    """Share of each arc of the route covered by an open bus lane: the first `open_share` of the line's lane
    stretch, counted from the line's first terminal."""
    if route.lane_km is None or open_share <= 0:
        return np.zeros(route.arcs.size)
    start, end = route.lane_km
    length = (end - start) * open_share
    if route.direction == 0:
        lane_start, lane_end = start, start + length
    else:  # the reverse direction: the same physical stretch, measured from the other end
        lane_start, lane_end = end - length, end
    arc_end = np.concatenate([route.arc_start_km[1:], [route.km]])
    overlap = np.clip(np.minimum(arc_end, lane_end) - np.maximum(route.arc_start_km, lane_start), 0.0, None)
    return np.asarray(overlap / np.maximum(arc_end - route.arc_start_km, 1e-12))


@dataclass(frozen=True)
class SegmentTimes:
    """A route's bus minutes per stop-to-stop segment: running by traffic refresh slot, and signal delay."""

    refresh_min: float
    running: FloatArray  # (slot, segment)
    signal: FloatArray  # (segment,) before any priority

    def slot(self, t_min: float) -> int:
        return min(int(t_min // self.refresh_min), int(self.running.shape[0]) - 1)


def car_minutes_by_slot(profile: TrafficProfile, start_clock_h: float, horizon_min: float,
                        refresh_min: float) -> FloatArray:
    """The profile's BPR minutes of every arc at the start of every traffic refresh slot: (slot, arc),
    computed once and shared by every route."""
    slots = int(np.ceil(horizon_min / refresh_min)) + 1
    return np.array([profile.arc_minutes(clock_hour(start_clock_h, s * refresh_min)) for s in range(slots)])


def segment_times(route: BusRoute, network: RoadNetwork, car_minutes: FloatArray, refresh_min: float,
                  transit: Transit, signals: Signals | None, lane_open_share: float) -> SegmentTimes:
    """Running minutes of every segment in every refresh slot of `car_minutes` (vectorised over slots and
    arcs)."""
    arcs = route.arcs
    km = network.arc_km[arcs]
    per_signal = signals.delay_min if signals else 0.0
    signals_per_km = signals.arterial_per_km if signals else 0.0
    signal_arc = km * signals_per_km * per_signal  # minutes of signal delay inside each arc's car time
    lane = lane_share_by_arc(route, lane_open_share)
    lane_min = km / transit.bus_lane_kmh * 60.0
    slots = car_minutes.shape[0]
    mixed = transit.bus_time_factor * np.maximum(car_minutes[:, arcs] - signal_arc, 0.0)
    running = (1.0 - lane) * mixed + lane * np.minimum(lane_min, mixed)
    arc_edges = np.concatenate([route.arc_start_km, [route.km]])
    cumulative = np.concatenate([np.zeros((slots, 1)), np.cumsum(running, axis=1)], axis=1)
    at_stops = np.array([np.interp(route.stop_km, arc_edges, row) for row in cumulative])
    return SegmentTimes(refresh_min, np.diff(at_stops, axis=1), route.segment_km() * signals_per_km * per_signal)

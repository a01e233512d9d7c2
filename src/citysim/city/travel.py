"""Police travel times: the one interface the dispatcher and units use (`TravelModel`).

Three models: `StraightLine` (distance x circuity at the clock hour's speed), `Instant` (zero, for
queueing-theory reductions) and `OnNetwork` (routes through current traffic on the road network).
Every trip is turn-out + driving time x a lognormal noise factor of mean 1; the dispatcher ranks
units by `estimate_min` (what it can know), a unit experiences `drive` (what the road gives).
A `Place` is (x, y) in km plus, on the network, the node it is reached from and the straight-line km
of its access leg; `lead` (a unit on its way home, placed at the nearer end of its trip) is the minutes
it needs to get there, added to every trip it starts. `Instant` uses neither. `Places` holds the same
fields as arrays, one entry per unit.
A trip whose straight line crosses a barrier (river, coast) cannot take local streets: it goes on the
network, whose only links across a barrier are its bridges and tunnels, and reports the one it used.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Protocol

import numpy as np

from citysim.arrays import FloatArray, IntArray
from citysim.city.context import CityContext
from citysim.city.geometry import BarrierLines
from citysim.city.routing import Router
from citysim.city.traffic import TrafficState
from citysim.config.schema import InstantTravel, NetworkTravel, StraightLineTravel


class Place(NamedTuple):
    """Where a trip starts or ends (see the module docstring)."""

    x: float
    y: float
    node: int
    access: float
    lead: float = 0.0


class Places(NamedTuple):
    """Many places at once (the origins the dispatcher compares)."""

    x: FloatArray
    y: FloatArray
    node: IntArray
    access: FloatArray
    lead: FloatArray


class Trip(NamedTuple):
    """A drive: road km, minutes (before noise), the barrier crossing it used (-1: none), and how many of
    its km are on arterials and on local streets (where the signals are; the rest is expressway)."""

    km: float
    minutes: float
    crossing: int = -1
    arterial_km: float = 0.0
    local_km: float = 0.0


class TravelModel(Protocol):
    """What dispatch and units need to know about travel."""

    #: True when every trip takes zero time (then any available unit is as near as any other).
    instant: bool

    def locate(self, x: FloatArray, y: FloatArray) -> tuple[IntArray, FloatArray]:
        """Network node and access-leg km of each point (-1 and 0 off the network)."""
        ...

    def estimate_min(self, origins: Places, destination: Place, clock_h: float) -> FloatArray:
        """Expected driving minutes from each origin to one destination (the dispatcher's estimate)."""
        ...

    def nearest(self, origins: Places, destination: Place, clock_h: float) -> int:
        """Index of the origin with the shortest `estimate_min` (the first of equals)."""
        ...

    def drive(
        self, origin: Place, destination: Place, now: float, clock_h: float, current_routing: bool = False
    ) -> Trip:
        """The trip starting now; `current_routing` routes it on current link times instead of the
        scenario's routing."""
        ...

    def turnout_min(self, u: FloatArray) -> FloatArray:
        """Turn-out times (assignment to moving), by inverse transform of uniforms."""
        ...

    def noise_factor(self, u: FloatArray) -> FloatArray:
        """Multipliers (mean 1) of actual over expected driving time, from uniforms."""
        ...


class _Noisy:
    """Turn-out and noise shared by the moving models."""

    def __init__(self, spec: StraightLineTravel | NetworkTravel) -> None:
        self._turnout = spec.turnout
        sigma2 = math.log1p(spec.noise_cv**2)
        self._noise_sigma = math.sqrt(sigma2)
        self._noise_mu = -sigma2 / 2

    def turnout_min(self, u: FloatArray) -> FloatArray:
        return self._turnout.ppf(u)

    def noise_factor(self, u: FloatArray) -> FloatArray:
        if self._noise_sigma == 0.0:
            return np.ones_like(u)
        from scipy.special import ndtri

        return np.asarray(np.exp(self._noise_mu + self._noise_sigma * ndtri(u)), dtype=np.float64)

    def locate(self, x: FloatArray, y: FloatArray) -> tuple[IntArray, FloatArray]:
        return np.full(len(x), -1, dtype=np.intp), np.zeros(len(x))


class StraightLine(_Noisy):
    """Distance x circuity at an hourly speed; see module docstring."""

    instant = False

    def __init__(self, spec: StraightLineTravel) -> None:
        super().__init__(spec)
        self._circuity = spec.circuity
        self._min_per_km = [60.0 / v for v in spec.speed_kmh_by_hour]

    def estimate_min(self, origins: Places, destination: Place, clock_h: float) -> FloatArray:
        return np.hypot(origins.x - destination.x, origins.y - destination.y) * (
            self._circuity * self._min_per_km[int(clock_h) % 24]) + origins.lead

    def nearest(self, origins: Places, destination: Place, clock_h: float) -> int:
        return int(np.argmin(self.estimate_min(origins, destination, clock_h)))

    def drive(
        self, origin: Place, destination: Place, now: float, clock_h: float, current_routing: bool = False
    ) -> Trip:
        km = math.hypot(origin.x - destination.x, origin.y - destination.y) * self._circuity
        return Trip(km, km * self._min_per_km[int(clock_h) % 24] + origin.lead, local_km=km)


class Instant:
    """Zero travel time: every available unit is equally near, so 'nearest' takes the first in list."""

    instant = True

    def locate(self, x: FloatArray, y: FloatArray) -> tuple[IntArray, FloatArray]:
        return np.full(len(x), -1, dtype=np.intp), np.zeros(len(x))

    def estimate_min(self, origins: Places, destination: Place, clock_h: float) -> FloatArray:
        return np.zeros_like(origins.x)

    def nearest(self, origins: Places, destination: Place, clock_h: float) -> int:
        return 0

    def drive(
        self, origin: Place, destination: Place, now: float, clock_h: float, current_routing: bool = False
    ) -> Trip:
        return Trip(0.0, 0.0)

    def turnout_min(self, u: FloatArray) -> FloatArray:
        return np.zeros_like(u)

    def noise_factor(self, u: FloatArray) -> FloatArray:
        return np.ones_like(u)


class OnNetwork(_Noisy):
    """Routes on the road network: the dispatcher estimates with the hour's typical traffic; the unit
    drives its route (habitual = shortest at free flow, or shortest at current times) through current
    link times and crash queues, with local-street access legs at both ends. A trip shorter by local
    streets alone (straight-line km x access circuity at the access speed) takes them instead, unless
    its straight line crosses a barrier: the network is a skeleton, and short trips never join it, but
    no street crosses a river except on the network's bridges and tunnels. Local streets congest like
    arterials (the access speed is their free-flow speed, divided by the arterials' BPR factor at the
    time), with the cruising for parking of the destination's district: ASSUMPTION, a trip's local
    streets (both access legs, or the whole trip by local streets) are taken to be the destination's."""

    instant = False

    def __init__(self, spec: NetworkTravel, city: CityContext, traffic: TrafficState) -> None:
        super().__init__(spec)
        self.city = city
        self.traffic = traffic
        self._current_routing = spec.routing == "current"
        self._access_min_per_km = spec.access_circuity * 60.0 / spec.access_speed_kmh
        self._access_circuity = spec.access_circuity
        self._queue_share = spec.police_queue_share
        self._current: tuple[int, Router] | None = None
        self._barriers = BarrierLines(city.network.barrier_lines)

    def locate(self, x: FloatArray, y: FloatArray) -> tuple[IntArray, FloatArray]:
        return self.city.network.snap(x, y)

    def _estimates(self, origins: Places, destination: Place, clock_h: float) -> tuple[FloatArray, FloatArray]:
        """Network and local-street estimates (minutes) from each origin."""
        matrix = self.city.typical(int(clock_h) % 24).minutes
        factor = self.city.profile.local_time_factor(int(clock_h) % 24 + 0.5, destination.node)
        per_km = self._access_min_per_km * factor
        access = (origins.access + destination.access) * per_km
        network = matrix[origins.node, destination.node] + access + origins.lead
        local = np.hypot(origins.x - destination.x, origins.y - destination.y) * per_km + origins.lead
        return network, local

    def _local_blocked(self, ox: float, oy: float, destination: Place) -> bool:
        return self._barriers.crosses(ox, oy, destination.x, destination.y)

    def estimate_min(self, origins: Places, destination: Place, clock_h: float) -> FloatArray:
        network, local = self._estimates(origins, destination, clock_h)
        for i in np.flatnonzero(local < network):
            if self._local_blocked(float(origins.x[i]), float(origins.y[i]), destination):
                local[i] = network[i]
        return np.asarray(np.minimum(network, local), dtype=np.float64)

    def nearest(self, origins: Places, destination: Place, clock_h: float) -> int:
        """As `estimate_min`'s argmin, checking barriers only for the leading candidates."""
        network, local = self._estimates(origins, destination, clock_h)
        best = np.minimum(network, local)
        while True:
            i = int(np.argmin(best))
            if local[i] >= network[i] or not self._local_blocked(float(origins.x[i]), float(origins.y[i]),
                                                                 destination):
                return i
            local[i] = best[i] = network[i]

    def _router(self, now: float, current_routing: bool) -> Router:
        """Habitual routes, or shortest paths at the link times and crash queues of the last refresh."""
        if not (self._current_routing or current_routing):
            return self.city.free_flow
        if self._current is None or self._current[0] != self.traffic.refresh_count:
            minutes = self.traffic.arc_minutes_with_queues(now, self._queue_share)
            self._current = (self.traffic.refresh_count, Router(self.city.network, minutes, lazy=True))
        return self._current[1]

    def drive(
        self, origin: Place, destination: Place, now: float, clock_h: float, current_routing: bool = False
    ) -> Trip:
        straight = math.hypot(origin.x - destination.x, origin.y - destination.y)
        per_km = self._access_min_per_km * self.city.profile.local_time_factor(clock_h, destination.node)
        local = straight * per_km + origin.lead
        leg = self._router(now, current_routing).leg(origin.node, destination.node)
        access = origin.access + destination.access
        minutes = self.traffic.route_minutes(leg.arcs, now, self._queue_share) + access * per_km + origin.lead
        if local < minutes and not self._local_blocked(origin.x, origin.y, destination):
            km = straight * self._access_circuity
            return Trip(km, local, local_km=km)
        local_km = access * self._access_circuity
        # A trip that starts or ends on a bridge's or tunnel's own node crosses there.
        node_crossing = self.city.network.node_crossing
        crossing = leg.crossing if leg.crossing >= 0 else int(max(node_crossing[origin.node],
                                                                   node_crossing[destination.node]))
        return Trip(leg.km + local_km, minutes, crossing, leg.arterial_km, local_km)


def make_travel(
    spec: StraightLineTravel | InstantTravel | NetworkTravel,
    city: CityContext | None = None,
    traffic: TrafficState | None = None,
) -> TravelModel:
    """Build the travel model a scenario asks for."""
    if isinstance(spec, StraightLineTravel):
        return StraightLine(spec)
    if isinstance(spec, NetworkTravel):
        assert city is not None and traffic is not None
        return OnNetwork(spec, city, traffic)
    return Instant()

"""Traffic state: link volumes from hourly demand, BPR link times, and queues behind crash blockages.

Volumes: v = demand_ratio[class](clock) x capacity x (1 + cruising share), the cruising share (cars
cruising for parking, `citysim.city.parking`) on the parking districts' arterials and local streets; both
interpolated linearly between hour midpoints. Link time: BPR, t = t0 (1 + alpha (v/c)^beta), recomputed
for all links at once every `refresh_min`. Local streets congest like the arterials of the district the
trip goes to, cruising included.

A crash leaves `capacity_factor` of its link's capacity while blocked. Traffic reaches the blockage
at q = min(v, queue_inflow_cap x c) (demand above that is already queued or diverted upstream: an
assumption), so a deterministic queue grows at q - c_r while blocked and discharges at c - q after.
The queue holds at most `storage` vehicles (set by the traffic layer: `queue_storage_links` x the
crash link's lanes x km x jam density, its link and the links behind it); once it is full, the
arrivals the blockage cannot pass (q - c_r) divert, each paying `detour_min`.
A vehicle arriving when the queue holds Q waits Q / (current service rate). The crash's total delay is
the exact integral of the piecewise-linear queue (grow, stay full, dissolve) plus diverted x detour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from citysim.arrays import FloatArray, IntArray
from citysim.city.network import ARTERIAL, EXPRESSWAY, RoadNetwork
from citysim.city.parking import cruising_flow
from citysim.config.schema import RoadClasses, Traffic


def bpr_minutes(free_flow_min: FloatArray, volume_capacity: FloatArray, alpha: float, beta: float) -> FloatArray:
    """BPR link time: t0 (1 + alpha x^beta)."""
    return free_flow_min * (1.0 + alpha * volume_capacity**beta)


class QueueSummary(NamedTuple):
    """What one ended blockage cost: its queue and its diverted traffic."""

    blockage_min: float  # D
    dissolve_min: float  # T: from the end of the blockage until the queue is gone
    peak_queue_veh: float
    diverted_veh: float
    queue_vehicle_h: float  # the integral of the queue over time
    detour_vehicle_h: float  # diverted vehicles x detour minutes

    @property
    def delay_vehicle_h(self) -> float:
        return self.queue_vehicle_h + self.detour_vehicle_h


@dataclass
class Blockage:
    """One crash's blockage of one arc (storage inf: an unbounded queue, no diversion)."""

    arc: int
    start: float
    capacity_factor: float
    inflow: float  # veh/h reaching the blockage
    capacity: float  # veh/h of the arc unblocked
    storage: float = math.inf  # vehicles the queue can hold before arrivals divert
    detour_min: float = 0.0  # extra minutes of a diverted vehicle
    end: float = math.inf

    def _growth(self) -> float:
        """veh/min the queue grows by while blocked and not full (the arrivals that divert once full)."""
        return max(0.0, self.inflow - self.capacity * self.capacity_factor) / 60.0

    def queue(self, now: float) -> float:
        """Vehicles queued at time `now` (minutes)."""
        growth = self._growth()
        if now <= self.end:
            return min(growth * (now - self.start), self.storage)
        peak = min(growth * (self.end - self.start), self.storage)
        return max(0.0, peak - (self.capacity - self.inflow) / 60.0 * (now - self.end))

    def delay_min(self, now: float) -> float:
        """Queueing delay of a vehicle arriving at `now`."""
        queue = self.queue(now)
        if queue <= 0.0:
            return 0.0
        rate = self.capacity * (self.capacity_factor if now <= self.end else 1.0) / 60.0
        return queue / rate

    def summary(self) -> QueueSummary:
        """The ended blockage's queue and diversion, integrated exactly."""
        duration = self.end - self.start
        growth = self._growth()
        fill = self.storage / growth if growth > 0 else math.inf  # minutes until the queue is full
        if duration <= fill:
            peak, diverted = growth * duration, 0.0
            blocked_area = 0.5 * peak * duration
        else:
            peak, diverted = self.storage, growth * (duration - fill)
            blocked_area = 0.5 * peak * fill + peak * (duration - fill)
        dissolve = peak / ((self.capacity - self.inflow) / 60.0) if peak > 0 else 0.0
        return QueueSummary(duration, dissolve, peak, diverted, (blocked_area + 0.5 * peak * dissolve) / 60.0,
                            diverted * self.detour_min / 60.0)


class TrafficProfile:
    """The deterministic part of traffic: volumes and BPR times at any clock time (scenario-level)."""

    def __init__(self, network: RoadNetwork, classes: RoadClasses, traffic: Traffic, parking_districts: list[int]):
        self.network = network
        self.traffic = traffic
        ratios = np.array([classes.expressway.demand_ratio_by_hour, classes.arterial.demand_ratio_by_hour])
        self._ratios = ratios  # (class, hour)
        self._arterial_ratios = classes.arterial.demand_ratio_by_hour  # as floats, for the scalar path
        self.parking_districts = parking_districts
        self.cruising = cruising_flow(network, traffic.parking, self._arterial_ratios, parking_districts)
        # Slot 0: no cruising; slot k: the k-th parking district (arterial arcs and nodes in it).
        shares = np.vstack([np.zeros(24), self.cruising.share])
        districts = max(int(network.node_district.max()), int(network.arc_district.max()), *parking_districts) + 1
        slot_of_district = np.zeros(districts, dtype=np.intp)
        slot_of_district[parking_districts] = np.arange(1, len(parking_districts) + 1)
        arc_slot = np.where(network.arc_class == ARTERIAL, slot_of_district[network.arc_district], 0)
        self._arc_shares = np.ascontiguousarray(shares[arc_slot].T)  # (hour, arc)
        self._node_slot: list[int] = slot_of_district[network.node_district].tolist()
        self._shares = shares.tolist()  # (slot, hour), as floats for the scalar path

    @staticmethod
    def _between_hours(clock_h: float) -> tuple[int, int, float]:
        """The two hours whose midpoints enclose a clock time, and the weight of the later one."""
        position = (clock_h - 0.5) % 24.0
        low = int(position) % 24
        return low, (low + 1) % 24, position - int(position)

    def _class_ratios(self, clock_h: float) -> FloatArray:
        """Volume/capacity of each road class at a clock time (linear between hour midpoints)."""
        low, high, weight = self._between_hours(clock_h)
        return np.asarray((1 - weight) * self._ratios[:, low] + weight * self._ratios[:, high])

    def volume_factor(self, clock_h: float) -> FloatArray:
        """Per-arc 1 + cruising share at a clock time (1 off the parking districts' arterials)."""
        low, high, weight = self._between_hours(clock_h)
        shares = self._arc_shares
        return np.asarray(1.0 + ((1 - weight) * shares[low] + weight * shares[high]))

    def demand_ratio(self, clock_h: float) -> FloatArray:
        """Per-arc volume/capacity at a clock time."""
        by_class = self._class_ratios(clock_h)
        return np.asarray(by_class[self.network.arc_class] * self.volume_factor(clock_h), dtype=np.float64)

    def local_time_factor(self, clock_h: float, node: int) -> float:
        """Congested / free-flow time on the local streets of a node's district (`district_local_factor`)."""
        return self.district_local_factor(clock_h, self._node_slot[node])

    def district_local_factor(self, clock_h: float, slot: int) -> float:
        """Congested / free-flow time on local streets: the arterials' BPR factor with the cruising share of
        parking district `slot` (1-based, in `parking_districts` order; 0: no cruising), an assumption.

        Asked once per trip, so computed on Python floats (the same operations as `_class_ratios`)."""
        low, high, weight = self._between_hours(clock_h)
        ratios = self._arterial_ratios
        ratio = (1 - weight) * ratios[low] + weight * ratios[high]
        if slot:
            shares = self._shares[slot]
            ratio *= 1.0 + ((1 - weight) * shares[low] + weight * shares[high])
        return float(1.0 + self.traffic.bpr_alpha * ratio**self.traffic.bpr_beta)

    def arc_minutes(self, clock_h: float) -> FloatArray:
        """BPR minutes of every arc at a clock time, without crashes."""
        t = self.traffic
        return bpr_minutes(self.network.arc_free_flow_min, self.demand_ratio(clock_h), t.bpr_alpha, t.bpr_beta)

    def vehicle_km_per_hour(self, clock_h: float) -> FloatArray:
        """Vehicle-km per hour on each arc (crash exposure)."""
        return self.demand_ratio(clock_h) * self.network.arc_capacity * self.network.arc_km


TRAFFIC_LOG_COLUMNS = ["t_min", "clock_h", "expressway_kmh", "arterial_kmh", "travel_time_index", "blockages",
                       "recurrent_delay_veh_h_per_h"]


class TrafficState:
    """Current link times (refreshed) and active blockages of one replication."""

    def __init__(self, profile: TrafficProfile) -> None:
        self.profile = profile
        self.arc_minutes = profile.network.arc_free_flow_min.copy()
        self.blocked: dict[int, list[Blockage]] = {}
        self.log: list[tuple[float, ...]] = []
        self.refresh_count = 0

    def refresh(self, now: float, clock_h: float) -> None:
        """Recompute every link's BPR time, and log speeds by road class, the travel time index and the
        recurrent delay rate (sum of volume x (BPR - free-flow time), vehicle-hours per hour)."""
        profile = self.profile
        network = profile.network
        self.arc_minutes = profile.arc_minutes(clock_h)
        self.refresh_count += 1
        for arc in list(self.blocked):
            self.blocked[arc] = [b for b in self.blocked[arc] if b.end > now or b.queue(now) > 0]
            if not self.blocked[arc]:
                del self.blocked[arc]
        volume = profile.demand_ratio(clock_h) * network.arc_capacity
        row: list[float] = [now, clock_h]
        for cls in (EXPRESSWAY, 1):
            mask = network.arc_class == cls
            row.append(float(network.arc_km[mask].sum() / (self.arc_minutes[mask].sum() / 60.0)))
        free_flow = float((volume * network.arc_free_flow_min).sum())
        congested = float((volume * self.arc_minutes).sum())
        blockages = float(sum(len(b) for b in self.blocked.values()))
        row += [congested / free_flow, blockages, (congested - free_flow) / 60.0]
        self.log.append(tuple(row))

    def block(self, blockage: Blockage) -> None:
        self.blocked.setdefault(blockage.arc, []).append(blockage)

    def unblock(self, blockage: Blockage, now: float) -> None:
        """End a blockage (its queue then dissolves; it is forgotten at a refresh once the queue is gone)."""
        blockage.end = min(blockage.end, now)

    def route_minutes(self, arcs: IntArray, now: float, queue_share: float = 1.0) -> float:
        """Time through the given arcs now: BPR times plus `queue_share` of the queues behind blockages."""
        minutes = float(self.arc_minutes[arcs].sum())
        if self.blocked and queue_share > 0:
            for arc in arcs.tolist():
                for blockage in self.blocked.get(arc, ()):
                    minutes += queue_share * blockage.delay_min(now)
        return minutes

    def arc_minutes_with_queues(self, now: float, queue_share: float) -> FloatArray:
        """Every arc's time now, including `queue_share` of the crash queues on it."""
        minutes = self.arc_minutes.copy()
        for arc, blockages in self.blocked.items():
            minutes[arc] += queue_share * sum(b.delay_min(now) for b in blockages)
        return minutes

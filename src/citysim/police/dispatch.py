"""The dispatcher: queues of incidents waiting for units, and the choice of unit.

Waiting incidents are ordered by priority, then by the time they entered the queue (FIFO within a
priority). Under `home_district` each district has its own queue, served by its own units only; an
incident the AVL lever covers (and every incident under `nearest`) waits instead in one city-wide
queue that every unit serves, and takes the available unit with the shortest estimated travel time
from anywhere. A unit that becomes available serves the most urgent incident among the queues it serves: its
district's head (first come, first served within a priority) or, from the city-wide queue, the
nearest of the waiting incidents of the most urgent priority there (so a freed unit is not sent
across the city while nearer work of the same urgency waits).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Literal

import numpy as np

from citysim.city.travel import TravelModel
from citysim.police.fleet import Fleet

#: How many of the most urgent city-wide entries a freed unit compares by travel time.
CITY_CANDIDATES = 64


class DispatchQueues:
    """Priority queues of incidents that still need units: one per district and one city-wide."""

    def __init__(self, policy: Literal["home_district", "nearest"], n_districts: int) -> None:
        self.policy = policy
        self.city = n_districts  # the city-wide queue's area number
        self._heaps: list[list[tuple[int, float, int]]] = [[] for _ in range(n_districts + 1)]

    def area_of(self, district: int, city_wide: bool = False) -> int:
        """Where an incident waits: its district's queue, or the city-wide one."""
        return self.city if city_wide or self.policy == "nearest" else district

    def push(self, area: int, priority: int, t_queue: float, incident: int) -> None:
        heapq.heappush(self._heaps[area], (priority, t_queue, incident))

    def _head(self, area: int, still_needs: Callable[[int], bool]) -> tuple[int, float, int] | None:
        heap = self._heaps[area]
        while heap:
            if still_needs(heap[0][2]):
                return heap[0]
            heapq.heappop(heap)  # settled since it was queued (its needs were met or cancelled)
        return None

    def next_for(
        self, district: int, still_needs: Callable[[int], bool], nearest: Callable[[list[int]], int]
    ) -> int | None:
        """The incident a freed unit of `district` should serve, if any; `nearest` picks, among
        city-wide candidates, the one the unit reaches first. Served entries leave the queues lazily."""
        areas = (self.city,) if self.policy == "nearest" else (district, self.city)
        best: tuple[tuple[int, float, int], int] | None = None
        for area in areas:
            head = self._head(area, still_needs)
            if head is not None and (best is None or head < best[0]):
                best = (head, area)
        if best is None:
            return None
        (priority, _t, incident), area = best
        if area != self.city:
            return incident
        same_urgency = [entry[2] for entry in heapq.nsmallest(CITY_CANDIDATES, self._heaps[area])
                        if entry[0] == priority and still_needs(entry[2])]
        return nearest(same_urgency) if len(same_urgency) > 1 else incident


def nearest_available(
    fleet: Fleet, first: int, last: int, destination: tuple[float, float, int, float], now: float,
    travel: TravelModel, clock_h: float,
) -> int | None:
    """Among units first..last-1, the available one with the shortest estimated driving time to the
    destination place (x, y, node, access km); None if none of them is available."""
    candidates = fleet.available[first:last]
    if travel.instant:
        best = int(candidates.argmax())
        return first + best if candidates[best] else None
    units = first + np.flatnonzero(candidates)
    if units.size == 0:
        return None
    ux, uy = fleet.positions(units, now)
    nodes, access0, lead = fleet.network_places(units, now)
    x, y, node, access = destination
    minutes = travel.estimate_min(ux, uy, nodes, access0, lead, x, y, node, access, clock_h)
    return int(units[int(np.argmin(minutes))])

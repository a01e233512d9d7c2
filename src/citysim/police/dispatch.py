"""The dispatcher: a queue of incidents waiting for units, and the choice of unit.

Waiting incidents are ordered by priority, then by the time they entered the queue (FIFO within a
priority). Under `home_district` each district has its own queue served by its own units only; under
`nearest` there is one city-wide queue and an arriving incident takes the available unit with the
shortest estimated travel time. A unit that becomes available serves the head of its queue.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Literal

import numpy as np

from citysim.police.fleet import Fleet
from citysim.travel import TravelModel


class DispatchQueues:
    """Priority queues of incidents that still need units, one per dispatch area."""

    def __init__(self, policy: Literal["home_district", "nearest"], n_districts: int) -> None:
        self.policy = policy
        areas = n_districts if policy == "home_district" else 1
        self._heaps: list[list[tuple[int, float, int]]] = [[] for _ in range(areas)]

    def area_of(self, district: int) -> int:
        return district if self.policy == "home_district" else 0

    def push(self, area: int, priority: int, t_queue: float, incident: int) -> None:
        heapq.heappush(self._heaps[area], (priority, t_queue, incident))

    def head(self, area: int, still_needs: Callable[[int], bool]) -> int | None:
        """The most urgent incident of an area that still needs a unit (dropping settled ones)."""
        heap = self._heaps[area]
        while heap:
            incident = heap[0][2]
            if still_needs(incident):
                return incident
            heapq.heappop(heap)
        return None

    def pop_head(self, area: int) -> None:
        heapq.heappop(self._heaps[area])


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

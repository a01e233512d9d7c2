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
from numpy.typing import NDArray

from citysim.police.fleet import Fleet

ChooseUnit = Callable[[int], int | None]


class DispatchQueues:
    """Priority queues of incidents that still need units, one per dispatch area."""

    def __init__(self, policy: Literal["home_district", "nearest"], n_districts: int) -> None:
        self.policy = policy
        self._heaps: list[list[tuple[int, float, int]]] = [[] for _ in range(n_districts if policy == "home_district" else 1)]
        self.waiting_for_first_unit = 0  # incidents in queue with no unit yet (for Little's law)

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

    def total_waiting(self) -> int:
        return sum(len(h) for h in self._heaps)


def nearest_available(
    fleet: Fleet,
    candidates_mask: NDArray[np.bool_],
    x: float,
    y: float,
    now: float,
    estimate: Callable[[NDArray[np.float64], NDArray[np.float64], float, float], NDArray[np.float64]],
) -> tuple[int, float] | None:
    """The available unit with the shortest estimated travel time to (x, y), and that time."""
    units = np.flatnonzero(candidates_mask)
    if units.size == 0:
        return None
    ux, uy = fleet.positions(units, now)
    times = estimate(ux, uy, x, y)
    best = int(np.argmin(times))
    return int(units[best]), float(times[best])

"""The dispatcher: dispatch policies, the queues of incidents waiting for units, and the choice of unit.

A policy is a value the model is given (as Ciw's disciplines are), not a name it branches on. It says
where an incident waits and whose units may serve it (its district's, or every unit city-wide), which
queues a freed unit serves, and in what order waiting incidents are served. `DISPATCH_POLICIES` maps
the scenario's `dispatch.policy` names to them; a new policy is one class and one entry there.

The policies shipped:
- `home_district`: each district has its own queue, served by its own units only; an incident the AVL
  lever covers waits instead in the city-wide queue that every unit serves;
- `nearest`: every incident waits in the city-wide queue.
Both order waiting incidents by priority, then by the time they entered the queue (FIFO within a
priority). An incident takes the available unit with the shortest estimated travel time among those
that may serve it. A unit that becomes available serves the most urgent incident among the queues it
serves: its district's head or, from the city-wide queue, the nearest of the waiting incidents of the
most urgent priority there (so a freed unit is not sent across the city while nearer work of the
same urgency waits).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Protocol

import numpy as np

from citysim.city.travel import Place, TravelModel
from citysim.police.fleet import Fleet

#: The area number of the city-wide queue (every unit may serve its incidents).
CITY_WIDE = -1
#: How many of the most urgent city-wide entries a freed unit compares by travel time.
CITY_CANDIDATES = 64


class DispatchPolicy(Protocol):
    """Where incidents wait, who serves them, and in what order."""

    def area_of(self, district: int, city_wide: bool) -> int:
        """Where an incident of `district` waits and whose units may serve it: the district, or
        CITY_WIDE; `city_wide` is True when the AVL lever covers the incident."""
        ...

    def areas_served(self, district: int) -> tuple[int, ...]:
        """The queues a freed unit of `district` serves (fixed for a run); their heads are compared by
        (key, incident id)."""
        ...

    def queue_key(self, priority: int, t_queue: float) -> tuple[float, float]:
        """The order of waiting incidents: the smallest key is served first."""
        ...


class _ByPriorityThenTime:
    def queue_key(self, priority: int, t_queue: float) -> tuple[float, float]:
        return priority, t_queue


class HomeDistrict(_ByPriorityThenTime):
    """Each district's units serve its own incidents; AVL-covered incidents go city-wide."""

    def area_of(self, district: int, city_wide: bool) -> int:
        return CITY_WIDE if city_wide else district

    def areas_served(self, district: int) -> tuple[int, ...]:
        return district, CITY_WIDE


class Nearest(_ByPriorityThenTime):
    """One city-wide queue, every unit serves it: the nearest available unit goes."""

    def area_of(self, district: int, city_wide: bool) -> int:
        return CITY_WIDE

    def areas_served(self, district: int) -> tuple[int, ...]:
        return (CITY_WIDE,)


#: The scenario's `dispatch.policy` names and their policies.
DISPATCH_POLICIES: dict[str, DispatchPolicy] = {"home_district": HomeDistrict(), "nearest": Nearest()}


class DispatchQueues:
    """Priority queues of incidents that still need units: one per district and one city-wide, ordered
    by the policy's key. Entries are (key..., incident); served entries leave lazily."""

    def __init__(self, policy: DispatchPolicy, n_districts: int) -> None:
        self.policy = policy
        self._city = n_districts  # the city-wide queue's index
        self._heaps: list[list[tuple[float, float, int]]] = [[] for _ in range(n_districts + 1)]
        # The heaps each district's freed units serve, looked up once rather than at every offer.
        self._served = [tuple(self._index(area) for area in policy.areas_served(district))
                        for district in range(n_districts)]

    def _index(self, area: int) -> int:
        return self._city if area == CITY_WIDE else area

    def push(self, area: int, priority: int, t_queue: float, incident: int) -> None:
        heapq.heappush(self._heaps[self._index(area)], (*self.policy.queue_key(priority, t_queue), incident))

    def _head(self, index: int, still_needs: Callable[[int], bool]) -> tuple[float, float, int] | None:
        heap = self._heaps[index]
        while heap:
            if still_needs(heap[0][2]):
                return heap[0]
            heapq.heappop(heap)  # settled since it was queued (its needs were met or cancelled)
        return None

    def next_for(
        self, district: int, still_needs: Callable[[int], bool], nearest: Callable[[list[int]], int]
    ) -> int | None:
        """The incident a freed unit of `district` should serve, if any; `nearest` picks, among
        city-wide candidates of the same key, the one the unit reaches first."""
        best: tuple[tuple[float, float, int], int] | None = None
        for index in self._served[district]:
            head = self._head(index, still_needs)
            if head is not None and (best is None or head < best[0]):
                best = (head, index)
        if best is None:
            return None
        (urgency, _t, incident), index = best
        if index != self._city:
            return incident
        same_urgency = [entry[2] for entry in heapq.nsmallest(CITY_CANDIDATES, self._heaps[index])
                        if entry[0] == urgency and still_needs(entry[2])]
        return nearest(same_urgency) if len(same_urgency) > 1 else incident


def nearest_available(
    fleet: Fleet, first: int, last: int, destination: Place, now: float, travel: TravelModel, clock_h: float,
) -> int | None:
    """Among units first..last-1, the available one with the shortest estimated driving time to the
    destination; None if none of them is available."""
    candidates = fleet.available[first:last]
    if travel.instant:
        best = int(candidates.argmax())
        return first + best if candidates[best] else None
    units = first + np.flatnonzero(candidates)
    if units.size == 0:
        return None
    return int(units[travel.nearest(fleet.places(units, now), destination, clock_h)])


class Dispatcher:
    """Chooses units for incidents and incidents for freed units, under one policy."""

    def __init__(self, policy: DispatchPolicy, fleet: Fleet, travel: TravelModel, n_districts: int,
                 now: Callable[[], float], clock_h: Callable[[], float]) -> None:
        self.fleet = fleet
        self.travel = travel
        self.queues = DispatchQueues(policy, n_districts)
        self._now, self._clock_h = now, clock_h  # read only when a choice needs them

    def nearest_unit(self, area: int, destination: Place, now: float, clock_h: float) -> int | None:
        """The available unit, among those that may serve `area`, estimated nearest to the destination."""
        fleet = self.fleet
        if area == CITY_WIDE:
            if not fleet.available_total:
                return None
            first, last = 0, fleet.size
        else:
            if not fleet.available_in_district[area]:
                return None
            first, last = fleet.district_slices[area]
        return nearest_available(fleet, first, last, destination, now, self.travel, clock_h)

    def next_for(self, unit: int, still_needs: Callable[[int], bool], place_of: Callable[[int], Place]) -> int | None:
        """The waiting incident a freed unit should take, if any."""

        def nearest(incidents: list[int]) -> int:
            now, clock_h = self._now(), self._clock_h()
            origin = self.fleet.places(np.array([unit]), now)
            times = [float(self.travel.estimate_min(origin, place_of(i), clock_h)[0]) for i in incidents]
            return incidents[int(np.argmin(times))]

        return self.queues.next_for(int(self.fleet.home_district[unit]), still_needs, nearest)

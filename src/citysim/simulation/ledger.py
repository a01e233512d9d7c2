"""The per-incident ledger of one replication: the pre-drawn plan as Python lists (scalar indexing of a
list is far cheaper than numpy's on the hot path) and the times and counters the event flow fills in.
Also the assignment log, one row per unit sent to an incident."""

from __future__ import annotations

import math

import numpy as np

from citysim.city.travel import Place, TravelModel
from citysim.police.demand import IncidentPlan
from citysim.police.dispatch import DispatchPolicy

RESOLUTION_OPEN = "open"
RESOLUTION_DISPATCHED = "dispatched"
RESOLUTION_PHONE = "phone"
RESOLUTION_DIVERTED = "diverted"


class IncidentLedger:
    """What is known of each incident (index = call order), as parallel lists."""

    __slots__ = (
        "_where", "area", "arrived", "assigned", "call_times", "check", "counted_waiting", "crash", "current_route",
        "decision", "lookup_first", "lookup_min", "lookups", "outcome", "place", "priority", "remaining",
        "report", "resolution", "scene", "self_clear_at", "station_u", "t_answer", "t_arrive", "t_clear",
        "t_closed", "t_dispatch", "t_queue", "talk", "units_needed", "work_done",
    )

    def __init__(self, plan: IncidentPlan, travel: TravelModel, policy: DispatchPolicy,
                 unitless_districts: list[bool]) -> None:
        n = plan.size
        nan = math.nan
        nodes, access = travel.locate(plan.x_km, plan.y_km)
        self._where = (plan.x_km.tolist(), plan.y_km.tolist(), nodes.tolist(), access.tolist())
        #: Where the incident is, as a trip destination; set by `locate` once it needs a unit.
        self.place: dict[int, Place] = {}
        # Under home_district, an incident in a district without units (a crash on its roads) is served
        # city-wide, as if the AVL lever covered it.
        city_wide = (plan.avl | np.array(unitless_districts)[plan.district]).tolist()
        areas = [(policy.area_of(d, False), policy.area_of(d, True)) for d in range(len(unitless_districts))]
        self.area = [areas[d][c] for d, c in zip(plan.district.tolist(), city_wide, strict=True)]
        self.crash = plan.crash.tolist()
        self.current_route = plan.current_route.tolist()
        self.priority = plan.priority.tolist()
        self.units_needed = plan.units_needed.tolist()
        self.outcome = plan.outcome.tolist()
        self.decision = plan.decision_min.tolist()
        self.scene = plan.scene_min.tolist()
        self.talk = plan.talk_min.tolist()
        self.call_times = plan.t_call.tolist()
        self.lookups = plan.lookups.tolist()
        self.lookup_first = plan.lookup_first.tolist()
        self.report = plan.report_min.tolist()
        self.station_u = plan.station_u.tolist()
        self.self_clear_at = plan.self_clear_at.tolist()
        self.check = plan.check_min.tolist()
        self.lookup_min = [0.0] * n  # minutes on scene spent on look-ups (waits included)
        self.t_closed = [nan] * n
        self.t_answer = [nan] * n
        self.t_queue = [nan] * n
        self.t_dispatch = [nan] * n
        self.t_arrive = [nan] * n
        self.t_clear = [nan] * n
        self.resolution = [RESOLUTION_OPEN] * n
        self.remaining = [0] * n  # units still to assign
        self.assigned: list[list[int]] = [[] for _ in range(n)]
        self.arrived = [0] * n
        self.work_done = [False] * n
        self.counted_waiting = [False] * n  # counted in the "waiting for a unit" monitor

    def locate(self, incident: int) -> Place:
        """The incident's place, made when it first needs a unit (most calls never do)."""
        x, y, node, access = self._where
        place = self.place[incident] = Place(x[incident], y[incident], node[incident], access[incident])
        return place

    def still_needs(self, incident: int) -> bool:
        return self.remaining[incident] > 0


class AssignmentLog:
    """One row per unit assignment: unit, incident, t_dispatch, t_arrive, t_clear, travel km, travel min,
    the trip's origin x and y (km), the barrier crossing it used (-1: none) and t_free (when the unit was
    free again: t_clear, or later for the unit that files the report)."""

    __slots__ = ("_row_of_unit", "rows")

    def __init__(self, n_units: int) -> None:
        self.rows: list[list[float]] = []
        self._row_of_unit = [-1] * n_units

    def dispatched(self, unit: int, incident: int, now: float, km: float, travel_min: float, origin: Place,
                   crossing: int) -> None:
        self._row_of_unit[unit] = len(self.rows)
        self.rows.append([unit, incident, now, math.nan, math.nan, km, travel_min, origin.x, origin.y, crossing,
                          math.nan])

    def arrived(self, unit: int, now: float) -> None:
        self.rows[self._row_of_unit[unit]][3] = now

    def cleared(self, unit: int, now: float) -> None:
        self.rows[self._row_of_unit[unit]][4] = now

    def freed(self, unit: int, now: float) -> None:
        self.rows[self._row_of_unit[unit]][10] = now

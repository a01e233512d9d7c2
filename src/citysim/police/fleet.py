"""Patrol units as array state: where they are, what they do, whether they are on duty.

A SimPy resource per unit would cost bookkeeping for every one of ~1,500 units; instead the state is
kept in plain lists (cheap scalar access on the hot path) mirrored by the numpy masks that the
vectorised nearest-unit choice needs. A unit is *available* when on duty and idle, returning to
where it waits (it can be re-tasked on the way back), or on other work it may leave for a call (`TASK`,
after an interruption delay). It is not available on scene, en route, writing a report (`REPORTING`)
or on other work it cannot leave (`LOCKED`). The hourly roster (how many of each district's units are
on duty) is applied here too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from citysim.arrays import FloatArray, IntArray
from citysim.city.travel import Place, Places

OFF, IDLE, EN_ROUTE, ON_SCENE, RETURNING, TASK, LOCKED, REPORTING = 0, 1, 2, 3, 4, 5, 6, 7
AVAILABLE_STATES = frozenset((IDLE, RETURNING, TASK))


class Fleet:
    """State of every unit; positions in km on the district grid."""

    def __init__(
        self,
        home_district: IntArray,
        home_x: FloatArray,
        home_y: FloatArray,
        home_node: IntArray,
        home_access_km: FloatArray,
        n_districts: int,
        clock: Callable[[], float] = lambda: 0.0,
    ) -> None:
        n = home_district.size
        self.clock = clock
        self.size = n
        self.home_district = home_district
        self.home_x = home_x
        self.home_y = home_y
        self.home_node = home_node
        self.home_access_km = home_access_km
        # Network place of each unit: the node it is at (or last left, while driving home) and the
        # straight-line km of its access leg.
        self.node = home_node.copy()
        self.access_km = home_access_km.copy()
        self.state = [OFF] * n
        self.available = np.zeros(n, dtype=bool)  # mirror of state in (IDLE, RETURNING)
        self.returning = np.zeros(n, dtype=bool)  # mirror of state == RETURNING
        self.n_returning = 0
        self.going_off = np.zeros(n, dtype=bool)
        self.x = home_x.copy()
        self.y = home_y.copy()
        # A return trip: from (x, y) at t0 to home at t1; token invalidates a superseded return.
        self.return_t0 = np.zeros(n)
        self.return_t1 = np.zeros(n)
        self.token = [0] * n
        #: Expected interruption delay of a unit on interruptible other work (the dispatcher adds it to
        #: the unit's travel estimate); 0 otherwise.
        self.task_lead = np.zeros(n)
        self.current_task = [-1] * n
        self._task_start = [0.0] * n
        #: One row per spell of other work: unit, task index, start, end.
        self.task_intervals: list[tuple[int, int, float, float]] = []
        self.duty_start = np.full(n, np.nan)
        self.duty_intervals: list[tuple[int, float, float]] = []
        # Available units per home district, kept in Python so an empty area is found without numpy.
        self.available_in_district = [0] * n_districts
        self.available_total = 0
        self._home = home_district.tolist()
        self.district_units = [np.flatnonzero(home_district == d) for d in range(n_districts)]
        # Units are numbered district by district, so a district's units are one slice of the fleet.
        self.district_slices = [(int(u[0]), int(u[-1]) + 1) if u.size else (0, 0) for u in self.district_units]
        #: Where each unit waits (its station or post), as a trip destination.
        self.home_places = list(map(Place, home_x.tolist(), home_y.tolist(), home_node.tolist(),
                                    home_access_km.tolist()))

    def places(self, units: IntArray, now: float) -> Places:
        """Where the given units are now, as trip origins.

        A unit driving home is placed at whichever end of its trip is nearer in time (the scene it left
        or where it waits), with the lead minutes to get there: a cheap, conservative stand-in for its
        exact position on the route, and the same place for local streets and the network, so that no
        trip starts from a point between two banks.
        """
        x, y = self.x[units], self.y[units]
        node, access = self.node[units], self.access_km[units]
        lead = self.task_lead[units]
        if not self.n_returning:
            return Places(x, y, node, access, lead)
        returning = self.returning[units]
        t0, t1 = self.return_t0[units], self.return_t1[units]
        span = np.where(t1 > t0, t1 - t0, 1.0)
        share = np.where(returning, np.clip((now - t0) / span, 0.0, 1.0), 0.0)
        to_home = returning & (share >= 0.5)
        return Places(np.where(to_home, self.home_x[units], x), np.where(to_home, self.home_y[units], y),
                      np.where(to_home, self.home_node[units], node),
                      np.where(to_home, self.home_access_km[units], access),
                      np.where(returning, np.where(to_home, 1.0 - share, share) * (t1 - t0), lead))

    def place_of(self, unit: int, now: float) -> Place:
        """Where one unit starts a trip now: as `places`, but without the interruption lead of other work
        (the model draws that delay itself)."""
        if self.state[unit] != RETURNING:
            return self.place_now(unit)
        t0, t1 = float(self.return_t0[unit]), float(self.return_t1[unit])
        share = min(max((now - t0) / (t1 - t0), 0.0), 1.0) if t1 > t0 else 0.0
        if share >= 0.5:
            return self.home_places[unit]._replace(lead=(1.0 - share) * (t1 - t0))
        return self.place_now(unit)._replace(lead=share * (t1 - t0))

    def place_now(self, unit: int) -> Place:
        """The unit's recorded place (where it stands, not along a trip)."""
        return Place(float(self.x[unit]), float(self.y[unit]), int(self.node[unit]), float(self.access_km[unit]))

    def set_state(self, unit: int, state: int) -> None:
        old = self.state[unit]
        self.state[unit] = state
        was_available = old in AVAILABLE_STATES
        is_available = state in AVAILABLE_STATES
        if old in (TASK, LOCKED) and state not in (TASK, LOCKED):
            self.task_lead[unit] = 0.0
            self.task_intervals.append((unit, self.current_task[unit], self._task_start[unit], self.clock()))
            self.current_task[unit] = -1
        if was_available != is_available:
            self.available[unit] = is_available
            change = 1 if is_available else -1
            self.available_in_district[self._home[unit]] += change
            self.available_total += change
        if (old == RETURNING) != (state == RETURNING):
            self.returning[unit] = state == RETURNING
            self.n_returning += 1 if state == RETURNING else -1

    def start_task(self, unit: int, task: int, interruptible: bool, lead: float, now: float) -> None:
        """The unit starts other work: available after `lead` expected minutes if interruptible, else not."""
        self.set_state(unit, TASK if interruptible else LOCKED)
        self.current_task[unit] = task
        self._task_start[unit] = now
        self.task_lead[unit] = lead if interruptible else 0.0

    def at_home(self, unit: int) -> None:
        """Place the unit where it waits (its station or post)."""
        self.x[unit], self.y[unit] = self.home_x[unit], self.home_y[unit]
        self.node[unit], self.access_km[unit] = self.home_node[unit], self.home_access_km[unit]

    def come_on_duty(self, unit: int, now: float) -> None:
        self.at_home(unit)
        self.going_off[unit] = False
        self.duty_start[unit] = now
        self.set_state(unit, IDLE)

    def go_off_duty(self, unit: int, now: float) -> None:
        self.duty_intervals.append((unit, float(self.duty_start[unit]), now))
        self.duty_start[unit] = np.nan
        self.going_off[unit] = False
        self.token[unit] += 1
        self.set_state(unit, OFF)

    def apply_roster(self, on_duty_fraction: float, now: float, came_on: Callable[[int], None]) -> None:
        """Bring each district's units on duty to round(units x fraction): idle units above the target go
        off at once, busy ones when they clear (`going_off`); units are called on duty, first cancelling
        pending departures, and each is handed to `came_on` as it arrives (to be offered waiting work)."""
        for units in self.district_units:
            target = round(units.size * on_duty_fraction)
            state = np.array([self.state[u] for u in units], dtype=np.int8)
            on = units[(state != OFF) & ~self.going_off[units]]
            if on.size > target:
                excess = on.size - target
                free = on[self.available[on]][:excess]
                for unit in free:
                    self.go_off_duty(int(unit), now)
                self.going_off[on[~self.available[on]][: excess - free.size]] = True
            elif on.size < target:
                need = target - on.size
                leaving = units[self.going_off[units]][:need]
                self.going_off[leaving] = False
                for unit in units[state == OFF][: need - leaving.size]:
                    self.come_on_duty(int(unit), now)
                    came_on(int(unit))

    def close_duty(self, now: float) -> None:
        """Record the open duty intervals and spells of other work at the end of the run."""
        for unit in np.flatnonzero(~np.isnan(self.duty_start)):
            self.duty_intervals.append((int(unit), float(self.duty_start[unit]), now))
        for index, task in enumerate(self.current_task):
            if task >= 0:
                self.task_intervals.append((index, task, self._task_start[index], now))

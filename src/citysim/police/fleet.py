"""Patrol units as array state: where they are, what they do, whether they are on duty.

A SimPy resource per unit would cost bookkeeping for every one of ~1,500 units; instead the state is
kept in plain lists (cheap scalar access on the hot path) mirrored by the numpy tables that the
vectorised nearest-unit choice reads: one row per unit, so that the candidates' places are one
fancy-indexing read. A unit is *available* when on duty and idle, returning to
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
LEAD = 4  # the column of the interruption lead in the fleet's place table (after x, y, node, access)


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
        self.home_x, self.home_y = home_x, home_y
        self.state = [OFF] * n
        self.available = np.zeros(n, dtype=bool)  # mirror of state in AVAILABLE_STATES
        self.returning = np.zeros(n, dtype=bool)  # mirror of state == RETURNING
        self.n_returning = 0
        self.going_off = np.zeros(n, dtype=bool)
        # Where each unit waits, and where it is recorded (x, y km, network node, access km) with the
        # expected interruption delay of other work it may leave (LEAD: the dispatcher adds it to the
        # unit's travel estimate; 0 otherwise).
        self._home_table = np.column_stack([home_x, home_y, home_node, home_access_km]).astype(np.float64)
        self._table = np.column_stack([self._home_table, np.zeros(n)])
        # A return trip: from where it cleared at t0 to home at t1, with the span its progress is
        # measured by and its duration; token invalidates a superseded return.
        self._return = np.zeros((n, 4))
        self.token = [0] * n
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
        # Each unit's recorded place, as a list for scalar reads; the place table mirrors it for the
        # vectorised choice of unit.
        self.where = list(self.home_places)
        self._moved: dict[int, None] = {}  # units whose row of the place table is behind `where`

    def places(self, units: IntArray, now: float) -> Places:
        """Where the given units are now, as trip origins.

        A unit driving home is placed at whichever end of its trip is nearer in time (the scene it left
        or where it waits), with the lead minutes to get there: a cheap, conservative stand-in for its
        exact position on the route, and the same place for local streets and the network, so that no
        trip starts from a point between two banks. Only the returning units among `units` are
        recomputed; the others are read as recorded.
        """
        if self._moved:
            self._sync_table()
        table = self._table[units]
        if self.n_returning:
            rows = np.flatnonzero(self.returning[units])
            if rows.size:
                back = units[rows]
                t0, _t1, span, duration = self._return[back].T
                share = np.minimum(np.maximum((now - t0) / span, 0.0), 1.0)
                to_home = share >= 0.5
                table[rows, LEAD] = np.where(to_home, 1.0 - share, share) * duration
                table[rows[to_home], :LEAD] = self._home_table[back[to_home]]
        x, y, node, access, lead = table.T
        return Places(x, y, node.astype(np.intp), access, lead)

    def place_of(self, unit: int, now: float) -> Place:
        """Where one unit starts a trip now: as `places`, but without the interruption lead of other work
        (the model draws that delay itself)."""
        if self.state[unit] != RETURNING:
            return self.place_now(unit)
        t0, t1 = float(self._return[unit, 0]), float(self._return[unit, 1])
        share = min(max((now - t0) / (t1 - t0), 0.0), 1.0) if t1 > t0 else 0.0
        if share >= 0.5:
            return self.home_places[unit]._replace(lead=(1.0 - share) * (t1 - t0))
        return self.place_now(unit)._replace(lead=share * (t1 - t0))

    def place_now(self, unit: int) -> Place:
        """The unit's recorded place (where it stands, not along a trip)."""
        return self.where[unit]

    def move_to(self, unit: int, place: Place) -> None:
        """Record that the unit now stands at `place` (a scene, its station, where it waits). The place
        table follows at the next `places` (most units move more often than they are compared)."""
        self.where[unit] = place
        self._moved[unit] = None

    def _sync_table(self) -> None:
        moved = list(self._moved)
        self._table[moved, :LEAD] = [self.where[unit][:LEAD] for unit in moved]
        self._moved.clear()

    def start_return(self, unit: int, now: float, arrive: float) -> None:
        """The unit drives back to where it waits, from now until `arrive` (re-taskable on the way)."""
        self.set_state(unit, RETURNING)
        self._return[unit] = now, arrive, arrive - now if arrive > now else 1.0, arrive - now

    def set_state(self, unit: int, state: int) -> None:
        old = self.state[unit]
        self.state[unit] = state
        was_available = old in AVAILABLE_STATES
        is_available = state in AVAILABLE_STATES
        if old in (TASK, LOCKED) and state not in (TASK, LOCKED):
            self._table[unit, LEAD] = 0.0
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
        self._table[unit, LEAD] = lead if interruptible else 0.0

    def at_home(self, unit: int) -> None:
        """Place the unit where it waits (its station or post)."""
        self.move_to(unit, self.home_places[unit])

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

"""CityModel: one replication of the 110 police service as a SimPy simulation.

Life of an incident: it occurs (t_occur); after a report delay the 110 centre learns of it (t_call);
a call-taker answers (t_answer) and talks; the call is closed on the phone, diverted, or passed to
the dispatcher, who after a decision delay queues it (t_queue) and assigns units (t_dispatch = first
assignment). Units drive there (t_arrive = first arrival); on-scene work starts at the first arrival
and the incident clears (t_clear) when the work is done and every dispatched unit has arrived. Units
then return to station (re-taskable on the way) or patrol where they are.

Incident flow is callback-driven after the call; SimPy processes are used where they read best (the
arrival stream, call-taking, rosters). All randomness is pre-drawn in `IncidentPlan`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import simpy

from citysim.city.context import city_context
from citysim.city.crashes import generate_crashes
from citysim.city.geography import DistrictGrid
from citysim.city.traffic import TrafficState
from citysim.city.traffic_layer import TrafficLayer
from citysim.city.travel import make_travel
from citysim.clock import clock_hour, hourly_segments
from citysim.config.levers import effective_scenario, lever_effects
from citysim.config.schema import Scenario, StaffedCallCentre
from citysim.errors import InputError
from citysim.police.callcentre import CallCentre
from citysim.police.demand import OUTCOME_DISPATCH, OUTCOME_PHONE, generate_incidents
from citysim.police.dispatch import DispatchQueues, nearest_available
from citysim.police.fleet import EN_ROUTE, IDLE, OFF, ON_SCENE, RETURNING, Fleet
from citysim.simulation.logs import RunLogs, build_logs
from citysim.simulation.monitor import TimeAverage
from citysim.streams import Streams

#: The most incidents one replication may simulate (about an hour of computing): a guard against a
#: typo such as a duration in seconds.
MAX_INCIDENTS = 5_000_000
RESOLUTION_OPEN = "open"
RESOLUTION_DISPATCHED = "dispatched"
RESOLUTION_PHONE = "phone"
RESOLUTION_DIVERTED = "diverted"


@dataclass(frozen=True)
class RunResult:
    """Everything one replication produced."""

    scenario: Scenario
    replication: int
    seed: int
    logs: RunLogs
    monitors: dict[str, float]


class CityModel:
    """Wires demand, call centre, dispatcher, fleet and travel into one SimPy Environment."""

    def __init__(self, scenario: Scenario, replication: int, seed: int | None = None) -> None:
        self.effects = lever_effects(scenario)
        as_given, scenario = scenario, effective_scenario(scenario)
        self.scenario = scenario
        self.replication = replication
        self.seed = scenario.run.seed if seed is None else seed
        streams = Streams(self.seed, replication)
        self.grid = DistrictGrid.from_districts(scenario.districts)
        self.env = simpy.Environment()
        self.traffic_layer: TrafficLayer | None = None
        crashes = None
        if scenario.network is not None and scenario.traffic is not None:
            city = city_context(scenario, self.grid)
            traffic = TrafficState(city.profile)
            if scenario.crashes is not None:
                # Crash exposure comes from the scenario as given, so levers that change volumes or speeds
                # (parking guidance, AI signals) never move crashes to other links or times.
                exposure = city_context(as_given, self.grid).profile
                crashes = generate_crashes(scenario.crashes, exposure, scenario.run, streams, self.effects)
            self.traffic_layer = TrafficLayer(self.env, traffic, scenario.traffic.refresh_min, self._clock_hour,
                                              crashes, scenario.crashes, scenario.traffic.queue_inflow_cap)
            self.travel = make_travel(scenario.travel, city, traffic)
        else:
            self.travel = make_travel(scenario.travel)
        self.plan = generate_incidents(scenario, self.grid, streams, crashes, self.effects)
        if self.plan.size > MAX_INCIDENTS:
            raise InputError(None, f"{scenario.name}: one replication would simulate {self.plan.size:,} incidents, "
                             f"more than the limit of {MAX_INCIDENTS:,} (hours of computing); shorten "
                             "run.duration_min or lower demand.calls_per_day.", ("run", "duration_min"))
        self.turnout_min = self.travel.turnout_min(self.plan.turnout_u)
        self.noise = self.travel.noise_factor(self.plan.noise_u)

        home, home_x, home_y = self.grid.unit_homes([d.stations for d in scenario.districts],
                                                    [d.units for d in scenario.districts])
        self.fleet = Fleet(home, home_x, home_y, *self.travel.locate(home_x, home_y), len(scenario.districts))
        self.district_units = [np.flatnonzero(home == d) for d in range(len(scenario.districts))]
        # Units are numbered district by district, so a district's units are one slice of the fleet.
        self.district_slices = [(int(u[0]), int(u[-1]) + 1) if u.size else (0, 0) for u in self.district_units]
        self.home_policy = scenario.dispatch.policy == "home_district"
        self.queues = DispatchQueues(scenario.dispatch.policy, len(scenario.districts))
        self.return_to_station = scenario.fleet.after_clear == "return_to_station"
        self.call_centre = (
            CallCentre(self.env, scenario.call_centre.call_takers_by_hour)
            if isinstance(scenario.call_centre, StaffedCallCentre)
            else None
        )

        n = self.plan.size
        nan = math.nan
        # Python lists of the per-incident plan: scalar indexing of lists is far cheaper than numpy's.
        self.inc_x = self.plan.x_km.tolist()
        self.inc_y = self.plan.y_km.tolist()
        nodes, access = self.travel.locate(self.plan.x_km, self.plan.y_km)
        self.inc_node = nodes.tolist()
        self.inc_access = access.tolist()
        self.inc_crash = self.plan.crash.tolist()
        # Under home_district, an incident in a district without units (a crash on its roads) is served
        # city-wide, as if the AVL lever covered it.
        unitless = np.array([d.units == 0 for d in scenario.districts])[self.plan.district]
        self.inc_avl = (self.plan.avl | unitless).tolist()
        self.inc_current_route = self.plan.current_route.tolist()
        self.inc_patrol = self.plan.patrol.tolist()
        self.inc_district = self.plan.district.tolist()
        self.inc_priority = self.plan.priority.tolist()
        self.inc_units_needed = self.plan.units_needed.tolist()
        self.inc_outcome = self.plan.outcome.tolist()
        self.inc_decision = self.plan.decision_min.tolist()
        self.inc_scene = self.plan.scene_min.tolist()
        self.inc_talk = self.plan.talk_min.tolist()
        self.call_times = self.plan.t_call.tolist()
        self.t_answer = [nan] * n
        self.t_queue = [nan] * n
        self.t_dispatch = [nan] * n
        self.t_arrive = [nan] * n
        self.t_clear = [nan] * n
        self.resolution = [RESOLUTION_OPEN] * n
        self.remaining = [0] * n
        self.assigned: list[list[int]] = [[] for _ in range(n)]
        self.arrived = [0] * n
        self.work_done = [False] * n
        self.counted_waiting = [False] * n
        self.unit_log: list[list[Any]] = []
        self.unit_log_row = [-1] * self.fleet.size

        now = 0.0
        self.waiting = TimeAverage(now)  # incidents queued with no unit yet
        self.busy_units = TimeAverage(now)  # units en route or on scene
        self.talking = TimeAverage(now)  # call-takers in a call
        self.staffed = TimeAverage(now)  # call-takers on the roster

    # ----------------------------------------------------------------- processes
    def _schedule_next_call(self, incident: int) -> None:
        """Arrivals as a chain of timeouts: one event per call, cheaper than a generator process."""
        if incident < len(self.call_times):
            delay = self.call_times[incident] - self.env.now
            self.env.timeout(delay).callbacks.append(partial(self._on_call, incident))

    def _on_call(self, incident: int, _event: simpy.Event) -> None:
        self._schedule_next_call(incident + 1)
        if self.call_centre is not None:
            self.env.process(self._call(incident))
        else:
            self.t_answer[incident] = self.env.now
            self._after_call(incident)

    def _call(self, incident: int) -> Any:
        assert self.call_centre is not None
        env = self.env
        with self.call_centre.request() as request:
            yield request
            self.t_answer[incident] = env.now
            self.talking.add(env.now, 1)
            yield env.timeout(self.inc_talk[incident])
            self.talking.add(env.now, -1)
        self._after_call(incident)

    def _rosters(self) -> Any:
        env = self.env
        run = self.scenario.run
        for start, _end, hour in hourly_segments(run.start_clock_h, run.duration_min):
            if start > env.now:
                yield env.timeout(start - env.now)
            self._set_unit_roster(hour)
            if self.call_centre is not None:
                self.call_centre.staff(hour)
                self.staffed.add(env.now, self.call_centre.by_hour[hour] - self.staffed.level)

    def _end_warmup(self) -> Any:
        yield self.env.timeout(self.scenario.run.warmup_min)
        for monitor in (self.waiting, self.busy_units, self.talking, self.staffed):
            monitor.reset(self.env.now)

    # ----------------------------------------------------------------- incident flow
    def _after_call(self, incident: int) -> None:
        outcome = self.inc_outcome[incident]
        if outcome != OUTCOME_DISPATCH:
            self.resolution[incident] = RESOLUTION_PHONE if outcome == OUTCOME_PHONE else RESOLUTION_DIVERTED
            self.t_clear[incident] = self.env.now
            return
        delay = self.inc_decision[incident]
        if delay > 0:
            self.env.timeout(delay).callbacks.append(partial(self._on_decided, incident))
        else:
            self._submit(incident)

    def _on_decided(self, incident: int, _event: simpy.Event) -> None:
        self._submit(incident)

    def _submit(self, incident: int) -> None:
        now = self.env.now
        self.t_queue[incident] = now
        self.remaining[incident] = self.inc_units_needed[incident]
        self._assign_available(incident)
        if self.remaining[incident] > 0:
            area = self.queues.area_of(self.inc_district[incident], self.inc_avl[incident])
            self.queues.push(area, self.inc_priority[incident], now, incident)
            if not self.assigned[incident]:
                self.counted_waiting[incident] = True
                self.waiting.add(now, 1)

    def _assign_available(self, incident: int) -> None:
        fleet = self.fleet
        district = self.inc_district[incident]
        place = (self.inc_x[incident], self.inc_y[incident], self.inc_node[incident], self.inc_access[incident])
        clock = self._clock_hour()
        home_only = self.home_policy and not self.inc_avl[incident]
        while self.remaining[incident] > 0:
            if home_only:
                if not fleet.available_in_district[district]:
                    return
                first, last = self.district_slices[district]
            else:
                if not fleet.available_total:
                    return
                first, last = 0, fleet.size
            unit = nearest_available(fleet, first, last, place, self.env.now, self.travel, clock)
            if unit is None:
                return
            self._assign(unit, incident)

    def _assign(self, unit: int, incident: int) -> None:
        now = self.env.now
        fleet = self.fleet
        slot = len(self.assigned[incident])
        if slot == 0:
            self.t_dispatch[incident] = now
            if self.counted_waiting[incident]:
                self.waiting.add(now, -1)
        ux, uy = fleet.position_of(unit, now)
        node, access, lead = fleet.network_place_of(unit, now)
        km, drive_min = self.travel.drive(ux, uy, node, access, lead, self.inc_x[incident], self.inc_y[incident],
                                          self.inc_node[incident], self.inc_access[incident], now, self._clock_hour(),
                                          self.inc_current_route[incident])
        drive_min *= self.effects.driving_factor  # signal pre-emption speeds emergency trips only
        travel = self.turnout_min.item(incident, slot) + drive_min * self.noise.item(incident, slot)
        fleet.token[unit] += 1
        fleet.set_state(unit, EN_ROUTE)
        self.busy_units.add(now, 1)
        self.remaining[incident] -= 1
        self.assigned[incident].append(unit)
        self.unit_log_row[unit] = len(self.unit_log)
        self.unit_log.append([unit, incident, now, math.nan, math.nan, km, travel])
        if travel > 0:
            self.env.timeout(travel).callbacks.append(partial(self._on_arrive, unit, incident))
        else:
            self._on_arrive(unit, incident, None)

    def _on_arrive(self, unit: int, incident: int, _event: simpy.Event | None) -> None:
        now = self.env.now
        fleet = self.fleet
        fleet.set_state(unit, ON_SCENE)
        fleet.x[unit], fleet.y[unit] = self.inc_x[incident], self.inc_y[incident]
        fleet.node[unit], fleet.access_km[unit] = self.inc_node[incident], self.inc_access[incident]
        self.unit_log[self.unit_log_row[unit]][3] = now
        self.arrived[incident] += 1
        if self.arrived[incident] == 1:
            self.t_arrive[incident] = now
            self.env.timeout(self.inc_scene[incident]).callbacks.append(partial(self._on_work_done, incident))
        elif self.work_done[incident] and self.arrived[incident] == len(self.assigned[incident]):
            self._clear(incident)

    def _on_work_done(self, incident: int, _event: simpy.Event) -> None:
        self.work_done[incident] = True
        self.remaining[incident] = 0  # needs not yet met are cancelled; the queue drops them lazily
        if self.arrived[incident] == len(self.assigned[incident]):
            self._clear(incident)

    def _clear(self, incident: int) -> None:
        self.t_clear[incident] = self.env.now
        self.resolution[incident] = RESOLUTION_DISPATCHED
        crash = self.inc_crash[incident]
        if crash >= 0 and self.traffic_layer is not None:
            self.traffic_layer.cleared(crash)
        patrol = self.inc_patrol[incident]
        current_route = self.inc_current_route[incident]
        for slot, unit in enumerate(self.assigned[incident]):
            self._release(unit, patrol[slot], current_route)

    def _release(self, unit: int, patrol: bool, current_route: bool) -> None:
        """The unit is free: off duty if its shift ended, else back to its station (or, under the
        deployment lever, patrolling where it is), and available at once."""
        now = self.env.now
        fleet = self.fleet
        self.unit_log[self.unit_log_row[unit]][4] = now
        self.busy_units.add(now, -1)
        if fleet.going_off[unit]:
            fleet.go_off_duty(unit, now)
            return
        if self.return_to_station and not patrol:
            _km, back = self.travel.drive(
                float(fleet.x[unit]), float(fleet.y[unit]), int(fleet.node[unit]), float(fleet.access_km[unit]), 0.0,
                float(fleet.home_x[unit]), float(fleet.home_y[unit]), int(fleet.home_node[unit]),
                float(fleet.home_access_km[unit]), now, self._clock_hour(), current_route)
            if back > 0:
                fleet.set_state(unit, RETURNING)
                fleet.return_t0[unit], fleet.return_t1[unit] = now, now + back
                self.env.timeout(back).callbacks.append(partial(self._on_home, unit, fleet.token[unit]))
            else:
                fleet.at_home(unit)
                fleet.set_state(unit, IDLE)
        else:
            fleet.set_state(unit, IDLE)
        self._offer(unit)

    def _on_home(self, unit: int, token: int, _event: simpy.Event) -> None:
        fleet = self.fleet
        if fleet.token[unit] != token:
            return  # re-tasked or off duty since this return trip began
        fleet.at_home(unit)
        fleet.set_state(unit, IDLE)

    def _offer(self, unit: int) -> None:
        """A unit became available: give it the most urgent incident waiting in a queue it serves."""
        incident = self.queues.next_for(int(self.fleet.home_district[unit]), self._still_needs,
                                        partial(self._nearest_incident, unit))
        if incident is not None:
            self._assign(unit, incident)

    def _nearest_incident(self, unit: int, incidents: list[int]) -> int:
        """Of these waiting incidents, the one the unit is estimated to reach first."""
        fleet, now = self.fleet, self.env.now
        units = np.array([unit])
        x, y = fleet.positions(units, now)
        node, access, lead = fleet.network_places(units, now)
        clock = self._clock_hour()
        times = [float(self.travel.estimate_min(x, y, node, access, lead, self.inc_x[i], self.inc_y[i],
                                                self.inc_node[i], self.inc_access[i], clock)[0]) for i in incidents]
        return incidents[int(np.argmin(times))]

    def _still_needs(self, incident: int) -> bool:
        return self.remaining[incident] > 0

    def _set_unit_roster(self, hour: int) -> None:
        now = self.env.now
        fleet = self.fleet
        fraction = self.scenario.fleet.on_duty_fraction_by_hour[hour]
        for units in self.district_units:
            target = round(units.size * fraction)
            state = np.array([fleet.state[u] for u in units], dtype=np.int8)
            on = units[(state != OFF) & ~fleet.going_off[units]]
            if on.size > target:
                excess = on.size - target
                free = on[fleet.available[on]][:excess]
                for unit in free:
                    fleet.go_off_duty(int(unit), now)
                fleet.going_off[on[~fleet.available[on]][: excess - free.size]] = True
            elif on.size < target:
                need = target - on.size
                leaving = units[fleet.going_off[units]][:need]
                fleet.going_off[leaving] = False
                for unit in units[state == OFF][: need - leaving.size]:
                    fleet.come_on_duty(int(unit), now)
                    self._offer(int(unit))

    def _clock_hour(self) -> float:
        return clock_hour(self.scenario.run.start_clock_h, self.env.now)

    # ----------------------------------------------------------------- run
    def run(self) -> RunResult:
        """Simulate to the end of the run and return the logs and monitors."""
        env = self.env
        env.process(self._rosters())
        self._schedule_next_call(0)
        if self.traffic_layer is not None:
            self.traffic_layer.start()
        if self.scenario.run.warmup_min > 0:
            env.process(self._end_warmup())
        end = self.scenario.run.duration_min
        env.run(until=end)
        self.fleet.close_duty(end)
        monitors = {
            "waiting_for_unit_mean": self.waiting.mean(end),
            "busy_units_mean": self.busy_units.mean(end),
            "call_takers_talking_mean": self.talking.mean(end),
            "call_takers_staffed_mean": self.staffed.mean(end),
        }
        logs = build_logs(self, end)
        return RunResult(self.scenario, self.replication, self.seed, logs, monitors)


def simulate_one(scenario: Scenario, replication: int, seed: int | None = None) -> RunResult:
    """Run replication `replication` of a scenario."""
    return CityModel(scenario, replication, seed).run()

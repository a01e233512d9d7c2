"""CityModel: one replication of the 110 police service as a SimPy simulation.

Life of an incident: it occurs (t_occur); after a report delay the 110 centre learns of it (t_call);
a call-taker answers (t_answer), locates the caller and talks; the call is closed on the phone,
diverted, or passed to the dispatcher, who after a decision delay queues it (t_queue) and assigns units
(t_dispatch = first assignment). Units drive there (t_arrive = first arrival), with lights and siren for
the priorities the scenario names. On scene the first unit makes its look-ups (by radio through the
back office, or on its terminal), then does the scene work; a crash the drivers cleared before the
police came gets a short check instead. The incident clears (t_clear) when the work is done and every
dispatched unit has arrived; it closes (t_closed) when the first unit's report is filed: on scene with
a terminal, else in the car or after a trip to the station. Units then return to where they wait (their
station or patrol post; re-taskable on the way), or stay where they cleared (`fleet.idle_at:
where_cleared`). Between calls, units start other work (`operations.other_work`) as it falls due.

Call-taking is worked out before the event loop (`answer_calls`: nothing later feeds back into it), so
only incidents that need a unit enter the loop, as a chain of timeouts at the times they join the
dispatch queue; other work falls due as a chain too, the back office is a callback-driven `ServerPool`,
and the incident flow is callback-driven. SimPy processes are used where they read best (rosters, the
end of the warm-up). See docs/architecture.md, "The fast path". All randomness is pre-drawn in
`IncidentPlan` and `TaskPlan`. The model only wires events: what is known of each
incident lives in the `IncidentLedger`, the choice of unit in the `Dispatcher` (under a
`DispatchPolicy`), unit state and the roster in the `Fleet`, and the logs are built from a plain
`RunRecord`.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import simpy

from citysim.city.context import city_context
from citysim.city.crashes import generate_crashes
from citysim.city.geography import DistrictGrid
from citysim.city.surface import demand_surface
from citysim.city.traffic import TrafficState
from citysim.city.traffic_layer import TrafficLayer
from citysim.city.travel import Place, make_travel
from citysim.clock import clock_hour, hourly_segments
from citysim.config.lever_effects import effective_scenario, lever_effects
from citysim.config.limits import MAX_INCIDENTS, expected_incidents
from citysim.config.schema import Scenario, StaffedCallCentre
from citysim.errors import InputError
from citysim.monitor import TimeAverage
from citysim.police.call_centre import answer_calls
from citysim.police.demand import OUTCOME_DISPATCH, OUTCOME_PHONE, generate_incidents
from citysim.police.dispatch import DISPATCH_POLICIES, Dispatcher, DispatchPolicy
from citysim.police.driving import SignalDelay
from citysim.police.fleet import EN_ROUTE, IDLE, OFF, ON_SCENE, REPORTING, TASK, Fleet
from citysim.police.other_work import plan_tasks
from citysim.police.posts import placement, unit_homes, unit_stations
from citysim.police.server_pool import ServerPool
from citysim.simulation.ledger import (
    RESOLUTION_DISPATCHED,
    RESOLUTION_DIVERTED,
    RESOLUTION_PHONE,
    AssignmentLog,
    IncidentLedger,
)
from citysim.simulation.logs import RunLogs, RunRecord, build_logs
from citysim.streams import Streams


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

    def __init__(self, scenario: Scenario, replication: int, seed: int | None = None,
                 policy: DispatchPolicy | None = None) -> None:
        self.effects = lever_effects(scenario)
        as_given, scenario = scenario, effective_scenario(scenario)
        self.scenario = scenario
        self._start_clock_h = scenario.run.start_clock_h
        self.replication = replication
        self.seed = scenario.run.seed if seed is None else seed
        streams = Streams(self.seed, replication)
        expected = expected_incidents(scenario)  # checked before any draw is made (loading checked it too)
        if expected > MAX_INCIDENTS:
            raise InputError(None, f"{scenario.name}: one replication would simulate about {expected:,.0f} "
                             f"incidents, more than the limit of {MAX_INCIDENTS:,} (hours of computing); shorten "
                             "run.duration_min or lower demand.calls_per_day.", ("run", "duration_min"))
        self.grid = DistrictGrid.from_scenario(scenario)
        surface = demand_surface(scenario, self.grid)
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
        self.plan = generate_incidents(scenario, self.grid, surface, streams, crashes, self.effects)
        if self.plan.size > MAX_INCIDENTS:
            raise InputError(None, f"{scenario.name}: one replication would simulate {self.plan.size:,} incidents, "
                             f"more than the limit of {MAX_INCIDENTS:,} (hours of computing); shorten "
                             "run.duration_min or lower demand.calls_per_day.", ("run", "duration_min"))
        self.turnout_min = self.travel.turnout_min(self.plan.turnout_u)
        self.noise = self.travel.noise_factor(self.plan.noise_u)
        ops = self.ops = scenario.operations
        self.signals = SignalDelay(ops.driving if ops else None, self.effects)

        districts = scenario.districts
        n_units = sum(d.units for d in districts)
        self.sites = placement(scenario, surface)
        follows = streams.uniforms("lever.predictive", n_units) < self.effects.predictive_share
        home, home_x, home_y = unit_homes(scenario, self.sites, follows)
        self.fleet = Fleet(home, home_x, home_y, *self.travel.locate(home_x, home_y), len(districts),
                           clock=lambda: self.env.now)
        # Operations: terminals, stations for reports, the back office, other work.
        self.terminal = (streams.uniforms("lever.terminals", n_units) < self.effects.terminal_share).tolist()
        station_x, station_y = unit_stations(scenario, self.sites)
        self.station_places = list(map(Place, station_x.tolist(), station_y.tolist(),
                                       *(a.tolist() for a in self.travel.locate(station_x, station_y))))
        self.back_office = ServerPool(self.env, ops.lookups.back_office.staff_by_hour) if ops else None
        self.tasks = ops.other_work if ops else []
        self.task_plan = plan_tasks(self.tasks, n_units, scenario.run.horizon_min, streams)
        self.interrupt_min = {k: task.interrupt_delay.ppf(self.plan.interrupt_u) for k, task in enumerate(self.tasks)
                              if task.interrupt_delay is not None}
        self.backlog: list[list[tuple[int, float]]] = [[] for _ in range(n_units)]
        # Units go back to where they wait after each job, except under idle_at 'where_cleared' (where
        # only units following the forecast return, to their forecast posts).
        self.returns = (follows | (scenario.fleet.idle_at != "where_cleared")).tolist()
        policy = policy if policy is not None else DISPATCH_POLICIES[scenario.dispatch.policy]
        self.dispatcher = Dispatcher(policy, self.fleet, self.travel, len(districts), lambda: self.env.now,
                                     self._clock_hour)
        self.ledger = IncidentLedger(self.plan, self.travel, policy, [d.units == 0 for d in districts])
        self.assignments = AssignmentLog(self.fleet.size)

        now = 0.0
        self.waiting = TimeAverage(now)  # incidents queued with no unit yet
        self.busy_units = TimeAverage(now)  # units en route or on scene
        self.staffed = TimeAverage(now)  # call-takers on the roster
        centre = scenario.call_centre
        self.call_takers = centre.call_takers_by_hour if isinstance(centre, StaffedCallCentre) else None
        run = scenario.run
        call_taking = answer_calls(self.ledger.call_times, self.ledger.talk, self.call_takers, run.start_clock_h,
                                   run.horizon_min, run.warmup_min)
        self.talking = call_taking.talking  # call-takers in a call, integrated over the whole run
        self._queue_order = self._settle_calls(call_taking.t_answer, run.horizon_min)

    # ----------------------------------------------------------------- processes
    def _settle_calls(self, t_answer: list[float], horizon: float) -> list[tuple[float, int]]:
        """Record each call's answer and what became of it at the end of the talk: phone and diverted
        calls end there; calls that need a unit enter the dispatch queue after the dispatcher's decision.
        Returns (t_queue, incident) of those that do before the end of the run, in time order."""
        ledger = self.ledger
        ledger.t_answer = t_answer
        queue: list[tuple[float, int]] = []
        for incident, (answered, talk, outcome, decision) in enumerate(
                zip(t_answer, ledger.talk, ledger.outcome, ledger.decision, strict=True)):
            done = answered + talk  # NaN if never answered; talk is 0 without a call centre
            if not done < horizon:
                continue
            if outcome != OUTCOME_DISPATCH:
                ledger.resolution[incident] = RESOLUTION_PHONE if outcome == OUTCOME_PHONE else RESOLUTION_DIVERTED
                ledger.t_clear[incident] = ledger.t_closed[incident] = done
                continue
            queued = done + decision if decision > 0 else done
            if queued < horizon:
                queue.append((queued, incident))
        queue.sort()
        return queue

    def _schedule_next_submission(self, k: int) -> None:
        """Entries to the dispatch queue as a chain of timeouts: one event per incident that needs a unit."""
        queue = self._queue_order
        if k < len(queue):
            queued, incident = queue[k]
            self.env.timeout(queued - self.env.now).callbacks.append(partial(self._on_submitted, k, incident))

    def _on_submitted(self, k: int, incident: int, _event: simpy.Event) -> None:
        self._schedule_next_submission(k + 1)
        self._submit(incident)

    def _rosters(self) -> Any:
        env = self.env
        run = self.scenario.run
        for start, _end, hour in hourly_segments(run.start_clock_h, run.horizon_min):
            if start > env.now:
                yield env.timeout(start - env.now)
            self.fleet.apply_roster(self.scenario.fleet.on_duty_fraction_by_hour[hour], env.now, self._came_on)
            if self.call_takers is not None:
                self.staffed.add(env.now, self.call_takers[hour] - self.staffed.level)
            if self.back_office is not None:
                self.back_office.staff(hour)

    def _end_warmup(self) -> Any:
        yield self.env.timeout(self.scenario.run.warmup_min)
        for monitor in (self.waiting, self.busy_units, self.staffed):  # `talking` is reset by answer_calls
            monitor.reset(self.env.now)

    # ----------------------------------------------------------------- incident flow
    def _submit(self, incident: int) -> None:
        now = self.env.now
        ledger = self.ledger
        ledger.t_queue[incident] = now
        ledger.remaining[incident] = ledger.units_needed[incident]
        ledger.locate(incident)
        self._assign_available(incident)
        if ledger.remaining[incident] > 0:
            self.dispatcher.queues.push(ledger.area[incident], ledger.priority[incident], now, incident)
            if not ledger.assigned[incident]:
                ledger.counted_waiting[incident] = True
                self.waiting.add(now, 1)

    def _assign_available(self, incident: int) -> None:
        ledger = self.ledger
        area, place = ledger.area[incident], ledger.place[incident]
        now, clock = self.env.now, self._clock_hour()
        while ledger.remaining[incident] > 0:
            unit = self.dispatcher.nearest_unit(area, place, now, clock)
            if unit is None:
                return
            self._assign(unit, incident)

    def _assign(self, unit: int, incident: int) -> None:
        now = self.env.now
        fleet, ledger = self.fleet, self.ledger
        slot = len(ledger.assigned[incident])
        if slot == 0:
            ledger.t_dispatch[incident] = now
            if ledger.counted_waiting[incident]:
                self.waiting.add(now, -1)
        origin = fleet.place_of(unit, now)
        leaving = 0.0
        if fleet.state[unit] == TASK:  # it leaves interruptible other work
            leaving = self.interrupt_min[fleet.current_task[unit]].item(incident, slot)
        trip = self.travel.drive(origin, ledger.place[incident], now, self._clock_hour(),
                                 ledger.current_route[incident])
        lights_siren = ledger.priority[incident] in self.signals.lights_siren_priorities
        drive_min = self.signals.minutes(trip, lights_siren)
        travel = self.turnout_min.item(incident, slot) + leaving + drive_min * self.noise.item(incident, slot)
        fleet.token[unit] += 1
        fleet.set_state(unit, EN_ROUTE)
        self.busy_units.add(now, 1)
        ledger.remaining[incident] -= 1
        ledger.assigned[incident].append(unit)
        self.assignments.dispatched(unit, incident, now, trip.km, travel, origin, trip.crossing)
        if travel > 0:
            self.env.timeout(travel).callbacks.append(partial(self._on_arrive, unit, incident))
        else:
            self._on_arrive(unit, incident, None)

    def _on_arrive(self, unit: int, incident: int, _event: simpy.Event | None) -> None:
        now = self.env.now
        fleet, ledger = self.fleet, self.ledger
        fleet.set_state(unit, ON_SCENE)
        fleet.move_to(unit, ledger.place[incident])
        self.assignments.arrived(unit, now)
        ledger.arrived[incident] += 1
        if ledger.arrived[incident] == 1:
            ledger.t_arrive[incident] = now
            self._start_scene(unit, incident)
        elif ledger.work_done[incident] and ledger.arrived[incident] == len(ledger.assigned[incident]):
            self._clear(incident)

    def _start_scene(self, unit: int, incident: int) -> None:
        """The first unit on scene: look-ups first (the officer waits for each answer), then the scene work;
        a crash the drivers cleared before the police came gets only a short check."""
        ledger = self.ledger
        now = self.env.now
        if ledger.self_clear_at[incident] <= now:
            self._work(incident, ledger.check[incident])
            return
        count = ledger.lookups[incident]
        if not count:
            self._work(incident, ledger.scene[incident])
            return
        first = ledger.lookup_first[incident]
        if self.terminal[unit]:
            minutes = float(self.plan.lookup_terminal_min[first:first + count].sum())
            ledger.lookup_min[incident] = minutes
            self._work(incident, minutes + ledger.scene[incident])
        else:
            self._next_lookup(incident, first, first + count, now)

    def _next_lookup(self, incident: int, k: int, end: int, started: float) -> None:
        """Radio look-ups one after another through the back office, then the scene work."""
        if k == end:
            self.ledger.lookup_min[incident] = self.env.now - started
            self._work(incident, self.ledger.scene[incident])
            return
        assert self.back_office is not None
        self.back_office.request(float(self.plan.lookup_radio_min[k]),
                                 partial(self._next_lookup, incident, k + 1, end, started))

    def _work(self, incident: int, minutes: float) -> None:
        self.env.timeout(minutes).callbacks.append(partial(self._on_work_done, incident))

    def _on_work_done(self, incident: int, _event: simpy.Event) -> None:
        ledger = self.ledger
        ledger.work_done[incident] = True
        ledger.remaining[incident] = 0  # needs not yet met are cancelled; the queue drops them lazily
        if ledger.arrived[incident] == len(ledger.assigned[incident]):
            self._clear(incident)

    def _clear(self, incident: int) -> None:
        ledger = self.ledger
        ledger.t_clear[incident] = self.env.now
        ledger.resolution[incident] = RESOLUTION_DISPATCHED
        crash = ledger.crash[incident]
        if crash >= 0 and self.traffic_layer is not None:
            self.traffic_layer.cleared(crash)
        current_route = ledger.current_route[incident]
        now = self.env.now
        reporter, *others = ledger.assigned[incident]
        for unit in ledger.assigned[incident]:
            self.assignments.cleared(unit, now)
        for unit in others:
            self._release(unit, current_route)
        self._file_report(reporter, incident)

    def _file_report(self, unit: int, incident: int) -> None:
        """The first unit assigned files the report that closes the incident: on scene with a terminal;
        without one in the car, or at its station after a trip there. It is unavailable meanwhile."""
        ledger = self.ledger
        if self.ops is None:
            ledger.t_closed[incident] = self.env.now
            self._release(unit, ledger.current_route[incident])
            return
        closure = self.ops.case_closure
        minutes = ledger.report[incident]
        station: Place | None = None
        if self.terminal[unit]:
            minutes *= closure.terminal_report_factor
        elif ledger.station_u[incident] < closure.station_trip_share:
            station = self.station_places[unit]
            minutes += self._admin_minutes(self.fleet.place_now(unit), station, ledger.current_route[incident])
        self.fleet.set_state(unit, REPORTING)
        self.env.timeout(minutes).callbacks.append(partial(self._on_report_filed, unit, incident, station))

    def _admin_minutes(self, origin: Place, destination: Place, current_routing: bool) -> float:
        """Minutes of a drive without lights and siren (to the station, or home), signal delay adjusted."""
        trip = self.travel.drive(origin, destination, self.env.now, self._clock_hour(), current_routing)
        return self.signals.minutes(trip, lights_siren=False)

    def _on_report_filed(self, unit: int, incident: int, station: Place | None, _event: simpy.Event) -> None:
        ledger = self.ledger
        ledger.t_closed[incident] = self.env.now
        if station is not None:
            self.fleet.move_to(unit, station)
        self._release(unit, ledger.current_route[incident])

    def _release(self, unit: int, current_route: bool) -> None:
        """The unit is free: off duty if its shift ended, else on its way back to where it waits (or
        staying where it cleared), and available at once."""
        now = self.env.now
        fleet = self.fleet
        self.assignments.freed(unit, now)
        self.busy_units.add(now, -1)
        if fleet.going_off[unit]:
            fleet.go_off_duty(unit, now)
            return
        if self.returns[unit]:
            back = self._admin_minutes(fleet.place_now(unit), fleet.home_places[unit], current_route)
            if back > 0:
                fleet.start_return(unit, now, now + back)
                self.env.timeout(back).callbacks.append(partial(self._on_home, unit, fleet.token[unit]))
            else:
                fleet.at_home(unit)
                fleet.set_state(unit, IDLE)
        else:
            fleet.set_state(unit, IDLE)
        self._offer(unit)
        self._start_backlog(unit)

    def _on_home(self, unit: int, token: int, _event: simpy.Event) -> None:
        fleet = self.fleet
        if fleet.token[unit] != token:
            return  # re-tasked or off duty since this return trip began
        fleet.at_home(unit)
        fleet.set_state(unit, IDLE)
        self._start_backlog(unit)

    def _came_on(self, unit: int) -> None:
        self.backlog[unit].clear()  # work deferred in an earlier shift is not carried over
        self._offer(unit)

    # ----------------------------------------------------------------- other work
    def _schedule_next_task(self, index: int) -> None:
        """Due tasks as a chain of timeouts, like the calls."""
        plan = self.task_plan
        if index < plan.size:
            self.env.timeout(float(plan.t_due[index]) - self.env.now).callbacks.append(
                partial(self._on_task_due, index))

    def _on_task_due(self, index: int, _event: simpy.Event) -> None:
        self._schedule_next_task(index + 1)
        plan = self.task_plan
        unit, task, minutes = int(plan.unit[index]), int(plan.task[index]), float(plan.duration_min[index])
        state = self.fleet.state[unit]
        if state == IDLE:
            self._start_task(unit, task, minutes)
        elif state != OFF and self.tasks[task].deferrable:
            self.backlog[unit].append((task, minutes))

    def _start_task(self, unit: int, task: int, minutes: float) -> None:
        spec = self.tasks[task]
        fleet = self.fleet
        lead = spec.interrupt_delay.mean if spec.interrupt_delay is not None else 0.0
        fleet.start_task(unit, task, spec.on_dispatch == "interrupt", lead, self.env.now)
        fleet.token[unit] += 1
        self.env.timeout(minutes).callbacks.append(partial(self._on_task_end, unit, fleet.token[unit]))

    def _on_task_end(self, unit: int, token: int, _event: simpy.Event) -> None:
        fleet = self.fleet
        if fleet.token[unit] != token:
            return  # sent to a call, or off duty, since the task began
        if fleet.going_off[unit]:
            fleet.go_off_duty(unit, self.env.now)
            return
        fleet.set_state(unit, IDLE)
        self._offer(unit)
        self._start_backlog(unit)

    def _start_backlog(self, unit: int) -> None:
        """An idle unit takes up the oldest deferred task, if any."""
        backlog = self.backlog[unit]
        if backlog and self.fleet.state[unit] == IDLE:
            task, minutes = backlog.pop(0)
            self._start_task(unit, task, minutes)

    def _offer(self, unit: int) -> None:
        """A unit became available: give it the most urgent incident waiting in a queue it serves."""
        ledger = self.ledger
        incident = self.dispatcher.next_for(unit, ledger.still_needs, ledger.place.__getitem__)
        if incident is not None:
            self._assign(unit, incident)

    def _clock_hour(self) -> float:
        return clock_hour(self._start_clock_h, self.env.now)

    # ----------------------------------------------------------------- run
    def run(self) -> RunResult:
        """Simulate to the end of the run and return the logs and monitors."""
        env = self.env
        env.process(self._rosters())
        self._schedule_next_submission(0)
        self._schedule_next_task(0)
        if self.traffic_layer is not None:
            self.traffic_layer.start()
        if self.scenario.run.warmup_min > 0:
            env.process(self._end_warmup())
        end = self.scenario.run.horizon_min
        with _collector_paused():
            env.run(until=end)
        self.fleet.close_duty(end)
        monitors = {
            "waiting_for_unit_mean": self.waiting.mean(end),
            "busy_units_mean": self.busy_units.mean(end),
            "call_takers_talking_mean": self.talking.mean(end),
            "call_takers_staffed_mean": self.staffed.mean(end),
        }
        return RunResult(self.scenario, self.replication, self.seed, build_logs(self._record(end)), monitors)

    def _record(self, end: float) -> RunRecord:
        layer = self.traffic_layer
        crashes = self.scenario.crashes
        return RunRecord(
            replication=self.replication, start_clock_h=self._start_clock_h, end_min=end,
            warmup_min=self.scenario.run.warmup_min,
            window_end_min=self.scenario.run.duration_min, grid=self.grid,
            crossing_names=list(layer.traffic.profile.network.crossing_names) if layer is not None else [],
            category_names=self.scenario.category_names,
            severity_names=[s.name for s in crashes.severities] if crashes else [],
            plan=self.plan, ledger=self.ledger, assignments=self.assignments,
            unit_district=self.fleet.home_district, duty_intervals=self.fleet.duty_intervals,
            task_names=[t.name for t in self.tasks], task_intervals=self.fleet.task_intervals,
            traffic_rows=layer.traffic.log if layer is not None else [],
            crash_rows=layer.crash_rows(end) if layer is not None else [],
        )


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a replication is built and run: it allocates hundreds of
    thousands of long-lived lists and tuples, which the collector would traverse again and again for
    nothing (about 6 % of a city-day), and what it frees is freed by reference counting (a processed
    event drops its callbacks). The collector is back on, and finds any cycles, once the run is over."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def simulate_one(scenario: Scenario, replication: int, seed: int | None = None,
                 policy: DispatchPolicy | None = None) -> RunResult:
    """Run replication `replication` of a scenario (under `policy`, default the scenario's own)."""
    with _collector_paused():
        return CityModel(scenario, replication, seed, policy).run()

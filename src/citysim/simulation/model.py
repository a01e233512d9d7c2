"""CityModel: one replication of the 110 police service as a SimPy simulation.

Life of an incident: it occurs (t_occur); after a report delay the 110 centre learns of it (t_call);
a call-taker answers (t_answer) and talks; the call is closed on the phone, diverted, or passed to
the dispatcher, who after a decision delay queues it (t_queue) and assigns units (t_dispatch = first
assignment). Units drive there (t_arrive = first arrival); on-scene work starts at the first arrival
and the incident clears (t_clear) when the work is done and every dispatched unit has arrived. Units
then return to where they wait (their station or patrol post; re-taskable on the way), or stay where
they cleared (`fleet.idle_at: where_cleared`).

Arrivals are a chain of timeouts and the incident flow after the call is callback-driven; SimPy
processes are used where they read best (call-taking, rosters, the end of the warm-up). All
randomness is pre-drawn in `IncidentPlan`. The model only wires events: what is known of each
incident lives in the `IncidentLedger`, the choice of unit in the `Dispatcher` (under a
`DispatchPolicy`), unit state and the roster in the `Fleet`, and the logs are built from a plain
`RunRecord`.
"""

from __future__ import annotations

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
from citysim.city.travel import make_travel
from citysim.clock import clock_hour, hourly_segments
from citysim.config.lever_effects import effective_scenario, lever_effects
from citysim.config.schema import Scenario, StaffedCallCentre
from citysim.errors import InputError
from citysim.police.callcentre import CallCentre
from citysim.police.demand import OUTCOME_DISPATCH, OUTCOME_PHONE, generate_incidents
from citysim.police.dispatch import DISPATCH_POLICIES, Dispatcher, DispatchPolicy
from citysim.police.fleet import EN_ROUTE, IDLE, ON_SCENE, RETURNING, Fleet
from citysim.police.posts import placement, unit_homes
from citysim.simulation.ledger import (
    RESOLUTION_DISPATCHED,
    RESOLUTION_DIVERTED,
    RESOLUTION_PHONE,
    AssignmentLog,
    IncidentLedger,
)
from citysim.simulation.logs import RunLogs, RunRecord, build_logs
from citysim.simulation.monitor import TimeAverage
from citysim.streams import Streams

#: The most incidents one replication may simulate (about an hour of computing): a guard against a
#: typo such as a duration in seconds.
MAX_INCIDENTS = 5_000_000


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
        self.replication = replication
        self.seed = scenario.run.seed if seed is None else seed
        streams = Streams(self.seed, replication)
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

        districts = scenario.districts
        self.sites = placement(scenario, surface)
        follows = streams.uniforms("lever.predictive", sum(d.units for d in districts)) < self.effects.predictive_share
        home, home_x, home_y = unit_homes(scenario, self.sites, follows)
        self.fleet = Fleet(home, home_x, home_y, *self.travel.locate(home_x, home_y), len(districts))
        # Units go back to where they wait after each job, except under idle_at 'where_cleared' (where
        # only units following the forecast return, to their forecast posts).
        self.returns = (follows | (scenario.fleet.idle_at != "where_cleared")).tolist()
        policy = policy if policy is not None else DISPATCH_POLICIES[scenario.dispatch.policy]
        self.dispatcher = Dispatcher(policy, self.fleet, self.travel, len(districts), lambda: self.env.now,
                                     self._clock_hour)
        self.call_centre = (
            CallCentre(self.env, scenario.call_centre.call_takers_by_hour)
            if isinstance(scenario.call_centre, StaffedCallCentre)
            else None
        )
        self.ledger = IncidentLedger(self.plan, self.travel, policy, [d.units == 0 for d in districts])
        self.assignments = AssignmentLog(self.fleet.size)

        now = 0.0
        self.waiting = TimeAverage(now)  # incidents queued with no unit yet
        self.busy_units = TimeAverage(now)  # units en route or on scene
        self.talking = TimeAverage(now)  # call-takers in a call
        self.staffed = TimeAverage(now)  # call-takers on the roster

    # ----------------------------------------------------------------- processes
    def _schedule_next_call(self, incident: int) -> None:
        """Arrivals as a chain of timeouts: one event per call, cheaper than a generator process."""
        call_times = self.ledger.call_times
        if incident < len(call_times):
            delay = call_times[incident] - self.env.now
            self.env.timeout(delay).callbacks.append(partial(self._on_call, incident))

    def _on_call(self, incident: int, _event: simpy.Event) -> None:
        self._schedule_next_call(incident + 1)
        if self.call_centre is not None:
            self.env.process(self._call(incident))
        else:
            self.ledger.t_answer[incident] = self.env.now
            self._after_call(incident)

    def _call(self, incident: int) -> Any:
        assert self.call_centre is not None
        env = self.env
        with self.call_centre.request() as request:
            yield request
            self.ledger.t_answer[incident] = env.now
            self.talking.add(env.now, 1)
            yield env.timeout(self.ledger.talk[incident])
            self.talking.add(env.now, -1)
        self._after_call(incident)

    def _rosters(self) -> Any:
        env = self.env
        run = self.scenario.run
        for start, _end, hour in hourly_segments(run.start_clock_h, run.duration_min):
            if start > env.now:
                yield env.timeout(start - env.now)
            self.fleet.apply_roster(self.scenario.fleet.on_duty_fraction_by_hour[hour], env.now, self._offer)
            if self.call_centre is not None:
                self.call_centre.staff(hour)
                self.staffed.add(env.now, self.call_centre.by_hour[hour] - self.staffed.level)

    def _end_warmup(self) -> Any:
        yield self.env.timeout(self.scenario.run.warmup_min)
        for monitor in (self.waiting, self.busy_units, self.talking, self.staffed):
            monitor.reset(self.env.now)

    # ----------------------------------------------------------------- incident flow
    def _after_call(self, incident: int) -> None:
        ledger = self.ledger
        outcome = ledger.outcome[incident]
        if outcome != OUTCOME_DISPATCH:
            ledger.resolution[incident] = RESOLUTION_PHONE if outcome == OUTCOME_PHONE else RESOLUTION_DIVERTED
            ledger.t_clear[incident] = self.env.now
            return
        delay = ledger.decision[incident]
        if delay > 0:
            self.env.timeout(delay).callbacks.append(partial(self._on_decided, incident))
        else:
            self._submit(incident)

    def _on_decided(self, incident: int, _event: simpy.Event) -> None:
        self._submit(incident)

    def _submit(self, incident: int) -> None:
        now = self.env.now
        ledger = self.ledger
        ledger.t_queue[incident] = now
        ledger.remaining[incident] = ledger.units_needed[incident]
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
        trip = self.travel.drive(origin, ledger.place[incident], now, self._clock_hour(),
                                 ledger.current_route[incident])
        drive_min = trip.minutes * self.effects.driving_factor  # signal pre-emption speeds emergency trips only
        travel = self.turnout_min.item(incident, slot) + drive_min * self.noise.item(incident, slot)
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
        place = ledger.place[incident]
        fleet.x[unit], fleet.y[unit] = place.x, place.y
        fleet.node[unit], fleet.access_km[unit] = place.node, place.access
        self.assignments.arrived(unit, now)
        ledger.arrived[incident] += 1
        if ledger.arrived[incident] == 1:
            ledger.t_arrive[incident] = now
            self.env.timeout(ledger.scene[incident]).callbacks.append(partial(self._on_work_done, incident))
        elif ledger.work_done[incident] and ledger.arrived[incident] == len(ledger.assigned[incident]):
            self._clear(incident)

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
        for unit in ledger.assigned[incident]:
            self._release(unit, current_route)

    def _release(self, unit: int, current_route: bool) -> None:
        """The unit is free: off duty if its shift ended, else on its way back to where it waits (or
        staying where it cleared), and available at once."""
        now = self.env.now
        fleet = self.fleet
        self.assignments.cleared(unit, now)
        self.busy_units.add(now, -1)
        if fleet.going_off[unit]:
            fleet.go_off_duty(unit, now)
            return
        if self.returns[unit]:
            back = self.travel.drive(fleet.place_now(unit), fleet.home_places[unit], now, self._clock_hour(),
                                     current_route).minutes
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
        ledger = self.ledger
        incident = self.dispatcher.next_for(unit, ledger.still_needs, ledger.place.__getitem__)
        if incident is not None:
            self._assign(unit, incident)

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
        return RunResult(self.scenario, self.replication, self.seed, build_logs(self._record(end)), monitors)

    def _record(self, end: float) -> RunRecord:
        layer = self.traffic_layer
        crashes = self.scenario.crashes
        return RunRecord(
            replication=self.replication, end_min=end, warmup_min=self.scenario.run.warmup_min, grid=self.grid,
            crossing_names=list(layer.traffic.profile.network.crossing_names) if layer is not None else [],
            category_names=self.scenario.category_names,
            severity_names=[s.name for s in crashes.severities] if crashes else [],
            plan=self.plan, ledger=self.ledger, assignments=self.assignments,
            unit_district=self.fleet.home_district, duty_intervals=self.fleet.duty_intervals,
            traffic_rows=layer.traffic.log if layer is not None else [],
            crash_rows=layer.crash_rows(end) if layer is not None else [],
        )


def simulate_one(scenario: Scenario, replication: int, seed: int | None = None,
                 policy: DispatchPolicy | None = None) -> RunResult:
    """Run replication `replication` of a scenario (under `policy`, default the scenario's own)."""
    return CityModel(scenario, replication, seed, policy).run()

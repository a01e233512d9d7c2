"""Bus trunk lines of one replication and their KPIs (`transit_kpis`): run after the police replication,
never inside it, so the police logs cannot change (common random numbers: the buses draw only from
streams named `transit.<line>.<direction>.<what>`).

Where bus priority meets police pre-emption (ASSUMPTION: pre-emption overrides priority, as in the ITS
architecture's pre-emption flow; the NTCIP 1211 text was not read): a bus's priority request is lost when
its signal is held by a pre-emption, so priority's share of signal delay removed is cut by the chance of
that, (pre-emption events per signal-hour) x `preemption_block_min` / 60. Events come from the police run
of the same replication: lights-and-siren trips x their km x signals per arterial km (an upper bound:
every km counted as arterial) x the `signal_preemption` lever's equipped share, spread over the network's
arterial signals and the run's hours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from citysim.city.bus_routes import BusRoute, SegmentTimes, car_minutes_by_slot, line_routes, segment_times
from citysim.city.buses import BusRun, run_buses, timetable
from citysim.city.context import city_context
from citysim.city.geography import DistrictGrid
from citysim.city.network import ARTERIAL, RoadNetwork
from citysim.clock import clock_hour
from citysim.config.lever_effects import effective_scenario, lever_effects
from citysim.config.schema import Scenario
from citysim.config.transit import Transit
from citysim.simulation.kpis import metric_frame
from citysim.simulation.logs import RunLogs
from citysim.simulation.transit_kpis import headway_cv, informed_wait, random_wait
from citysim.streams import Streams


@dataclass(frozen=True)
class RouteRun:
    """One route direction: where it runs, its segment times, and what its buses did."""

    route: BusRoute
    times: SegmentTimes
    run: BusRun
    arrivals_per_min: np.ndarray  # (clock hour, stop)
    peak: np.ndarray  # (bus,) whether the bus left in a peak hour


@dataclass(frozen=True)
class TransitRun:
    """The buses of one replication and the pre-emption conflict they met."""

    routes: list[RouteRun]
    preemption_per_signal_hour: float
    priority_lost_share: float


def preemption_per_signal_hour(scenario: Scenario, logs: RunLogs, network: RoadNetwork) -> float:
    """Police pre-emption events per arterial signal per hour in this replication (module docstring)."""
    ops = scenario.operations
    share = lever_effects(scenario).preemption_share
    if ops is None or ops.driving is None or share <= 0 or logs.units.empty:
        return 0.0
    signals = ops.driving.signals
    priority = logs.incidents.set_index("incident_id")["priority"]
    lights = logs.units["incident_id"].map(priority).isin(ops.driving.lights_and_siren_priorities)
    events = float(logs.units.loc[lights, "travel_km"].sum()) * signals.arterial_per_km * share
    arterial_km = float(network.arc_km[network.arc_class == ARTERIAL].sum()) / 2.0  # two arcs a road
    signal_hours = arterial_km * signals.arterial_per_km * scenario.run.horizon_min / 60.0
    return events / signal_hours if signal_hours > 0 else 0.0


def simulate_transit(scenario: Scenario, replication: int = 0, logs: RunLogs | None = None,
                     seed: int | None = None) -> TransitRun:
    """Run every line's buses for one replication. `logs`: that replication's police logs (run here when
    needed for the pre-emption conflict and not given)."""
    transit = scenario.transit
    if transit is None:
        raise ValueError(f"{scenario.name} has no transit block")
    as_given, scenario = scenario, effective_scenario(scenario)  # parking guidance lightens the traffic buses meet
    assert scenario.network is not None and scenario.traffic is not None
    grid = DistrictGrid.from_scenario(scenario)
    city = city_context(scenario, grid)
    run = scenario.run
    ops = scenario.operations
    signals = ops.driving.signals if ops is not None and ops.driving is not None else None
    effects = lever_effects(scenario)
    rate = 0.0
    if effects.preemption_share > 0 and effects.bus_priority_share > 0:
        if logs is None:
            from citysim.simulation.model import simulate_one  # the police run, only when it matters

            logs = simulate_one(as_given, replication, seed).logs  # it applies the levers itself
        rate = preemption_per_signal_hour(scenario, logs, city.network)
    lost = min(1.0, rate * transit.preemption_block_min / 60.0)
    priority = effects.bus_priority_share * (1.0 - lost)
    streams = Streams(run.seed if seed is None else seed, replication)
    first, last = transit.service_hours
    peak_hours = set(transit.peak_hours)
    refresh_min = scenario.traffic.refresh_min
    car_minutes = car_minutes_by_slot(city.profile, run.start_clock_h, run.horizon_min + 600.0, refresh_min)
    routes: list[RouteRun] = []
    for index, line in enumerate(transit.lines):
        hours: list[float | None] = [
            (line.peak_headway_min if h in peak_hours else line.offpeak_headway_min) if first <= h <= last else None
            for h in range(24)]
        for route in line_routes(line, index, city.network, grid):
            times = segment_times(route, city.network, car_minutes, refresh_min, transit, signals,
                                  effects.bus_lane_share)
            scheduled, headway = timetable(hours, run.start_clock_h, run.horizon_min)
            per_stop = line.boardings_per_day / 2.0 / max(route.n_stops - 1, 1) / 60.0
            arrivals = np.outer(transit.boarding_share_by_hour, np.full(route.n_stops, per_stop))
            arrivals[:, -1] = 0.0  # nobody boards at the last terminal
            name = f"transit.{line.name}.{route.direction}"
            dead_min = (transit.dwell_dead_s + transit.accel_decel_s) / 60.0
            buses = run_buses(times, scheduled, headway, arrivals, run.start_clock_h, dead_min,
                              transit.boarding_s / 60.0, priority, effects.holding_gain,
                              transit.control_stop_every, transit.departure_cv, transit.running_time_cv,
                              streams.generator(f"{name}.depart"), streams.generator(f"{name}.run"),
                              streams.generator(f"{name}.board"))
            peak = np.array([int(clock_hour(run.start_clock_h, t)) in peak_hours for t in scheduled], dtype=bool)
            routes.append(RouteRun(route, times, buses, arrivals, peak))
    return TransitRun(routes, rate, lost)


def transit_kpis(scenario: Scenario, replication: int = 0, logs: RunLogs | None = None,
                 seed: int | None = None) -> pd.DataFrame:
    """The transit KPIs of one replication as a (metric, value) table; buses leaving the first terminal in
    the KPI window [warmup_min, duration_min) are counted."""
    result = simulate_transit(scenario, replication, logs, seed)
    transit = scenario.transit
    assert transit is not None
    return kpi_table(result, transit, lever_effects(scenario).informed_share, scenario.run.start_clock_h,
                     scenario.run.warmup_min, scenario.run.duration_min)


def kpi_table(result: TransitRun, transit: Transit, informed: float, start_clock_h: float, window_start: float,
              window_end: float) -> pd.DataFrame:
    """KPIs of a transit run (see `citysim.simulation.transit_kpis` for the definitions); `informed`: the
    share of passengers with real-time information."""
    h_all, s_all, w_all, cvs, cv_first, cv_last = [], [], [], [], [], []
    run_all, run_peak, speed_peak, held, boardings = [], [], [], [], 0.0
    line_speed: dict[str, list[float]] = {}
    for rr in result.routes:
        bus = rr.run
        inside = (bus.scheduled >= window_start) & (bus.scheduled < window_end)
        if inside.sum() < 3:
            continue
        last = rr.route.n_stops - 1
        run_time = bus.arrive[inside, last] - bus.depart[inside, 0]
        run_all.append(run_time)
        if (inside & rr.peak).any():
            peak_time = bus.arrive[inside & rr.peak, last] - bus.depart[inside & rr.peak, 0]
            run_peak.append(peak_time)
            speed_peak.append(rr.route.km / (float(peak_time.mean()) / 60.0))
            line_speed.setdefault(rr.route.line, []).append(speed_peak[-1])
        held.append(bus.held_min[inside].sum(axis=1))
        boardings += float(bus.boardings[inside].sum())
        pair = inside[1:] & inside[:-1]  # consecutive buses both in the window
        for k in range(last):
            h = (bus.depart[1:, k] - bus.depart[:-1, k])[pair]
            s = bus.headway[1:][pair]
            hours = ((start_clock_h + bus.depart[1:, k][pair] / 60.0) % 24.0).astype(int)
            w = rr.arrivals_per_min[hours, k]
            h_all.append(h)
            s_all.append(s)
            w_all.append(w)
            cv = headway_cv(h, s)
            cvs.append(cv)
            if k == 0:
                cv_first.append(cv)
            if k == last - 1:
                cv_last.append(cv)
    h, s, w = np.concatenate(h_all), np.concatenate(s_all), np.concatenate(w_all)
    actual_random = random_wait(h, w)
    scheduled = random_wait(s, w)
    informed_min = informed_wait(h, transit.informed_margin_min, w)
    actual = (1.0 - informed) * actual_random + informed * informed_min
    perceived = (1.0 - informed) * actual_random * transit.uninformed_perception + informed * informed_min
    rows = {
        "bus_run_time_min": float(np.concatenate(run_all).mean()),
        "bus_run_time_peak_min": float(np.concatenate(run_peak).mean()) if run_peak else float("nan"),
        "bus_speed_peak_kmh": float(np.mean(speed_peak)) if speed_peak else float("nan"),
        "headway_cv": float(np.mean(cvs)),
        "headway_cv_first_stop": float(np.mean(cv_first)),
        "headway_cv_last_stop": float(np.mean(cv_last)),
        "scheduled_wait_min": scheduled,
        "excess_wait_min": actual_random - scheduled,
        "actual_wait_min": actual,
        "perceived_wait_min": perceived,
        "bunched_share": float((h < transit.bunching_threshold * s).mean()),
        "bunching_factor": actual_random / scheduled - 1.0,
        "held_min_per_trip": float(np.concatenate(held).mean()),
        "boardings": boardings,
        "bus_trips": float(sum(a.size for a in run_all)),
        "preemption_per_signal_hour": result.preemption_per_signal_hour,
        "priority_lost_share": result.priority_lost_share,
    }
    for line, speeds in line_speed.items():
        rows[f"bus_speed_peak_kmh[{line}]"] = float(np.mean(speeds))
    return metric_frame(rows)

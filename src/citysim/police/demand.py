"""Incident generation: a non-homogeneous Poisson process by clock hour, drawn up front in batches.

Everything random about an incident (when, where, what, how long each stage takes) is drawn here from
named streams, one uniform per incident per stream, and turned into values by inverse transform.
Baseline and smart runs of the same replication therefore share every incident and every base draw.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from citysim.arrays import BoolArray, FloatArray, IntArray
from citysim.city.crashes import CrashPlan
from citysim.city.geography import DistrictGrid
from citysim.city.surface import DemandSurface
from citysim.clock import poisson_by_hour
from citysim.config.distributions import categorical_ppf
from citysim.config.lever_effects import AUTO_LOCATE_CONFIRM_MIN, VIDEO_DETECTION_MIN, LeverEffects
from citysim.config.schema import Scenario, StaffedCallCentre
from citysim.streams import Streams

OUTCOME_DISPATCH, OUTCOME_PHONE, OUTCOME_DIVERTED = 0, 1, 2


@dataclass(frozen=True)
class IncidentPlan:
    """All incidents of one replication, sorted by call time, with their pre-drawn stage times."""

    t_occur: FloatArray
    t_call: FloatArray
    category: IntArray
    priority: IntArray
    district: IntArray
    x_km: FloatArray
    y_km: FloatArray
    outcome: IntArray
    units_needed: IntArray
    talk_min: FloatArray
    decision_min: FloatArray
    scene_min: FloatArray
    turnout_u: FloatArray  # shape (n, slots): uniforms for each unit's turn-out
    noise_u: FloatArray  # shape (n, slots): uniforms for each unit's travel-time noise
    crash: IntArray  # index into the replication's CrashPlan, -1 for ordinary calls
    avl: BoolArray  # the AVL lever covers this incident: nearest unit across districts
    current_route: BoolArray  # the routing lever routes this incident's units on current times
    interrupt_u: FloatArray  # shape (n, slots): uniforms for a unit's interruption delay (leaving other work)
    # Operations (all zero / NaN without an `operations` block):
    lookups: IntArray  # look-ups made on scene
    lookup_first: IntArray  # where this incident's look-ups start in the two arrays below
    lookup_radio_min: FloatArray  # flat: each look-up's back-office service time, if made by radio
    lookup_terminal_min: FloatArray  # flat: each look-up's time, if made on a terminal
    report_min: FloatArray  # report-writing time (at a desk)
    station_u: FloatArray  # uniforms: a report without a terminal is filed at the station if < station_trip_share
    self_clear_at: FloatArray  # when the drivers clear this crash themselves (NaN: never, or not a crash)
    check_min: FloatArray  # on-scene minutes if the police arrive after the drivers cleared it
    # The incident's index among all drawn (the profile's calls, the surges' extra calls, then crashes, before
    # thinning, prevention and sorting): the same
    # draw_id is the same incident in a baseline and its smart twin (common random numbers).
    draw_id: IntArray

    @property
    def size(self) -> int:
        return int(self.t_call.size)


@dataclass(frozen=True)
class CallArrivals:
    """The ordinary calls of one replication in draw order, and which of them happen."""

    t_call: FloatArray  # the profile's calls in time order, then the surges' extra calls in time order
    happens: BoolArray  # False for a profile call thinned away by a surge multiplier below 1


def call_arrivals(scenario: Scenario, streams: Streams) -> CallArrivals:
    """Event times of the NHPP with piecewise-constant hourly rate calls_per_day x shape x surge.

    The profile's calls are drawn as if there were no surges (stream `demand.arrivals`); a surge above 1
    adds a Poisson process of rate (multiplier - 1) x that rate in its hours (`demand.surge.arrivals`),
    and one below 1 keeps each of its hours' calls with probability multiplier (`demand.surge.thinning`).
    Superposition and thinning of Poisson processes give exactly the surged rate, and every call of the
    profile keeps its time and, since the extra calls are drawn after them, all its other draws: a
    scenario and its surged twin differ only by the calls the surge adds or removes.
    """
    demand, run = scenario.demand, scenario.run
    profile = np.asarray(demand.hourly_profile, dtype=np.float64)
    # Demand.calls_by_hour() / 60 without the surges, in the float operations the golden back-tests pin.
    per_min = demand.calls_per_day / 1440.0 * profile / profile.mean()
    times, hours = poisson_by_hour(streams.generator("demand.arrivals"), per_min, run.start_clock_h, run.horizon_min)
    order = np.argsort(times, kind="stable")
    times, hours = times[order], hours[order]
    if not demand.surges:
        return CallArrivals(times, np.ones(times.size, dtype=bool))
    surge = np.asarray(demand.surge_by_hour(), dtype=np.float64)
    extra, _ = poisson_by_hour(streams.generator("demand.surge.arrivals"), per_min * np.maximum(surge - 1.0, 0.0),
                               run.start_clock_h, run.horizon_min)
    kept = streams.uniforms("demand.surge.thinning", times.size) < np.minimum(surge, 1.0)[hours]
    return CallArrivals(np.concatenate([times, np.sort(extra)]),
                        np.concatenate([kept, np.ones(extra.size, dtype=bool)]))


def generate_incidents(
    scenario: Scenario,
    grid: DistrictGrid,
    surface: DemandSurface,
    streams: Streams,
    crashes: CrashPlan | None = None,
    effects: LeverEffects | None = None,
) -> IncidentPlan:
    """Draw every incident of one replication: ordinary calls, then one per crash (if any), with the
    levers' effects applied to the drawn values.

    Crash incidents draw their stage times from streams of their own (`crash.<stream>`), so adding or
    removing crashes never shifts the ordinary calls' numbers; every lever stream is drawn whether or
    not its lever is on.
    """
    effects = effects if effects is not None else LeverEffects()
    arrivals = call_arrivals(scenario, streams)
    t_calls = arrivals.t_call
    n_calls = t_calls.size
    n_crashes = crashes.size if crashes is not None else 0
    n = n_calls + n_crashes
    categories = list(scenario.demand.categories.values())

    def uniforms(stream: str) -> FloatArray:
        own = streams.uniforms(stream, n_calls)
        return np.concatenate([own, streams.uniforms(f"crash.{stream}", n_crashes)]) if n_crashes else own

    shares = np.array([c.share for c in categories])
    category = categorical_ppf(shares, streams.uniforms("demand.category", n_calls))
    district_shares = np.array([d.call_share for d in scenario.districts])
    district = categorical_ppf(district_shares, streams.uniforms("demand.district", n_calls))
    hot_share = np.array([c.hot_spot_share for c in categories])[category]
    at_hot_spot = streams.uniforms("demand.location.hot", n_calls) < hot_share
    x_km, y_km = surface.sample(
        district, at_hot_spot, streams.uniforms("demand.location.cell", n_calls),
        streams.uniforms("demand.location.a", n_calls), streams.uniforms("demand.location.b", n_calls),
    )
    t_occur = t_calls
    crash_index = np.full(n_calls, -1, dtype=np.intp)
    if crashes is not None and n_crashes:
        assert scenario.crashes is not None
        crash_category = list(scenario.demand.categories).index(scenario.crashes.category)
        t_occur = np.concatenate([t_calls, crashes.t_occur])
        category = np.concatenate([category, np.full(n_crashes, crash_category)])
        district = np.concatenate([district, grid.district_of(crashes.x_km, crashes.y_km)])
        x_km, y_km = np.concatenate([x_km, crashes.x_km]), np.concatenate([y_km, crashes.y_km])
        crash_index = np.concatenate([crash_index, np.arange(n_crashes)])

    def per_category(stream: str, pick: str) -> FloatArray:
        u = uniforms(stream)
        values = np.zeros(n)
        for index, cat in enumerate(categories):
            dist = getattr(cat, pick)
            if dist is None:
                continue
            mask = category == index
            values[mask] = dist.ppf(u[mask])
        return values

    names = list(scenario.demand.categories)
    is_crash = crash_index >= 0
    report_delay = per_category("demand.report_delay", "report_delay")
    if crashes is not None and n_crashes:
        seen = crashes.video_u < effects.video_detection_share
        report_delay[n_calls:] = np.where(seen, np.minimum(VIDEO_DETECTION_MIN, report_delay[n_calls:]),
                                          report_delay[n_calls:])
    u_outcome = uniforms("callcentre.outcome")
    phone_p = np.array([c.phone_resolution_prob for c in categories])[category]
    divert_p = np.array([c.diversion_prob for c in categories])[category]
    outcome = np.where(u_outcome < phone_p, OUTCOME_PHONE,
                       np.where(u_outcome < phone_p + divert_p, OUTCOME_DIVERTED, OUTCOME_DISPATCH))
    in_categories = np.array([name in effects.community_categories for name in names])[category]
    diverted = in_categories & (uniforms("lever.community") < effects.community_share)
    outcome = np.where((outcome == OUTCOME_DISPATCH) & diverted, OUTCOME_DIVERTED, outcome)
    if crashes is not None and n_crashes:
        # A crash that only the police can clear (no self-clearing) always gets a unit.
        outcome[n_calls:] = np.where(np.isnan(crashes.self_clear_min), OUTCOME_DISPATCH, outcome[n_calls:])
    prevented = np.array([name in effects.prevention_categories for name in names])[category] & ~is_crash
    happens = ~(prevented & (uniforms("lever.prevention") < effects.prevention_share))
    happens[:n_calls] &= arrivals.happens
    if crashes is not None and n_crashes:
        happens[n_calls:] = crashes.happens

    call_centre = scenario.call_centre
    staffed = isinstance(call_centre, StaffedCallCentre)
    talk = per_category("callcentre.talk", "talk") if staffed else np.zeros(n)
    if isinstance(call_centre, StaffedCallCentre) and call_centre.locate is not None:
        # The call-taker locates the caller of every call that gets a unit; the command centre's automatic
        # location turns that step into a short confirmation (never longer than locating would have been).
        locate = call_centre.locate.ppf(uniforms("callcentre.locate"))
        located = uniforms("lever.location") < effects.auto_location_share
        locate = np.where(located, np.minimum(locate, AUTO_LOCATE_CONFIRM_MIN), locate)
        talk = talk + np.where(outcome == OUTCOME_DISPATCH, locate, 0.0)
    scene = per_category("scene.handling", "scene")
    decision = scenario.dispatch.decision_delay.ppf(uniforms("dispatch.decision")) * effects.decision_factor

    slots = max(c.units_needed for c in categories)
    turnout_u = np.column_stack([uniforms(f"travel.turnout.{k}") for k in range(slots)])
    noise_u = np.column_stack([uniforms(f"travel.noise.{k}") for k in range(slots)])
    interrupt_u = np.column_stack([uniforms(f"fleet.interrupt.{k}") for k in range(slots)])
    avl = uniforms("lever.avl") < effects.avl_share
    current_route = uniforms("lever.routing") < effects.current_routing_share
    ops = _operations_draws(scenario, category, crashes, n_calls, uniforms, streams)
    t_call = t_occur + report_delay
    kept = np.flatnonzero(happens)
    order = kept[np.argsort(t_call[kept], kind="stable")]
    return IncidentPlan(
        t_occur=t_occur[order],
        t_call=t_call[order],
        category=category[order],
        priority=np.array([c.priority for c in categories])[category][order],
        district=district[order],
        x_km=x_km[order],
        y_km=y_km[order],
        outcome=outcome[order],
        units_needed=np.array([c.units_needed for c in categories])[category][order],
        talk_min=talk[order],
        decision_min=decision[order],
        scene_min=scene[order],
        turnout_u=turnout_u[order],
        noise_u=noise_u[order],
        crash=crash_index[order],
        avl=avl[order],
        current_route=current_route[order],
        interrupt_u=interrupt_u[order],
        lookups=ops.lookups[order],
        lookup_first=ops.lookup_first[order],
        lookup_radio_min=ops.radio_min,
        lookup_terminal_min=ops.terminal_min,
        report_min=ops.report_min[order],
        station_u=ops.station_u[order],
        self_clear_at=ops.self_clear_at[order],
        check_min=ops.check_min[order],
        draw_id=order.astype(np.int64),
    )


@dataclass(frozen=True)
class _OperationsDraws:
    lookups: IntArray
    lookup_first: IntArray
    radio_min: FloatArray
    terminal_min: FloatArray
    report_min: FloatArray
    station_u: FloatArray
    self_clear_at: FloatArray
    check_min: FloatArray


def _operations_draws(scenario: Scenario, category: IntArray, crashes: CrashPlan | None, n_calls: int,
                      uniforms: Callable[[str], FloatArray], streams: Streams) -> _OperationsDraws:
    """Look-ups, reports and crash self-clearing of every incident (before the prevention filter and the
    sort, like every other draw). Streams are drawn only with an `operations` block, so scenarios without
    one keep their numbers."""
    n = category.size
    self_clear_at = np.full(n, np.nan)
    check_min = np.full(n, np.nan)
    if crashes is not None and crashes.size:
        assert scenario.crashes is not None
        self_clear_at[n_calls:] = crashes.t_occur + crashes.self_clear_min
        u_check = uniforms("scene.check")[n_calls:]
        for index, severity in enumerate(scenario.crashes.severities):
            mask = crashes.severity == index
            if severity.self_cleared_check is not None:
                check_min[n_calls:][mask] = severity.self_cleared_check.ppf(u_check[mask])
    ops = scenario.operations
    if ops is None:
        none = np.zeros(n, dtype=np.intp)
        return _OperationsDraws(none, none, np.zeros(0), np.zeros(0), np.zeros(n), np.ones(n), self_clear_at,
                                check_min)
    from scipy.stats import poisson

    per_category = [ops.by_category[name] for name in scenario.demand.categories]
    means = np.array([c.lookups_mean for c in per_category])[category]
    u_lookups = uniforms("scene.lookups")
    lookups = np.where(means > 0, poisson.ppf(u_lookups, np.where(means > 0, means, 1.0)), 0).astype(np.intp)
    lookups = np.maximum(lookups, 0)
    first = np.concatenate([[0], np.cumsum(lookups)[:-1]]).astype(np.intp)
    total = int(lookups.sum())
    radio = ops.lookups.back_office.service.ppf(streams.uniforms("scene.lookup.radio", total))
    terminal = ops.lookups.terminal.ppf(streams.uniforms("scene.lookup.terminal", total))
    u_report = uniforms("closure.report")
    report = np.zeros(n)
    for index, spec in enumerate(per_category):
        mask = category == index
        report[mask] = spec.report.ppf(u_report[mask])
    return _OperationsDraws(lookups, first, radio, terminal, report, uniforms("closure.station"), self_clear_at,
                            check_min)


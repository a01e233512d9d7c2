"""Warnings about scenarios that are valid but will not behave well: demand a district's units cannot
serve (queues that grow without bound), speeds no vehicle drives, trips longer than the run, so a user
learns it from one line rather than from hours of simulated backlog or empty KPIs. Errors (things that
cannot run) live in the schema and config.limits; these only warn.
"""

from __future__ import annotations

import math

import numpy as np

from citysim.config.levers import LEVERS
from citysim.config.limits import MAX_SPEED_KMH, travel_speeds
from citysim.config.schema import Scenario
from citysim.config.yaml_loader import LoadedDocument
from citysim.errors import format_key_path
from citysim.police.dispatch import CITY_WIDE, DISPATCH_POLICIES

#: Offered load per on-duty unit above which queues grow without bound.
OVERLOAD = 1.0


PROFILE_KEY = ("demand", "hourly_profile")


def load_warnings(scenario: Scenario, document: LoadedDocument | None = None) -> list[str]:
    """One warning per district (home_district dispatch) or for the city whose peak-hour offered load,
    unit-hours of work per on-duty unit-hour, exceeds 1. The work counted is turn-out plus on-scene
    time only (travel comes on top), so a warning is certain to be real. With the scenario's merged
    `document`, also the profile-shape warning (`profile_shape_warnings`)."""
    demand = scenario.demand
    calls_by_hour = np.asarray(demand.calls_by_hour(), dtype=np.float64)  # surges included
    peak_hour = int(calls_by_hour.argmax())
    per_hour_peak = calls_by_hour[peak_hour]
    turnout = scenario.travel.turnout.mean if hasattr(scenario.travel, "turnout") else 0.0
    work_per_call = 0.0  # unit-minutes per call (all categories, including those closed on the phone)
    for category in demand.categories.values():
        dispatched = 1.0 - category.phone_resolution_prob - category.diversion_prob
        work_per_call += category.share * dispatched * category.units_needed * (
            category.scene.mean + turnout)
    on_duty = scenario.fleet.on_duty_fraction_by_hour[peak_hour]
    warnings = []
    policy = DISPATCH_POLICIES[scenario.dispatch.policy]
    if any(policy.area_of(index, False) != CITY_WIDE for index in range(len(scenario.districts))):
        areas = [(d.name, d.call_share, d.units) for d in scenario.districts]  # each district serves its own
    else:
        areas = [("the city", 1.0, sum(d.units for d in scenario.districts))]
    for name, share, units in areas:
        staffed = units * on_duty
        if share == 0 or staffed == 0:
            continue
        load = per_hour_peak * share * work_per_call / 60.0 / staffed
        if load > OVERLOAD:
            warnings.append(
                f"Warning: {scenario.name}: in {name} at {peak_hour:02d}:00 the offered load is at least {load:.2f} "
                f"unit-hours of work per on-duty unit-hour (turn-out and on-scene time alone); above 1 the queue "
                "for units grows without bound. Add units, lower the demand, or expect a backlog.")
    shape = profile_shape_warnings(scenario, document) if document is not None else []
    return warnings + speed_warnings(scenario) + lever_range_warnings(scenario) + shape


def profile_shape_warnings(scenario: Scenario, document: LoadedDocument) -> list[str]:
    """A file that changes `demand.hourly_profile` from the file it extends, without a surge: the profile is
    rescaled to mean 1, so the change only moves calls between hours, which is easy to mistake for a surge.
    Said once, with the hour whose calls change most, so a reshaping meant as one (a weekend's shape) reads
    as a confirmation."""
    before = document.replaced.get(PROFILE_KEY)
    demand = scenario.demand
    if before is None or before == demand.hourly_profile or demand.surges:
        return []
    origin = document.origin_of(PROFILE_KEY)
    where = f"{origin.file.name}, line {origin.line}, changes" if origin is not None else "this file changes"
    example = ""
    if isinstance(before, list) and len(before) == 24 and all(isinstance(v, int | float) for v in before) \
            and sum(before) > 0:
        now = np.asarray(demand.calls_by_hour())
        was = demand.calls_per_day / 24.0 * np.asarray(before, dtype=np.float64) / np.mean(before)
        hour = int(np.abs(now - was).argmax())
        example = f" (at {hour:02d}:00, {now[hour]:,.0f} calls instead of {was[hour]:,.0f})"
    return [f"Warning: {scenario.name}: {where} demand.hourly_profile from the file it extends, but a profile is "
            f"only a shape, rescaled to mean 1: the day keeps its {demand.calls_per_day:,.6g} calls "
            f"(demand.calls_per_day), moved between hours{example}. To add calls in some hours, use demand.surges "
            "(docs/howto/demand-surge.md); to change the day's volume, demand.calls_per_day."]


def speed_warnings(scenario: Scenario) -> list[str]:
    """A speed faster than any road vehicle (legitimate only in queueing-theory reductions, which make
    travel vanish on purpose), and a slowest speed at which crossing the largest district takes longer
    than the whole run (every trip would still be on the road at the end)."""
    speeds = travel_speeds(scenario)
    if not speeds:
        return []
    warnings = []
    key, fastest = max(speeds, key=lambda s: s[1])
    if fastest > MAX_SPEED_KMH:
        warnings.append(f"Warning: {scenario.name}: {format_key_path(key)} is {fastest:g} km/h, faster than any "
                        f"road vehicle (above {MAX_SPEED_KMH:g} km/h): travel is then all but instant. Fine for a "
                        "queueing-theory reduction; otherwise check the units (km/h).")
    key, slowest = min(speeds, key=lambda s: s[1])
    radius_km = math.sqrt(max(d.area_km2 for d in scenario.districts) / math.pi)
    trip_min = radius_km / slowest * 60.0
    if trip_min > scenario.run.duration_min:
        warnings.append(f"Warning: {scenario.name}: at {format_key_path(key)} = {slowest:g} km/h a trip of "
                        f"{radius_km:.1f} km (the largest district's radius) takes {trip_min:,.0f} min, longer than "
                        f"the run's {scenario.run.duration_min:,.6g} min: units would still be driving at the end "
                        "and arrival KPIs would be empty or biased.")
    return warnings


def lever_range_warnings(scenario: Scenario) -> list[str]:
    """A lever set outside the range its sources support (docs/levers.md): valid, since an analyst may
    ask "what if it worked better than measured?", but then the result is no longer evidence-based."""
    warnings = []
    for name, info in LEVERS.items():
        lever = getattr(scenario.levers, name, None)
        if lever is not None and not info.low <= lever.strength <= info.high:
            warnings.append(f"Warning: {scenario.name}: levers.{name}.strength is {lever.strength:g}, outside the "
                            f"range its sources support ({info.low:g}-{info.high:g}, default {info.default:g}; see "
                            "docs/levers.md): the result then rests on that strength, not on the evidence.")
    return warnings

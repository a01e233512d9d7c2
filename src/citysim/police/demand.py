"""Incident generation: a non-homogeneous Poisson process by clock hour, drawn up front in batches.

Everything random about an incident (when, where, what, how long each stage takes) is drawn here from
named streams, one uniform per incident per stream, and turned into values by inverse transform.
Baseline and smart runs of the same replication therefore share every incident and every base draw.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from citysim.config.schema import Scenario, StaffedCallCentre
from citysim.geography import DistrictGrid
from citysim.random import Streams

OUTCOME_DISPATCH, OUTCOME_PHONE, OUTCOME_DIVERTED = 0, 1, 2

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


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

    @property
    def size(self) -> int:
        return int(self.t_call.size)


def hourly_segments(start_clock_h: float, duration_min: float) -> list[tuple[float, float, int]]:
    """Split [0, duration) at clock-hour boundaries: (start_min, end_min, clock_hour) triples."""
    segments = []
    t = 0.0
    clock_min = start_clock_h * 60.0
    while t < duration_min:
        hour = int(clock_min // 60) % 24
        end = min(duration_min, t + (60.0 - clock_min % 60.0))
        segments.append((t, end, hour))
        clock_min += end - t
        t = end
    return segments


def arrival_times(scenario: Scenario, generator: np.random.Generator) -> FloatArray:
    """Event times of the NHPP with piecewise-constant hourly rate, sorted."""
    demand = scenario.demand
    profile = np.asarray(demand.hourly_profile, dtype=np.float64)
    per_min = demand.calls_per_day / 1440.0 * profile / profile.mean()
    segments = hourly_segments(scenario.run.start_clock_h, scenario.run.duration_min)
    starts = np.array([s for s, _, _ in segments])
    lengths = np.array([e - s for s, e, _ in segments])
    rates = per_min[[h for _, _, h in segments]]
    counts = generator.poisson(rates * lengths)
    offsets = generator.random(int(counts.sum()))
    times = np.repeat(starts, counts) + offsets * np.repeat(lengths, counts)
    return np.sort(times)


def _per_slot(streams: Streams, name: str, n: int, slots: int) -> FloatArray:
    """Uniforms for each incident's k-th unit, one stream per slot k (so adding slots shifts nothing)."""
    return np.column_stack([streams.uniforms(f"{name}.{k}", n) for k in range(slots)])


def generate_incidents(scenario: Scenario, grid: DistrictGrid, streams: Streams) -> IncidentPlan:
    """Draw every incident of one replication."""
    t_occur = arrival_times(scenario, streams.generator("demand.arrivals"))
    n = t_occur.size
    categories = list(scenario.demand.categories.values())

    shares = np.array([c.share for c in categories])
    category = np.searchsorted(np.cumsum(shares) / shares.sum(), streams.uniforms("demand.category", n), "right")
    category = np.minimum(category, len(categories) - 1)
    district_shares = np.array([d.call_share for d in scenario.districts])
    district = np.searchsorted(
        np.cumsum(district_shares) / district_shares.sum(), streams.uniforms("demand.district", n), "right"
    )
    district = np.minimum(district, len(scenario.districts) - 1)
    x_km, y_km = grid.sample_locations(
        district, streams.uniforms("demand.location.radius", n), streams.uniforms("demand.location.angle", n)
    )

    def per_category(stream: str, pick: str) -> FloatArray:
        u = streams.uniforms(stream, n)
        values = np.zeros(n)
        for index, cat in enumerate(categories):
            dist = getattr(cat, pick)
            if dist is None:
                continue
            mask = category == index
            values[mask] = dist.ppf(u[mask])
        return values

    report_delay = per_category("demand.report_delay", "report_delay")
    staffed = isinstance(scenario.call_centre, StaffedCallCentre)
    talk = per_category("callcentre.talk", "talk") if staffed else np.zeros(n)
    scene = per_category("scene.handling", "scene")
    decision = scenario.dispatch.decision_delay.ppf(streams.uniforms("dispatch.decision", n))

    u_outcome = streams.uniforms("callcentre.outcome", n)
    phone_p = np.array([c.phone_resolution_prob for c in categories])[category]
    divert_p = np.array([c.diversion_prob for c in categories])[category]
    outcome = np.where(u_outcome < phone_p, OUTCOME_PHONE,
                       np.where(u_outcome < phone_p + divert_p, OUTCOME_DIVERTED, OUTCOME_DISPATCH))

    slots = max(c.units_needed for c in categories)
    t_call = t_occur + report_delay
    order = np.argsort(t_call, kind="stable")
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
        turnout_u=_per_slot(streams, "travel.turnout", n, slots)[order],
        noise_u=_per_slot(streams, "travel.noise", n, slots)[order],
    )

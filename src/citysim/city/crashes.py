"""Traffic crashes drawn up front: when, on which link, how severe, and whether drivers clear them.

Crashes arrive as a Poisson process whose hourly rate follows network vehicle-km (the exposure), and
each falls on a link with probability proportional to that link's vehicle-km at the time: both as the
issue's "by vehicle-km and hour" asks. The daily total is the scenario's `crashes_per_day`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citysim.arrays import BoolArray, FloatArray, IntArray
from citysim.city.traffic import TrafficProfile
from citysim.clock import poisson_by_hour
from citysim.config.distributions import categorical_ppf
from citysim.config.lever_effects import LeverEffects
from citysim.config.schema import Crashes, RunSettings
from citysim.streams import Streams


@dataclass(frozen=True)
class CrashPlan:
    """All crashes of one replication, in time order."""

    t_occur: FloatArray
    arc: IntArray
    x_km: FloatArray
    y_km: FloatArray
    severity: IntArray
    self_clear_min: FloatArray  # NaN: only the police clear it
    video_u: FloatArray  # uniforms of the video-detection lever
    happens: BoolArray  # False: prevented by the prevention lever (kept, so indices stay stable)

    @property
    def size(self) -> int:
        return int(self.t_occur.size)


def generate_crashes(
    spec: Crashes, profile: TrafficProfile, run: RunSettings, streams: Streams, effects: LeverEffects
) -> CrashPlan:
    """Draw the crashes of one replication; those the prevention lever prevents are kept but marked,
    so that every crash keeps its own random numbers whatever the lever's strength."""
    network = profile.network
    daily = np.array([profile.vehicle_km_per_hour(h + 0.5).sum() for h in range(24)])
    per_min_by_hour = spec.crashes_per_day / 1440.0 * daily / daily.mean()
    t_occur, crash_hours = poisson_by_hour(streams.generator("crash.arrivals"), per_min_by_hour, run.start_clock_h,
                                           run.horizon_min)
    order = np.argsort(t_occur, kind="stable")
    t_occur, crash_hours = t_occur[order], crash_hours[order]
    n = t_occur.size

    u_arc = streams.uniforms("crash.link", n)
    arc = np.empty(n, dtype=np.intp)
    for hour in np.unique(crash_hours):
        mask = crash_hours == hour
        cumulative = np.cumsum(profile.vehicle_km_per_hour(hour + 0.5))
        arc[mask] = np.minimum(np.searchsorted(cumulative / cumulative[-1], u_arc[mask], "right"), network.n_arcs - 1)
    along = streams.uniforms("crash.position", n)
    fx, fy = network.node_x[network.arc_from[arc]], network.node_y[network.arc_from[arc]]
    tx, ty = network.node_x[network.arc_to[arc]], network.node_y[network.arc_to[arc]]

    shares = np.array([s.share for s in spec.severities])
    severity = categorical_ppf(shares, streams.uniforms("crash.severity", n))
    u_clear = streams.uniforms("crash.self_clear", n)
    self_clear = np.full(n, np.nan)
    for index, level in enumerate(spec.severities):
        mask = severity == index
        if level.self_clear is not None:
            self_clear[mask] = level.self_clear.ppf(u_clear[mask])
    self_clear *= effects.crash_self_clear_factor
    video_u = streams.uniforms("lever.video", n)
    happens = streams.uniforms("lever.prevention.crash", n) >= effects.crash_prevention_share
    return CrashPlan(t_occur, arc, fx + along * (tx - fx), fy + along * (ty - fy), severity.astype(np.intp),
                     self_clear, video_u, happens)

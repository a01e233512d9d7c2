"""Simulation time (minutes from the start of a run) against the clock hour of day."""

from __future__ import annotations


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


def clock_hour(start_clock_h: float, t_min: float) -> float:
    """The clock hour of day (0 <= h < 24, fractional) at simulation time t_min."""
    return (start_clock_h + t_min / 60.0) % 24.0

"""Simulation time (minutes from the start of a run) against the clock hour of day."""

from __future__ import annotations

import numpy as np

from citysim.arrays import FloatArray, IntArray


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


def clock_hours(start_clock_h: float, t_min: FloatArray) -> IntArray:
    """The whole clock hour of day (0-23) at each simulation time: `int(clock_hour(...))` element-wise, so a
    log's hour column agrees with the hour the model used. Every time must be a number (no NaN)."""
    return np.floor((start_clock_h + np.asarray(t_min, dtype=np.float64) / 60.0) % 24.0).astype(np.int64)


def poisson_by_hour(generator: np.random.Generator, per_min_by_hour: FloatArray, start_clock_h: float,
                    duration_min: float) -> tuple[FloatArray, IntArray]:
    """Event times (unsorted) of a Poisson process whose rate per minute is constant within each clock
    hour, over [0, duration): a Poisson count per hourly segment, then uniform times within it. Returns
    the times and each event's clock hour."""
    segments = hourly_segments(start_clock_h, duration_min)
    starts = np.array([s for s, _, _ in segments])
    lengths = np.array([e - s for s, e, _ in segments])
    hours = np.array([h for _, _, h in segments])
    counts = generator.poisson(per_min_by_hour[hours] * lengths)
    times = np.repeat(starts, counts) + generator.random(int(counts.sum())) * np.repeat(lengths, counts)
    return times, np.repeat(hours, counts)

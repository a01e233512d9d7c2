"""Time-weighted averages of a piecewise-constant quantity (queue length, busy units, ...).

Kept independent of the logs so that Little's law (L = lambda W) compares two separately measured
quantities: L from these areas, W from the incident log.
"""

from __future__ import annotations


class TimeAverage:
    """Integrates a level over time; `reset` starts a fresh window (end of warm-up)."""

    __slots__ = ("_area", "_last", "_start", "level")

    def __init__(self, now: float = 0.0, level: float = 0.0) -> None:
        self.level = level
        self._area = 0.0
        self._last = now
        self._start = now

    def add(self, now: float, delta: float) -> None:
        self._area += self.level * (now - self._last)
        self._last = now
        self.level += delta

    def reset(self, now: float) -> None:
        self.add(now, 0.0)
        self._area = 0.0
        self._start = now

    def mean(self, now: float) -> float:
        """Average level from the last reset until `now`."""
        area = self._area + self.level * (now - self._last)
        span = now - self._start
        return area / span if span > 0 else float("nan")

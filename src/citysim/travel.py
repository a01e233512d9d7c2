"""Police travel times: the one interface the dispatcher and units use.

This first model is straight-line distance x circuity at the clock hour's speed, after a turn-out
time; the actual trip varies around the estimate by lognormal noise of mean 1. The road and traffic
layer will replace it behind the same interface, `TravelModel`.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from citysim.config.schema import InstantTravel, StraightLineTravel

FloatArray = NDArray[np.float64]


class TravelModel(Protocol):
    """What dispatch and units need to know about travel."""

    #: True when every trip takes zero time (then any available unit is as near as any other).
    instant: bool

    def estimate_many(
        self, x0: FloatArray, y0: FloatArray, x1: float, y1: float, clock_h: float
    ) -> tuple[FloatArray, FloatArray]:
        """Road km and expected driving minutes from each origin to one destination."""
        ...

    def estimate_one(self, x0: float, y0: float, x1: float, y1: float, clock_h: float) -> tuple[float, float]:
        """Road km and expected driving minutes of one trip (scalar fast path)."""
        ...

    def turnout_min(self, u: FloatArray) -> FloatArray:
        """Turn-out times (assignment to moving), by inverse transform of uniforms."""
        ...

    def noise_factor(self, u: FloatArray) -> FloatArray:
        """Multipliers (mean 1) of actual over estimated driving time, from uniforms."""
        ...


class StraightLine:
    """Distance x circuity at an hourly speed, plus turn-out; see module docstring."""

    instant = False

    def __init__(self, spec: StraightLineTravel) -> None:
        self._circuity = spec.circuity
        self._min_per_km = [60.0 / v for v in spec.speed_kmh_by_hour]
        self._turnout = spec.turnout
        sigma2 = math.log1p(spec.noise_cv**2)
        self._noise_sigma = math.sqrt(sigma2)
        self._noise_mu = -sigma2 / 2

    def estimate_many(
        self, x0: FloatArray, y0: FloatArray, x1: float, y1: float, clock_h: float
    ) -> tuple[FloatArray, FloatArray]:
        km = np.hypot(x0 - x1, y0 - y1) * self._circuity
        return km, km * self._min_per_km[int(clock_h) % 24]

    def estimate_one(self, x0: float, y0: float, x1: float, y1: float, clock_h: float) -> tuple[float, float]:
        km = math.hypot(x0 - x1, y0 - y1) * self._circuity
        return km, km * self._min_per_km[int(clock_h) % 24]

    def turnout_min(self, u: FloatArray) -> FloatArray:
        return self._turnout.ppf(u)

    def noise_factor(self, u: FloatArray) -> FloatArray:
        if self._noise_sigma == 0.0:
            return np.ones_like(u)
        from scipy.special import ndtri

        return np.asarray(np.exp(self._noise_mu + self._noise_sigma * ndtri(u)), dtype=np.float64)


class Instant:
    """Zero travel time: every available unit is equally near, so 'nearest' takes the first in list."""

    instant = True

    def estimate_many(
        self, x0: FloatArray, y0: FloatArray, x1: float, y1: float, clock_h: float
    ) -> tuple[FloatArray, FloatArray]:
        return np.zeros_like(x0), np.zeros_like(x0)

    def estimate_one(self, x0: float, y0: float, x1: float, y1: float, clock_h: float) -> tuple[float, float]:
        return 0.0, 0.0

    def turnout_min(self, u: FloatArray) -> FloatArray:
        return np.zeros_like(u)

    def noise_factor(self, u: FloatArray) -> FloatArray:
        return np.ones_like(u)


def make_travel(spec: StraightLineTravel | InstantTravel) -> TravelModel:
    """Build the travel model a scenario asks for."""
    if isinstance(spec, StraightLineTravel):
        return StraightLine(spec)
    return Instant()

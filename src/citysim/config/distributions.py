"""Distribution blocks for durations, built by one registry.

A YAML leaf such as `{dist: lognormal, mean_min: 25, cv: 0.8}` becomes one of the models below; the
`dist` key selects the class. People think in mean and coefficient of variation, so those are the
parameters; the conversion to numpy/scipy parameters happens here. Every distribution draws by
inverse transform (`ppf` of uniforms), so that two scenarios fed the same uniforms see strongly
correlated draws (common random numbers) even when a lever changes the mean.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from citysim.arrays import FloatArray, IntArray
from citysim.config.base import Strict

PROBABILITY_TOLERANCE = 1e-3


class _Dist(Strict):

    def ppf(self, u: FloatArray) -> FloatArray:  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def mean(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError


class Fixed(_Dist):
    """Always the same value."""

    dist: Literal["fixed"] = Field(description="`fixed`")
    value_min: float = Field(description="the value", ge=0)

    def ppf(self, u: FloatArray) -> FloatArray:
        return np.full(np.shape(u), self.value_min, dtype=np.float64)

    @property
    def mean(self) -> float:
        return self.value_min


class Exponential(_Dist):
    """Memoryless durations (the queueing-theory reference case)."""

    dist: Literal["exponential"] = Field(description="`exponential`")
    mean_min: float = Field(description="the mean", gt=0)

    def ppf(self, u: FloatArray) -> FloatArray:
        return -self.mean_min * np.log1p(-u)

    @property
    def mean(self) -> float:
        return self.mean_min


class Lognormal(_Dist):
    """Right-skewed durations given by mean and coefficient of variation."""

    dist: Literal["lognormal"] = Field(description="`lognormal`")
    mean_min: float = Field(description="the mean", gt=0)
    cv: float = Field(description="coefficient of variation (sd / mean)", gt=0)

    def ppf(self, u: FloatArray) -> FloatArray:
        from scipy.special import ndtri

        sigma2 = math.log1p(self.cv**2)
        mu = math.log(self.mean_min) - sigma2 / 2
        return np.asarray(np.exp(mu + math.sqrt(sigma2) * ndtri(u)), dtype=np.float64)

    @property
    def mean(self) -> float:
        return self.mean_min


class Gamma(_Dist):
    """Gamma durations given by mean and coefficient of variation (shape = 1/cv^2)."""

    dist: Literal["gamma"] = Field(description="`gamma`")
    mean_min: float = Field(description="the mean", gt=0)
    cv: float = Field(description="coefficient of variation (sd / mean)", gt=0)

    def ppf(self, u: FloatArray) -> FloatArray:
        from scipy.special import gammaincinv

        shape = 1.0 / self.cv**2
        return np.asarray(gammaincinv(shape, u) * (self.mean_min / shape), dtype=np.float64)

    @property
    def mean(self) -> float:
        return self.mean_min


class Triangular(_Dist):
    """Durations between low and high, most often near mode."""

    dist: Literal["triangular"] = Field(description="`triangular`")
    low_min: float = Field(description="the lowest value", ge=0)
    mode_min: float = Field(description="the most likely value", ge=0)
    high_min: float = Field(description="the highest value", ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.low_min <= self.mode_min <= self.high_min or self.low_min == self.high_min:
            raise ValueError("expected low_min <= mode_min <= high_min with low_min < high_min")
        return self

    def ppf(self, u: FloatArray) -> FloatArray:
        a, c, b = self.low_min, self.mode_min, self.high_min
        split = (c - a) / (b - a)
        left = a + np.sqrt(u * (b - a) * (c - a))
        right = b - np.sqrt((1 - u) * (b - a) * (b - c))
        return np.where(u < split, left, right)

    @property
    def mean(self) -> float:
        return (self.low_min + self.mode_min + self.high_min) / 3


class Uniform(_Dist):
    """Durations equally likely anywhere between low and high."""

    dist: Literal["uniform"] = Field(description="`uniform`")
    low_min: float = Field(description="the lowest value", ge=0)
    high_min: float = Field(description="the highest value", ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.low_min > self.high_min:
            raise ValueError("expected low_min <= high_min")
        return self

    def ppf(self, u: FloatArray) -> FloatArray:
        return self.low_min + u * (self.high_min - self.low_min)

    @property
    def mean(self) -> float:
        return (self.low_min + self.high_min) / 2


def _check_probabilities(probabilities: list[float], n_expected: int, what: str) -> None:
    if len(probabilities) != n_expected:
        raise ValueError(f"expected {n_expected} probabilities (one per {what}), got {len(probabilities)}")
    if any(p < 0 or not math.isfinite(p) for p in probabilities):
        raise ValueError("probabilities must be finite and non-negative")
    total = sum(probabilities)
    if abs(total - 1.0) > PROBABILITY_TOLERANCE:
        raise ValueError(f"probabilities must sum to 1 (within {PROBABILITY_TOLERANCE}), they sum to {total:.6g}")


class Discrete(_Dist):
    """An empirical distribution over listed values."""

    dist: Literal["discrete"] = Field(description="`discrete`")
    values_min: list[Annotated[float, Field(ge=0)]] = Field(description="the values", min_length=1)
    probabilities: list[float] = Field(description="each value's probability (sums to 1)")

    @model_validator(mode="after")
    def _valid(self) -> Discrete:
        _check_probabilities(self.probabilities, len(self.values_min), "value")
        return self

    def ppf(self, u: FloatArray) -> FloatArray:
        cumulative = np.cumsum(self.probabilities) / sum(self.probabilities)
        index = np.minimum(np.searchsorted(cumulative, u, side="right"), len(self.values_min) - 1)
        return np.asarray(self.values_min, dtype=np.float64)[index]

    @property
    def mean(self) -> float:
        total = sum(self.probabilities)
        return sum(v * p for v, p in zip(self.values_min, self.probabilities, strict=True)) / total


class Histogram(_Dist):
    """An empirical distribution given as bins (edges) and their probabilities; uniform within a bin."""

    dist: Literal["histogram"] = Field(description="`histogram`")
    edges_min: list[Annotated[float, Field(ge=0)]] = Field(description="bin edges, strictly increasing", min_length=2)
    probabilities: list[float] = Field(
        description="each bin's probability (one fewer than the edges; sums to 1), uniform within a bin")

    @model_validator(mode="after")
    def _valid(self) -> Histogram:
        if any(b <= a for a, b in zip(self.edges_min, self.edges_min[1:], strict=False)):
            raise ValueError("edges_min must be strictly increasing")
        _check_probabilities(self.probabilities, len(self.edges_min) - 1, "bin")
        return self

    def ppf(self, u: FloatArray) -> FloatArray:
        cumulative = np.concatenate([[0.0], np.cumsum(self.probabilities) / sum(self.probabilities)])
        return np.asarray(np.interp(u, cumulative, self.edges_min), dtype=np.float64)

    @property
    def mean(self) -> float:
        total = sum(self.probabilities)
        mids = [(a + b) / 2 for a, b in zip(self.edges_min, self.edges_min[1:], strict=False)]
        return sum(m * p for m, p in zip(mids, self.probabilities, strict=True)) / total


#: The registry: the `dist` names a YAML block may use, and the class each builds.
DISTRIBUTIONS: dict[str, type[_Dist]] = {
    cls.model_fields["dist"].annotation.__args__[0]: cls  # type: ignore[union-attr]
    for cls in (Fixed, Exponential, Lognormal, Gamma, Triangular, Uniform, Discrete, Histogram)
}

Distribution = Annotated[
    Fixed | Exponential | Lognormal | Gamma | Triangular | Uniform | Discrete | Histogram,
    Field(discriminator="dist"),
]


def categorical_ppf(shares: FloatArray, u: FloatArray) -> IntArray:
    """Indices drawn with probability shares[i] / sum(shares), by inverse transform of the uniforms `u`."""
    index = np.searchsorted(np.cumsum(shares) / shares.sum(), u, "right")
    return np.asarray(np.minimum(index, shares.size - 1), dtype=np.intp)

"""Paired statistics of a reduction (or of a change, its negative): the ratio of means, its confidence
interval, and the verdict.

Baseline and smart replication k share their random numbers, so their results are paired. The
reduction is 1 - R with R = mean(smart) / mean(baseline), the ratio of the replication means. Its
standard error comes from the delta method on the paired differences d_k = s_k - R b_k:
SE(R) = sd(d) / (sqrt(n) mean(b)), which carries the pairing's positive covariance (smaller SE than
two independent samples), and the interval uses Student's t with n - 1 degrees of freedom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from citysim.arrays import FloatArray

REPRODUCED, EXCEEDED, FELL_SHORT, UNDETERMINED = "reproduced", "exceeded", "fell short", "undetermined"


@dataclass(frozen=True)
class Reduction:
    """A reduction in percent with its confidence interval (NaN when n < 2)."""

    baseline_mean: float
    smart_mean: float
    reduction_pct: float
    ci_low_pct: float
    ci_high_pct: float
    n: int

    @property
    def half_width_pct(self) -> float:
        return (self.ci_high_pct - self.ci_low_pct) / 2

    def as_change(self) -> Change:
        """The same comparison in neutral terms: the change of B (smart) against A (baseline)."""
        # + 0.0 turns a -0.0 (no change) into 0.0
        return Change(self.baseline_mean, self.smart_mean, -self.reduction_pct + 0.0, -self.ci_high_pct + 0.0,
                      -self.ci_low_pct + 0.0, self.n)


@dataclass(frozen=True)
class Change:
    """The change of B against A in percent, 100 (mean B / mean A - 1), with its confidence interval:
    minus a reduction, so it has the same paired delta-method interval (NaN when n < 2)."""

    a_mean: float
    b_mean: float
    change_pct: float
    ci_low_pct: float
    ci_high_pct: float
    n: int


def paired_reduction(baseline: FloatArray, smart: FloatArray, confidence: float) -> Reduction:
    """The reduction of `smart` against `baseline` (paired by replication) with a delta-method CI."""
    keep = np.isfinite(baseline) & np.isfinite(smart)
    b, s = baseline[keep], smart[keep]
    n = int(b.size)
    if n == 0 or b.mean() == 0:
        return Reduction(math.nan, math.nan, math.nan, math.nan, math.nan, n)
    b_mean, s_mean = float(b.mean()), float(s.mean())
    ratio = s_mean / b_mean
    reduction = 100.0 * (1.0 - ratio)
    if n < 2:
        return Reduction(b_mean, s_mean, reduction, math.nan, math.nan, n)
    from scipy.stats import t

    se = float(np.std(s - ratio * b, ddof=1)) / (math.sqrt(n) * abs(b_mean))
    half = float(t.ppf(0.5 + confidence / 2, n - 1)) * se
    return Reduction(b_mean, s_mean, reduction, 100.0 * (1.0 - ratio - half), 100.0 * (1.0 - ratio + half), n)


def verdict(reduction: Reduction, claimed_pct: float) -> str:
    """reproduced if the CI contains the claim, exceeded if it lies above it, fell short if below."""
    if math.isnan(reduction.ci_low_pct):
        return UNDETERMINED
    if reduction.ci_low_pct > claimed_pct:
        return EXCEEDED
    if reduction.ci_high_pct < claimed_pct:
        return FELL_SHORT
    return REPRODUCED

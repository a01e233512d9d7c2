"""Quasi-random designs over uncertain inputs and what they estimate: the probability that a claim
holds, and global sensitivity indices. Pure functions of arrays (no simulation), so each is tested on
functions with known answers (Ishigami, a synthetic claim).

Designs come from SALib on the unit hypercube, one axis per input; `Priors.values` maps them onto the
priors by quantile. Why SALib: its Saltelli-Sobol design and estimators (Saltelli 2010 first order,
Jansen total order, bootstrap intervals) and Morris trajectories are maintained and documented, so
they are not hand-written here.

- `sobol`: a scrambled Sobol' sequence in Saltelli's scheme without second-order terms, N (G + 2)
  points for G groups of inputs: matrices A and B and, per group, A with that group's columns from B.
  Every point is a draw from the priors (the inputs are independent), so all of them estimate P(claim).
- `morris`: N trajectories of G + 1 points on a 4-level grid; elementary effects for small budgets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from citysim.arrays import FloatArray, IntArray

Method = Literal["sobol", "morris"]
MORRIS_LEVELS = 4


@dataclass(frozen=True)
class Design:
    """Points of a design on the unit cube; `block` is the base sample (Sobol) or trajectory (Morris)
    each point belongs to, the unit a bootstrap resamples."""

    method: Method
    inputs: list[str]
    groups: list[str]
    #: The group of each input, in input order.
    group_of: list[str]
    unit: FloatArray
    block: IntArray

    @property
    def problem(self) -> dict[str, Any]:
        """The SALib problem: one [0, 1] axis per input, grouped if any group has several inputs."""
        return _problem(self.inputs, self.group_of)


def _problem(inputs: list[str], group_of: list[str]) -> dict[str, Any]:
    problem: dict[str, Any] = {"num_vars": len(inputs), "names": inputs, "bounds": [[0.0, 1.0]] * len(inputs)}
    if group_of != inputs:
        problem["groups"] = group_of
    return problem


def group_names(inputs: list[str], groups: dict[str, list[str]]) -> list[str]:
    """The analysis group of each input: the group that lists it, else the input itself."""
    owner = {member: name for name, members in groups.items() for member in members}
    return [owner.get(name, name) for name in inputs]


def make_design(method: Method, inputs: list[str], groups: dict[str, list[str]], samples: int, seed: int) -> Design:
    """A Sobol-Saltelli design of `samples` base samples, or `samples` Morris trajectories."""
    group_of = group_names(inputs, groups)
    problem = _problem(inputs, group_of)
    distinct = list(dict.fromkeys(group_of))
    if method == "sobol":
        from SALib.sample import sobol

        unit = sobol.sample(problem, samples, calc_second_order=False, scramble=True, seed=seed)
        step = len(distinct) + 2
    else:
        from SALib.sample import morris

        unit = morris.sample(problem, samples, num_levels=MORRIS_LEVELS, seed=seed)
        step = len(distinct) + 1
    block = np.arange(unit.shape[0]) // step
    return Design(method, inputs, distinct, group_of, np.asarray(unit, dtype=np.float64), block)


@dataclass(frozen=True)
class Indices:
    """Sensitivity of one output to each group: Sobol first and total order (NaN for Morris) and
    Morris mu* and sigma (NaN for Sobol), each index with its interval."""

    group: str
    first_order: float
    first_order_ci: tuple[float, float]
    total_order: float
    total_order_ci: tuple[float, float]
    mu_star: float
    mu_star_ci: tuple[float, float]
    sigma: float


def sensitivity_indices(design: Design, outputs: FloatArray, confidence: float, resamples: int,
                        seed: int) -> list[Indices]:
    """Indices of `outputs` (one value per design point); NaN throughout if any output is missing."""
    nan = (math.nan, math.nan)
    if not np.all(np.isfinite(outputs)):
        return [Indices(g, math.nan, nan, math.nan, nan, math.nan, nan, math.nan) for g in design.groups]
    if design.method == "sobol":
        from SALib.analyze import sobol

        result = sobol.analyze(design.problem, outputs, calc_second_order=False, num_resamples=resamples,
                               conf_level=confidence, seed=seed)
        return [Indices(g, float(result["S1"][i]), _around(result["S1"][i], result["S1_conf"][i]),
                        float(result["ST"][i]), _around(result["ST"][i], result["ST_conf"][i]),
                        math.nan, nan, math.nan) for i, g in enumerate(design.groups)]
    from SALib.analyze import morris

    result = morris.analyze(design.problem, design.unit, outputs, num_resamples=resamples, conf_level=confidence,
                            num_levels=MORRIS_LEVELS, seed=seed)
    return [Indices(g, math.nan, nan, math.nan, nan, float(result["mu_star"][i]),
                    _around(result["mu_star"][i], result["mu_star_conf"][i]), float(result["sigma"][i]))
            for i, g in enumerate(design.groups)]


def _around(value: float, half_width: float) -> tuple[float, float]:
    return float(value - half_width), float(value + half_width)


@dataclass(frozen=True)
class ClaimProbability:
    """What the design says about one reduction against its claim."""

    p_reaches: float
    p_reaches_ci: tuple[float, float]
    p_below: float
    p_within: float
    p_above: float
    quantiles: tuple[float, float, float]
    points: int


def claim_probability(reductions: FloatArray, block: IntArray, claimed: float, margin: float, confidence: float,
                      resamples: int, seed: int) -> ClaimProbability:
    """P(reduction >= claim), P(within claim +- margin), below and above it, over the design's points;
    the interval of P(reaches) is a percentile bootstrap over blocks (the points of a block share
    inputs, so they are resampled together)."""
    keep = np.isfinite(reductions)
    values, blocks = reductions[keep], block[keep]
    if values.size == 0:
        nan = math.nan
        return ClaimProbability(nan, (nan, nan), nan, nan, nan, (nan, nan, nan), 0)
    reaches = values >= claimed
    ids, members = np.unique(blocks, return_inverse=True)
    hits = np.bincount(members, weights=reaches.astype(np.float64), minlength=ids.size)
    counts = np.bincount(members, minlength=ids.size).astype(np.float64)
    generator = np.random.default_rng(seed)
    picks = generator.integers(0, ids.size, size=(resamples, ids.size))
    boot = hits[picks].sum(axis=1) / counts[picks].sum(axis=1)
    tail = (1 - confidence) / 2
    low, high = (float(q) for q in np.quantile(boot, [tail, 1 - tail]))
    below = float(np.mean(values < claimed - margin))
    above = float(np.mean(values > claimed + margin))
    p05, p50, p95 = (float(q) for q in np.quantile(values, [0.05, 0.5, 0.95]))
    return ClaimProbability(float(reaches.mean()), (low, high), below, 1.0 - below - above, above,
                            (p05, p50, p95), int(values.size))


REPRODUCED, EXCEEDED, FELL_SHORT, UNDECIDED = ("reproduced (within margin)", "exceeded", "fell short",
                                               "undecided by the evidence")


def verdict_of(probability: ClaimProbability, decisive: float) -> tuple[str, float]:
    """The verdict the evidence supports with probability >= `decisive`, and that probability; else
    'undecided by the evidence' with the largest of the three."""
    options = [(REPRODUCED, probability.p_within), (EXCEEDED, probability.p_above), (FELL_SHORT, probability.p_below)]
    best = max(options, key=lambda option: option[1])
    if math.isnan(best[1]):
        return UNDECIDED, math.nan
    return best if best[1] >= decisive else (UNDECIDED, best[1])

"""Analytic queueing results used to verify the simulation (no simulation code here).

All rates are per the same time unit (per minute in citysim); ``a = lam / mu`` is the offered load
in Erlangs and ``rho = a / c`` the utilisation. The formulas hold in steady state for a stable
system (``a < c``); they raise ``ValueError`` otherwise. References: Gross & Harris, *Fundamentals
of Queueing Theory*, ch. 2-3; Cobham (1954) for the priority queue; Larson & Odoni, *Urban
Operations Research*, ch. 4-5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _check_mmc(c: int, lam: float, mu: float) -> float:
    """Validate an M/M/c system and return its offered load a = lam/mu."""
    if c < 1:
        raise ValueError(f"need at least one server, got c={c}")
    if lam < 0 or mu <= 0 or not (math.isfinite(lam) and math.isfinite(mu)):
        raise ValueError(f"need lam >= 0 and mu > 0, got lam={lam}, mu={mu}")
    a = lam / mu
    if a >= c:
        raise ValueError(f"unstable: offered load a={a:.6g} must be below c={c}")
    return a


def erlang_b(c: int, a: float) -> float:
    """Erlang B blocking probability of M/M/c/c with offered load ``a`` (stable recursion)."""
    if c < 0 or a < 0:
        raise ValueError(f"need c >= 0 and a >= 0, got c={c}, a={a}")
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(c: int, a: float) -> float:
    """Erlang C: probability that an arrival to M/M/c with offered load ``a < c`` has to wait."""
    if c < 1 or not 0 <= a < c:
        raise ValueError(f"need c >= 1 and 0 <= a < c, got c={c}, a={a}")
    b = erlang_b(c, a)
    rho = a / c
    return b / (1.0 - rho * (1.0 - b))


def mmc_wait_probability(c: int, lam: float, mu: float) -> float:
    """P(wait) = C(c, a) of M/M/c with arrival rate ``lam`` and service rate ``mu`` per server."""
    return erlang_c(c, _check_mmc(c, lam, mu))


def mmc_mean_wait(c: int, lam: float, mu: float) -> float:
    """Mean wait in queue Wq = C(c, a) / (c mu - lam) of M/M/c (FIFO or any order-blind discipline)."""
    a = _check_mmc(c, lam, mu)
    return erlang_c(c, a) / (c * mu - lam)


def mmc_mean_queue_length(c: int, lam: float, mu: float) -> float:
    """Mean number waiting Lq = C(c, a) rho / (1 - rho) = lam Wq of M/M/c."""
    a = _check_mmc(c, lam, mu)
    rho = a / c
    return erlang_c(c, a) * rho / (1.0 - rho)


def mmc_utilisation(c: int, lam: float, mu: float) -> float:
    """Server utilisation rho = lam / (c mu) (also the long-run busy share of each server)."""
    return _check_mmc(c, lam, mu) / c


def priority_mean_waits(c: int, lams: Sequence[float], mu: float) -> list[float]:
    """Cobham's mean waits of non-preemptive priority classes in M/M/c with one service rate.

    ``lams[k]`` is the arrival rate of class k, most urgent first; FIFO within a class. With
    sigma_k = sum_{i<=k} lam_i / (c mu), class k waits
    Wq_k = [C(c, a) / (c mu)] / [(1 - sigma_{k-1}) (1 - sigma_k)].
    """
    if not lams or any(lam < 0 for lam in lams):
        raise ValueError("need one or more non-negative class arrival rates")
    total = math.fsum(lams)
    a = _check_mmc(c, total, mu)
    w0 = erlang_c(c, a) / (c * mu)  # mean residual time until a server frees, times P(all busy)
    waits = []
    sigma_before = 0.0
    for lam in lams:
        sigma = sigma_before + lam / (c * mu)
        waits.append(w0 / ((1.0 - sigma_before) * (1.0 - sigma)))
        sigma_before = sigma
    return waits

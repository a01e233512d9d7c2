"""The analytic queueing formulas in citysim.analysis.queueing, checked against published values and identities."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citysim.analysis.queueing import (
    erlang_b,
    erlang_c,
    mmc_mean_queue_length,
    mmc_mean_wait,
    mmc_utilisation,
    mmc_wait_probability,
    priority_mean_waits,
)


def erlang_c_by_sum(c: int, a: float) -> float:
    """Textbook Erlang C from the M/M/c stationary distribution (fine for small c)."""
    head = math.fsum(a**k / math.factorial(k) for k in range(c))
    tail = a**c / math.factorial(c) * c / (c - a)
    return tail / (head + tail)


@pytest.mark.parametrize(
    ("c", "a", "p_wait", "wq_times_mu"),
    [(3, 1.5, 0.236842, 0.157895), (10, 8.0, 0.40918, 0.20459)],
)
def test_erlang_c_matches_calibration_checks(c: int, a: float, p_wait: float, wq_times_mu: float) -> None:
    """CALIBRATION.md's numeric checks: c=3, a=1.5 and c=10, rho=0.8 (to the digits given there)."""
    mu = 1 / 30
    assert erlang_c(c, a) == pytest.approx(p_wait, abs=5e-7)
    assert mmc_wait_probability(c, a * mu, mu) == pytest.approx(p_wait, abs=5e-7)
    assert mmc_mean_wait(c, a * mu, mu) * mu == pytest.approx(wq_times_mu, abs=5e-7)


def test_erlang_b_small_cases() -> None:
    """B(1, a) = a / (1 + a); B(2, 1) = (1/2) / (1 + 1 + 1/2) = 0.2."""
    assert erlang_b(1, 3.0) == pytest.approx(0.75)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_b(0, 5.0) == 1.0


def test_mm1_special_case() -> None:
    """With one server P(wait) = rho and Wq = rho / (mu - lambda)."""
    lam, mu = 0.6, 1.0
    assert mmc_wait_probability(1, lam, mu) == pytest.approx(0.6)
    assert mmc_mean_wait(1, lam, mu) == pytest.approx(0.6 / 0.4)
    assert mmc_mean_queue_length(1, lam, mu) == pytest.approx(0.6**2 / 0.4)
    assert mmc_utilisation(1, lam, mu) == pytest.approx(0.6)


@given(c=st.integers(1, 60), rho=st.floats(0.0, 0.98))
def test_erlang_c_properties(c: int, rho: float) -> None:
    """C is a probability, at least Erlang B, equal to the direct sum, and Lq = lambda Wq."""
    a = rho * c
    value = erlang_c(c, a)
    assert 0.0 <= value <= 1.0
    assert value >= erlang_b(c, a) - 1e-15
    assert value == pytest.approx(erlang_c_by_sum(c, a), rel=1e-9, abs=1e-300)
    lam, mu = a / 30, 1 / 30
    assert mmc_mean_queue_length(c, lam, mu) == pytest.approx(lam * mmc_mean_wait(c, lam, mu), rel=1e-12, abs=1e-300)


def test_erlang_c_falls_with_more_servers_at_same_load() -> None:
    """More units for the same offered load: less waiting, and almost none far from saturation."""
    values = [erlang_c(c, 8.0) for c in range(9, 40)]
    assert all(b < a for a, b in itertools.pairwise(values))
    assert erlang_c(60, 10.0) < 1e-20


def test_cobham_one_class_is_erlang_c() -> None:
    """A single priority class is plain FIFO M/M/c."""
    mu = 1 / 30
    (wait,) = priority_mean_waits(10, [8 * mu], mu)
    assert wait == pytest.approx(mmc_mean_wait(10, 8 * mu, mu), rel=1e-12)


def test_cobham_reference_case() -> None:
    """c=3, rho=0.75, shares 0.2/0.3/0.5 (scenarios/verification/priorities.yaml header)."""
    mu, lam = 1 / 30, 0.075
    waits = priority_mean_waits(3, [0.2 * lam, 0.3 * lam, 0.5 * lam], mu)
    w0 = erlang_c(3, 2.25) * 10.0
    assert waits == pytest.approx([w0 / 0.85, w0 / (0.85 * 0.625), w0 / (0.625 * 0.25)], rel=1e-12)
    assert waits == pytest.approx([6.6795, 10.6872, 36.3364], abs=5e-5)


def test_cobham_mm1_two_classes() -> None:
    """M/M/1 non-preemptive: Wq_k = (rho/mu) / ((1 - sigma_{k-1})(1 - sigma_k)) with rho = sigma_2."""
    mu = 1.0
    w1, w2 = priority_mean_waits(1, [0.3, 0.4], mu)
    assert w1 == pytest.approx(0.7 / 0.7)
    assert w2 == pytest.approx(0.7 / (0.7 * 0.3))


@given(
    c=st.integers(1, 20),
    rho=st.floats(0.05, 0.95),
    shares=st.lists(st.floats(0.01, 1.0), min_size=1, max_size=5),
)
def test_cobham_conservation(c: int, rho: float, shares: list[float]) -> None:
    """Waits rise with the class number, and their rate-weighted mean is the FIFO Erlang C wait."""
    mu = 1.0
    total = rho * c * mu
    lams = [total * s / sum(shares) for s in shares]
    waits = priority_mean_waits(c, lams, mu)
    assert all(b >= a for a, b in itertools.pairwise(waits))
    weighted = math.fsum(lam * w for lam, w in zip(lams, waits, strict=True)) / total
    assert weighted == pytest.approx(mmc_mean_wait(c, total, mu), rel=1e-9)


@pytest.mark.parametrize(("c", "lam", "mu"), [(3, 0.1, 1 / 30), (1, 1.0, 1.0), (0, 0.1, 1.0), (2, 0.1, 0.0)])
def test_unstable_or_invalid_systems_raise(c: int, lam: float, mu: float) -> None:
    """No steady state (a >= c) or a meaningless system is an error, not a number."""
    with pytest.raises(ValueError):
        mmc_mean_wait(c, lam, mu)
    with pytest.raises(ValueError):
        priority_mean_waits(c, [lam / 2, lam / 2], mu)

"""Verification of the operations parts against queueing theory: the call-takers and the back office are
M/M/c queues (Erlang C), and a two-unit police service with the operations block switched on but empty
(no look-ups, no report time, no other work) is still M/M/2.

As in test_verification.py, each check compares a mean over independent replications with the analytic
value and passes when |mean - analytic| <= Z * SE (Z = 4).
"""

from __future__ import annotations

import copy
import math
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import simpy
import yaml

import citysim
from citysim.analysis.queueing import mmc_mean_wait, mmc_wait_probability
from citysim.analysis.verification import per_replication
from citysim.config import Scenario
from citysim.police.server_pool import ServerPool

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios" / "verification"
Z = 4.0


def mmc_data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((SCENARIOS / "mmc.yaml").read_text(encoding="utf-8"))
    return data


def within(values: np.ndarray, expected: float) -> tuple[bool, str]:
    mean, se = float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))
    return abs(mean - expected) <= Z * se, f"simulated {mean:.5g} +- {se:.3g} (SE), analytic {expected:.5g}"


# ----------------------------------------------------------------------------- back office
def _pool_run(seed: int, c: int, lam: float, mu: float, n: int) -> float:
    """Mean wait of requests 1000..n in a ServerPool with c servers, Poisson arrivals, exponential service."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    pool = ServerPool(env, [c] * 24)
    pool.staff(0)
    gaps, services = rng.exponential(1 / lam, n), rng.exponential(1 / mu, n)

    def arrive(k: int, _event: simpy.Event | None = None) -> None:
        pool.request(float(services[k]), lambda: None)
        if k + 1 < n:
            env.timeout(float(gaps[k + 1])).callbacks.append(partial(arrive, k + 1))

    env.timeout(float(gaps[0])).callbacks.append(partial(arrive, 0))
    env.run()
    return float(np.mean(pool.waits[1000:]))


def test_back_office_matches_erlang_c():
    """The back office's FIFO desk is M/M/c: c = 3, a = 1.5 gives Wq = 0.157895 / mu (CALIBRATION.md)."""
    c, mu = 3, 0.5
    lam = 1.5 * mu
    assert mmc_mean_wait(c, lam, mu) * mu == pytest.approx(0.157895, abs=1e-6)
    waits = np.array([_pool_run(seed, c, lam, mu, 20_000) for seed in range(20)])
    ok, text = within(waits, mmc_mean_wait(c, lam, mu))
    assert ok, text


def test_back_office_staffing_is_non_preemptive():
    """A server leaving at a shift change finishes the request in hand; waiting requests start when staff return."""
    env = simpy.Environment()
    pool = ServerPool(env, [1] + [0] * 23)
    pool.staff(0)
    done: list[tuple[str, float]] = []
    pool.request(5.0, lambda: done.append(("a", env.now)))
    pool.request(2.0, lambda: done.append(("b", env.now)))
    env.timeout(1.0).callbacks.append(lambda _e: pool.staff(1))  # nobody on duty from t = 1
    env.timeout(10.0).callbacks.append(lambda _e: pool.staff(0))  # back at t = 10
    env.run()
    assert done == [("a", 5.0), ("b", 12.0)]
    assert pool.waits == [0.0, 10.0]


# ----------------------------------------------------------------------------- call-takers
def test_call_takers_match_erlang_c():
    """Call-takers with a fixed roster are M/M/c: every call closed on the phone after an exponential talk,
    c = 3 and a = 1.5: P(wait) = 0.236842 and Wq = 0.157895 / mu."""
    data = mmc_data()
    c, mu = 3, 0.5
    lam = 1.5 * mu
    data["demand"]["calls_per_day"] = lam * 1440
    job = data["demand"]["categories"]["job"]
    job.update(phone_resolution_prob=1.0, talk={"dist": "exponential", "mean_min": 1 / mu})
    data["call_centre"] = {"kind": "staffed", "call_takers_by_hour": [c] * 24}
    data["run"].update(duration_min=2880, warmup_min=120)
    scenario = Scenario.model_validate(data)
    sim = citysim.simulate(scenario, replications=30)
    waits = per_replication(sim, "answer_wait_min_mean")
    ok, text = within(waits, mmc_mean_wait(c, lam, mu))
    assert ok, text
    incidents = sim.logs.incidents[~sim.logs.incidents["warmup"]]
    waited = (incidents["t_answer"] - incidents["t_call"] > 1e-9).groupby(incidents["replication"]).mean()
    ok, text = within(waited.to_numpy(), mmc_wait_probability(c, lam, mu))
    assert ok, text
    assert mmc_wait_probability(c, lam, mu) == pytest.approx(0.236842, abs=1e-6)


# ----------------------------------------------------------------------------- two units, operations on
EMPTY_OPERATIONS: dict[str, Any] = {
    "other_work": [],
    "lookups": {"back_office": {"staff_by_hour": [1] * 24, "service": {"dist": "fixed", "value_min": 1}},
                "terminal": {"dist": "fixed", "value_min": 0.5}},
    "case_closure": {"station_trip_share": 1.0, "terminal_report_factor": 1.0},
    "by_category": {"job": {"lookups_mean": 0.0, "report": {"dist": "fixed", "value_min": 0}}},
    "driving": {"lights_and_siren_priorities": [1],
                "signals": {"arterial_per_km": 2.0, "local_per_km": 1.0, "delay_min": 0.35, "lights_siren_share": 0.7}},
}


@pytest.fixture(scope="module")
def two_units() -> tuple[citysim.Simulation, float, float]:
    """M/M/2 at rho = 0.7 with an operations block whose look-ups, reports and other work are all empty."""
    data = mmc_data()
    mu = 1 / 30
    lam = 0.7 * 2 * mu
    data["districts"][0]["units"] = 2
    data["demand"]["calls_per_day"] = lam * 1440
    data["operations"] = copy.deepcopy(EMPTY_OPERATIONS)
    data["run"].update(duration_min=7200)
    return citysim.simulate(Scenario.model_validate(data), replications=60), lam, mu


def test_two_units_with_empty_operations_are_mm2(two_units):
    """P(wait) = C(2, a) and Wq of M/M/2, exactly as without the block: the closure step adds no time."""
    sim, lam, mu = two_units
    for kpi, expected in (("p_wait_for_unit", mmc_wait_probability(2, lam, mu)),
                          ("dispatch_wait_min_mean", mmc_mean_wait(2, lam, mu))):
        ok, text = within(per_replication(sim, kpi), expected)
        assert ok, f"{kpi}: {text}"
    done = sim.logs.incidents["t_clear"].notna()
    np.testing.assert_array_equal(sim.logs.incidents.loc[done, "t_closed"], sim.logs.incidents.loc[done, "t_clear"])


def test_two_units_check_detects_a_report_time(two_units):
    """Power: a 10 min report on every job (units busy 40 min, rho = 0.93) fails the same M/M/2 check."""
    _sim, lam, mu = two_units
    data = mmc_data()
    data["districts"][0]["units"] = 2
    data["demand"]["calls_per_day"] = lam * 1440
    data["operations"] = copy.deepcopy(EMPTY_OPERATIONS)
    data["operations"]["by_category"]["job"]["report"] = {"dist": "fixed", "value_min": 10}
    data["operations"]["case_closure"]["station_trip_share"] = 0.0
    data["run"].update(duration_min=7200)
    sim = citysim.simulate(Scenario.model_validate(data), replications=20)
    ok, text = within(per_replication(sim, "p_wait_for_unit"), mmc_wait_probability(2, lam, mu))
    assert not ok, text

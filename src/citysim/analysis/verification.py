"""Reading a queueing-theory reduction off a scenario file, for verification.

A scenario in `scenarios/verification/` reduces the police model to M/M/c: no call-taking stage, no
dispatcher delay, zero (or negligible) travel, one exponential on-scene time, a constant arrival
rate, one unit per incident, every call dispatched, all units always on duty, one queue. `reduction`
checks each of these and returns c, mu and lambda by priority; it raises ValueError naming the first
condition a scenario breaks, so an analytic comparison is never made against the wrong model.

Also what the verification tests and `benchmarks/verification_table.py` share: one KPI per
replication, and a deliberately broken queue discipline (a dispatch policy passed to `simulate`) to
show the checks' power.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from citysim.config.distributions import Exponential, Fixed
from citysim.config.schema import InstantTravel, NoCallCentre, Scenario, StraightLineTravel
from citysim.police.dispatch import CITY_WIDE, DISPATCH_POLICIES, DispatchPolicy
from citysim.simulation.replications import Simulation

#: Straight-line travel at least this fast counts as instant (it still lets `nearest` choose).
MIN_INSTANT_SPEED_KMH = 1e6


@dataclass(frozen=True)
class Reduction:
    """The M/M/c queue a verification scenario stands for (rates per minute)."""

    c: int
    mu: float
    lam_by_priority: dict[int, float]

    @property
    def lam(self) -> float:
        return math.fsum(self.lam_by_priority.values())

    @property
    def a(self) -> float:
        """Offered load in Erlangs."""
        return self.lam / self.mu

    @property
    def lams(self) -> list[float]:
        """Arrival rates by priority class, most urgent first."""
        return [self.lam_by_priority[p] for p in sorted(self.lam_by_priority)]


def _require(condition: bool, what: str) -> None:
    if not condition:
        raise ValueError(f"not an M/M/c reduction: {what}")


def reduction(scenario: Scenario) -> Reduction:
    """c, mu and lambda by priority of a reduced scenario; ValueError if it is not one."""
    _require(isinstance(scenario.call_centre, NoCallCentre), "calls must reach dispatch at once")
    delay = scenario.dispatch.decision_delay
    _require(isinstance(delay, Fixed) and delay.value_min == 0, "the dispatcher's decision delay must be 0")
    travel = scenario.travel
    if isinstance(travel, StraightLineTravel):
        _require(isinstance(travel.turnout, Fixed) and travel.turnout.value_min == 0, "turn-out must be 0")
        _require(travel.noise_cv == 0 and min(travel.speed_kmh_by_hour) >= MIN_INSTANT_SPEED_KMH,
                 "straight-line travel must be noiseless and practically instant")
    else:
        _require(isinstance(travel, InstantTravel), "travel must be instant")
    _require(len(set(scenario.demand.hourly_profile)) == 1 and not scenario.demand.surges,
             "the arrival rate must be constant")
    _require(all(f == 1 for f in scenario.fleet.on_duty_fraction_by_hour), "all units must always be on duty")
    _require(DISPATCH_POLICIES[scenario.dispatch.policy].area_of(0, False) == CITY_WIDE or len(scenario.districts) == 1,
             "one queue must be served by every unit")
    means = set()
    lam = scenario.demand.calls_per_day / 1440.0
    by_priority: dict[int, float] = {}
    for category in scenario.demand.categories.values():
        _require(category.units_needed == 1, "every incident must need one unit")
        _require(category.phone_resolution_prob == 0 and category.diversion_prob == 0, "every call must be dispatched")
        _require(isinstance(category.scene, Exponential), "on-scene times must be exponential")
        means.add(category.scene.mean)
        by_priority[category.priority] = by_priority.get(category.priority, 0.0) + lam * category.share
    _require(len(means) == 1, "all categories must share one exponential on-scene mean")
    return Reduction(sum(d.units for d in scenario.districts), 1.0 / means.pop(), dict(sorted(by_priority.items())))


def per_replication(sim: Simulation, kpi: str, priority: str = "all") -> np.ndarray:
    """One value of a KPI per replication, in replication order."""
    rows = sim.kpis[(sim.kpis["kpi"] == kpi) & (sim.kpis["priority"] == priority)].sort_values("replication")
    return rows["value"].to_numpy(dtype=np.float64)


class BrokenOrder:
    """A scenario's dispatch policy with its priority order broken: `fifo` ignores the priority, `reversed`
    serves the least urgent first. Everything else (who serves whom) is the scenario's policy."""

    def __init__(self, scenario: Scenario, kind: Literal["fifo", "reversed"]) -> None:
        self.inner: DispatchPolicy = DISPATCH_POLICIES[scenario.dispatch.policy]
        self.kind = kind

    def area_of(self, district: int, city_wide: bool) -> int:
        return self.inner.area_of(district, city_wide)

    def areas_served(self, district: int) -> tuple[int, ...]:
        return self.inner.areas_served(district)

    def queue_key(self, priority: int, t_queue: float) -> tuple[float, float]:
        return (0 if self.kind == "fifo" else -priority), t_queue

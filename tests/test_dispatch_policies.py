"""Dispatch policies are values: the registry matches the schema, and a policy passed in is the one used."""

from __future__ import annotations

import typing
from typing import Any

import citysim
from citysim.config.schema import Dispatch
from citysim.police.dispatch import CITY_WIDE, DISPATCH_POLICIES


def test_registry_and_schema_name_the_same_policies() -> None:
    """Every name the schema accepts has a policy, and every policy has a name the schema accepts."""
    accepted = set(typing.get_args(Dispatch.model_fields["policy"].annotation))
    assert accepted == set(DISPATCH_POLICIES)


def test_home_district_keeps_incidents_home_unless_city_wide() -> None:
    """home_district: an incident waits in its district unless the AVL lever covers it; a freed unit
    serves its district's queue first on a tie, then the city-wide one."""
    policy = DISPATCH_POLICIES["home_district"]
    assert policy.area_of(3, False) == 3
    assert policy.area_of(3, True) == CITY_WIDE
    assert policy.areas_served(3) == (3, CITY_WIDE)


def test_nearest_pools_every_incident() -> None:
    """nearest: one city-wide queue that every unit serves."""
    policy = DISPATCH_POLICIES["nearest"]
    assert {policy.area_of(d, c) for d in range(4) for c in (False, True)} == {CITY_WIDE}
    assert policy.areas_served(2) == (CITY_WIDE,)


class _LastComeFirstServed:
    """A policy of the test's own: home_district's areas, but the newest incident first."""

    def __init__(self) -> None:
        self.keys: list[tuple[int, float]] = []

    def area_of(self, district: int, city_wide: bool) -> int:
        return DISPATCH_POLICIES["home_district"].area_of(district, city_wide)

    def areas_served(self, district: int) -> tuple[int, ...]:
        return DISPATCH_POLICIES["home_district"].areas_served(district)

    def queue_key(self, priority: int, t_queue: float) -> tuple[float, float]:
        self.keys.append((priority, t_queue))
        return 0, -t_queue


def test_a_policy_passed_in_is_the_one_used(small_scenario_data: dict[str, Any]) -> None:
    """simulate(policy=...) runs under that policy: it is consulted for every incident that queues, and
    serving the newest first changes who waits (the scenario's own policy is not used)."""
    small_scenario_data["demand"]["calls_per_day"] = 1500  # busy enough that incidents queue
    scenario = citysim.Scenario.model_validate(small_scenario_data)
    policy = _LastComeFirstServed()
    lifo = citysim.simulate(scenario, replications=1, policy=policy).logs.incidents
    fifo = citysim.simulate(scenario, replications=1).logs.incidents
    waited = (lifo["t_dispatch"] > lifo["t_queue"]) | (lifo["t_queue"].notna() & lifo["t_dispatch"].isna())
    queued = int(waited.sum())
    assert len(policy.keys) >= queued > 0
    assert not lifo["t_dispatch"].equals(fifo["t_dispatch"])
    assert lifo["t_call"].equals(fifo["t_call"])  # same incidents: only the order of service differs

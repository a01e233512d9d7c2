"""Unit tests of the kernel pieces: named streams, fleet state, dispatch queues, time averages, the clock,
and tiny worlds whose event traces are known exactly."""

from __future__ import annotations

import functools
import heapq
import itertools
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

# The kernel pieces under test: the one place to update if modules move or their signatures change.
from citysim import Scenario, simulate
from citysim.city.travel import Place
from citysim.clock import clock_hour, clock_hours, hourly_segments
from citysim.monitor import TimeAverage
from citysim.police.call_centre import answer_calls
from citysim.police.dispatch import DISPATCH_POLICIES, DispatchQueues
from citysim.police.fleet import EN_ROUTE, IDLE, OFF, ON_SCENE, RETURNING, Fleet
from citysim.police.server_pool import ServerPool
from citysim.streams import Streams


def new_queues(policy: str, n_districts: int) -> DispatchQueues:
    """The dispatch queues of the scenario policy named `policy`."""
    return DispatchQueues(DISPATCH_POLICIES[policy], n_districts)


def area_of(queues: DispatchQueues, district: int, city_wide: bool = False) -> int:
    """The area (queue) where an incident of `district` waits under the queues' policy."""
    return queues.policy.area_of(district, city_wide)


STATES = (OFF, IDLE, EN_ROUTE, ON_SCENE, RETURNING)


# ----------------------------------------------------------------- named streams

# These pin the stream derivation (SeedSequence(seed, spawn_key=(replication, sha256 key of the name))):
# if one changes, every simulated result changes with it.
FIRST_UNIFORMS_SEED_123_REP_0 = {
    "demand.arrivals": 0.004548067542340828,
    "scene.handling": 0.8615622254245888,
    "dispatch.decision": 0.012384596573652762,
}


@pytest.mark.parametrize(("name", "first"), FIRST_UNIFORMS_SEED_123_REP_0.items())
def test_stream_first_draw_is_pinned(name: str, first: float) -> None:
    """Each named stream's first uniform for seed 123, replication 0 is a fixed number."""
    assert Streams(123, 0).generator(name).random() == first
    assert Streams(123, 0).uniforms(name, 1)[0] == first


def test_same_name_gives_same_sequence() -> None:
    """Asking for a stream twice gives the same draws, and uniforms() is that stream's random()."""
    streams = Streams(123, 0)
    first = streams.generator("scene.handling").random(8)
    assert np.array_equal(streams.generator("scene.handling").random(8), first)
    assert np.array_equal(streams.uniforms("scene.handling", 8), first)
    assert streams.uniforms("scene.handling", (2, 4)).tolist() == first.reshape(2, 4).tolist()


def test_streams_differ_by_replication_seed_and_name() -> None:
    """Another replication, another root seed or another name gives other draws."""
    base = Streams(123, 0).uniforms("demand.arrivals", 4)
    assert not np.array_equal(Streams(123, 1).uniforms("demand.arrivals", 4), base)
    assert not np.array_equal(Streams(124, 0).uniforms("demand.arrivals", 4), base)
    assert not np.array_equal(Streams(123, 0).uniforms("demand.arrival", 4), base)


def test_adding_a_stream_shifts_nothing() -> None:
    """Creating and drawing another stream in between leaves a stream's draws unchanged."""
    alone = Streams(123, 0)
    expected = alone.uniforms("scene.handling", 6)
    busy = Streams(123, 0)
    head = busy.generator("scene.handling").random(3)
    busy.uniforms("a.brand.new.stream", 1000)
    busy.generator("demand.arrivals").random(50)
    assert np.array_equal(busy.uniforms("scene.handling", 6), expected)
    assert np.array_equal(head, expected[:3])


# ----------------------------------------------------------------- fleet


def make_fleet(home_district: list[int], n_districts: int) -> Fleet:
    """A fleet whose unit u is based at (u, 2u) km, node 10 + u, access 0.1 u km."""
    n = len(home_district)
    units = np.arange(n, dtype=np.float64)
    return Fleet(np.array(home_district, dtype=np.intp), units.copy(), 2 * units, np.arange(n, dtype=np.intp) + 10,
                 0.1 * units, n_districts)


def assert_counters_match_state(fleet: Fleet) -> None:
    """Every mirror and counter of the fleet agrees with `state`."""
    state = np.array(fleet.state)
    available = np.isin(state, (IDLE, RETURNING))
    returning = state == RETURNING
    assert fleet.available.tolist() == available.tolist()
    assert fleet.returning.tolist() == returning.tolist()
    assert fleet.available_total == int(available.sum()) == int(fleet.available.sum())
    assert fleet.available_total == sum(fleet.available_in_district)
    assert fleet.n_returning == int(returning.sum()) == int(fleet.returning.sum())
    by_district = [int(available[fleet.home_district == d].sum()) for d in range(len(fleet.available_in_district))]
    assert fleet.available_in_district == by_district


def test_new_fleet_is_off_and_unavailable() -> None:
    """A new fleet has every unit off duty and nothing available."""
    fleet = make_fleet([0, 0, 1], 2)
    assert fleet.state == [OFF, OFF, OFF]
    assert fleet.available_total == 0
    assert fleet.available_in_district == [0, 0]
    assert fleet.n_returning == 0
    assert_counters_match_state(fleet)


def test_counters_follow_a_unit_through_one_job() -> None:
    """IDLE -> EN_ROUTE -> ON_SCENE -> RETURNING -> IDLE -> OFF moves every counter exactly."""
    fleet = make_fleet([0, 1, 1], 2)
    for unit in range(3):
        fleet.come_on_duty(unit, 0.0)
    assert (fleet.available_total, fleet.available_in_district, fleet.n_returning) == (3, [1, 2], 0)
    fleet.set_state(2, EN_ROUTE)
    assert (fleet.available_total, fleet.available_in_district, fleet.n_returning) == (2, [1, 1], 0)
    assert fleet.available.tolist() == [True, True, False]
    fleet.set_state(2, ON_SCENE)
    assert (fleet.available_total, fleet.available_in_district, fleet.n_returning) == (2, [1, 1], 0)
    fleet.set_state(2, RETURNING)
    assert (fleet.available_total, fleet.available_in_district, fleet.n_returning) == (3, [1, 2], 1)
    assert fleet.returning.tolist() == [False, False, True]
    fleet.set_state(2, IDLE)
    assert (fleet.available_total, fleet.available_in_district, fleet.n_returning) == (3, [1, 2], 0)
    fleet.go_off_duty(1, 5.0)
    assert (fleet.available_total, fleet.available_in_district, fleet.n_returning) == (2, [1, 1], 0)
    assert fleet.state == [IDLE, OFF, IDLE]
    assert_counters_match_state(fleet)


def test_repeated_state_changes_no_count() -> None:
    """Setting a unit to the state it is in (or to another state of the same availability) moves no counter."""
    fleet = make_fleet([0, 1], 2)
    fleet.come_on_duty(0, 0.0)
    fleet.set_state(0, IDLE)
    assert (fleet.available_total, fleet.available_in_district) == (1, [1, 0])
    fleet.set_state(0, RETURNING)
    fleet.set_state(0, RETURNING)
    assert (fleet.available_total, fleet.n_returning) == (1, 1)
    fleet.set_state(0, ON_SCENE)
    fleet.set_state(0, EN_ROUTE)
    assert (fleet.available_total, fleet.available_in_district, fleet.n_returning) == (0, [0, 0], 0)


TRANSITIONS = st.lists(
    st.tuples(st.integers(0, 4), st.sampled_from(("set", "on", "off")), st.sampled_from(STATES)), max_size=60
)


@settings(max_examples=200, deadline=None)
@given(TRANSITIONS)
def test_counters_agree_with_state_after_any_transitions(steps: list[tuple[int, str, int]]) -> None:
    """After any sequence of set_state / come_on_duty / go_off_duty, every counter agrees with `state`."""
    fleet = make_fleet([0, 0, 1, 2, 2], 3)
    for step, (unit, action, state) in enumerate(steps):
        if action == "set":
            fleet.set_state(unit, state)
        elif action == "on":
            fleet.come_on_duty(unit, float(step))
        else:
            fleet.go_off_duty(unit, float(step))
        assert_counters_match_state(fleet)


def test_duty_intervals_from_go_off_duty_and_close_duty() -> None:
    """go_off_duty records (unit, start, now); close_duty records only the intervals still open."""
    fleet = make_fleet([0, 0, 0], 1)
    fleet.come_on_duty(0, 5.0)
    fleet.come_on_duty(1, 3.0)
    fleet.go_off_duty(0, 12.5)
    assert fleet.duty_intervals == [(0, 5.0, 12.5)]
    fleet.come_on_duty(0, 20.0)
    fleet.close_duty(30.0)
    assert fleet.duty_intervals == [(0, 5.0, 12.5), (0, 20.0, 30.0), (1, 3.0, 30.0)]


def test_go_off_duty_invalidates_a_pending_return() -> None:
    """Going off duty bumps the unit's token (so a return trip's arrival home is ignored)."""
    fleet = make_fleet([0], 1)
    fleet.come_on_duty(0, 0.0)
    token = fleet.token[0]
    fleet.go_off_duty(0, 1.0)
    assert fleet.token[0] == token + 1
    assert fleet.going_off[0] == np.False_


def test_come_on_duty_places_the_unit_at_home() -> None:
    """A unit coming on duty is at its station (position, node and access leg), idle."""
    fleet = make_fleet([0, 0], 1)
    fleet.move_to(1, Place(9.0, 9.0, 99, 9.0))
    fleet.going_off[1] = True
    fleet.come_on_duty(1, 7.0)
    assert tuple(fleet.place_of(1, 7.0)) == (1.0, 2.0, 11, 0.1, 0.0)
    assert fleet.state[1] == IDLE
    assert fleet.going_off[1] == np.False_
    assert fleet.duty_start[1] == 7.0


def returning_fleet() -> Fleet:
    """Unit 0 (home (0, 0), node 10) drives home from a scene at (4, 2), node 7, over [10, 20]; unit 1 is idle
    at its station (1, 2)."""
    fleet = make_fleet([0, 0], 1)
    fleet.come_on_duty(0, 0.0)
    fleet.come_on_duty(1, 0.0)
    fleet.move_to(0, Place(4.0, 2.0, 7, 0.5))
    fleet.start_return(0, 10.0, 20.0)
    return fleet


@pytest.mark.parametrize(("now", "expected"), [(10.0, (4.0, 2.0, 7, 0.5, 0.0)), (12.0, (4.0, 2.0, 7, 0.5, 2.0)),
                                               (14.0, (4.0, 2.0, 7, 0.5, 4.0)), (15.0, (0.0, 0.0, 10, 0.0, 5.0)),
                                               (18.0, (0.0, 0.0, 10, 0.0, 2.0)), (25.0, (0.0, 0.0, 10, 0.0, 0.0))])
def test_returning_unit_is_at_the_nearer_end(now: float, expected: tuple[float, ...]) -> None:
    """A returning unit is placed at the scene before halfway and at home from halfway (position, node and
    access leg alike), with the lead minutes to get there; vector and scalar forms agree."""
    fleet = returning_fleet()
    place = fleet.place_of(0, now)
    assert tuple(place)[:4] == expected[:4]
    assert place.lead == pytest.approx(expected[4], abs=1e-12)
    places = fleet.places(np.array([0, 1]), now)
    assert [tuple(float(v) for v in column) for column in places] == [
        (place.x, 1.0), (place.y, 2.0), (place.node, 11), (place.access, 0.1), (place.lead, 0.0)]


def test_a_returning_unit_that_stops_returning_is_where_it_was_left() -> None:
    """Once no longer RETURNING, a unit is at its stored place, with no lead."""
    fleet = returning_fleet()
    fleet.set_state(0, EN_ROUTE)
    assert tuple(fleet.place_of(0, 15.0)) == (4.0, 2.0, 7, 0.5, 0.0)
    places = fleet.places(np.array([0]), 15.0)
    assert (places.x.tolist(), places.y.tolist(), places.lead.tolist()) == ([4.0], [2.0], [0.0])


# ----------------------------------------------------------------- dispatch queues


def never_called(candidates: list[int]) -> int:
    """A `nearest` callback for cases where the queues must decide alone."""
    raise AssertionError(f"nearest() must not be consulted here (got {candidates})")


def drain(queues: DispatchQueues, district: int) -> list[int]:
    """Serve the queues for `district` until empty: the order incidents are handed out."""
    served: list[int] = []
    for _ in range(100):  # bounded, so that a queue handing out one incident forever fails instead of hanging
        incident = queues.next_for(district, lambda i: i not in served, never_called)
        if incident is None:
            break
        served.append(incident)
    return served


def test_queue_order_is_priority_then_fifo() -> None:
    """A district queue hands out the most urgent priority first, first queued first within a priority."""
    queues = new_queues("home_district", 2)
    for priority, t_queue, incident in [(3, 1.0, 10), (1, 5.0, 11), (1, 2.0, 12), (3, 0.5, 13), (2, 9.0, 14)]:
        queues.push(0, priority, t_queue, incident)
    assert drain(queues, 0) == [12, 11, 14, 13, 10]


def test_settled_incidents_are_skipped() -> None:
    """Incidents that no longer need a unit are passed over; an all-settled queue gives None."""
    queues = new_queues("home_district", 1)
    for t_queue, incident in [(1.0, 1), (2.0, 2), (3.0, 3)]:
        queues.push(0, 1, t_queue, incident)
    assert queues.next_for(0, lambda i: i != 1, never_called) == 2
    assert queues.next_for(0, lambda i: i == 3, never_called) == 3
    assert queues.next_for(0, lambda i: False, never_called) is None
    assert queues.next_for(0, lambda i: True, never_called) is None  # the settled entries are gone for good


def test_home_district_unit_serves_only_its_district_and_the_city_queue() -> None:
    """Under home_district a unit never takes another district's incident."""
    queues = new_queues("home_district", 2)
    queues.push(0, 1, 1.0, 7)
    assert queues.next_for(1, lambda i: True, never_called) is None
    assert queues.next_for(0, lambda i: True, never_called) == 7


@pytest.mark.parametrize(("district_entry", "city_entry", "expected"), [
    ((3, 1.0, 20), (1, 4.0, 21), 21),  # the city-wide head is more urgent
    ((1, 1.0, 20), (3, 0.5, 21), 20),  # the district head is more urgent
    ((2, 1.0, 20), (2, 4.0, 21), 20),  # same priority: the one queued first
    ((2, 5.0, 20), (2, 4.0, 21), 21),
])
def test_home_district_unit_takes_the_more_urgent_head(district_entry: tuple[int, float, int],
                                                       city_entry: tuple[int, float, int], expected: int) -> None:
    """A freed unit compares its district's head with the city-wide head and takes the more urgent."""
    queues = new_queues("home_district", 2)
    queues.push(0, *district_entry)
    queues.push(area_of(queues, 0, city_wide=True), *city_entry)
    assert queues.next_for(0, lambda i: True, lambda c: c[0]) == expected


def test_area_of_by_policy() -> None:
    """home_district queues in the incident's district unless city-wide; nearest always city-wide."""
    home = new_queues("home_district", 3)
    city = area_of(home, 0, city_wide=True)
    assert city not in (0, 1, 2)
    assert [area_of(home, d) for d in range(3)] == [0, 1, 2]
    assert [area_of(home, d, city_wide=True) for d in range(3)] == [city] * 3
    nearest = new_queues("nearest", 3)
    assert [area_of(nearest, d) for d in range(3)] == [city] * 3
    assert [area_of(nearest, d, city_wide=True) for d in range(3)] == [city] * 3


def test_nearest_policy_serves_every_district_from_one_queue() -> None:
    """Under nearest a unit of any district takes incidents queued from any district."""
    queues = new_queues("nearest", 2)
    queues.push(area_of(queues, 0), 1, 1.0, 5)
    assert queues.next_for(1, lambda i: True, never_called) == 5


def test_nearest_is_asked_among_the_most_urgent_city_wide_incidents() -> None:
    """With several waiting city-wide incidents of the top priority, `nearest` picks among exactly those
    (settled ones excluded), and its choice is returned."""
    queues = new_queues("nearest", 2)
    for priority, t_queue, incident in [(2, 1.0, 30), (2, 3.0, 31), (1, 5.0, 32), (1, 6.0, 33), (1, 7.0, 34)]:
        queues.push(area_of(queues, 0), priority, t_queue, incident)
    calls: list[list[int]] = []

    def nearest(candidates: list[int]) -> int:
        calls.append(list(candidates))
        return candidates[-1]

    assert queues.next_for(0, lambda i: i != 33, nearest) == 34
    assert calls == [[32, 34]]


def test_nearest_is_not_asked_about_a_single_candidate() -> None:
    """With one top-priority city-wide incident, it is taken without consulting `nearest`."""
    queues = new_queues("nearest", 1)
    for priority, t_queue, incident in [(2, 1.0, 40), (1, 2.0, 41), (1, 3.0, 42)]:
        queues.push(area_of(queues, 0), priority, t_queue, incident)
    assert queues.next_for(0, lambda i: i != 42, never_called) == 41


# ----------------------------------------------------------------- time averages


def step_function() -> TimeAverage:
    """Level 0 on [0, 2), 3 on [2, 5), 1 from 5 on."""
    average = TimeAverage(0.0)
    average.add(2.0, 3.0)
    average.add(5.0, -2.0)
    return average


def test_time_average_of_a_step_function() -> None:
    """The mean is the area under the level over the window: (0*2 + 3*3 + 1*5) / 10 = 1.4."""
    average = step_function()
    assert average.mean(10.0) == 1.4
    assert average.mean(5.0) == 9.0 / 5.0
    assert average.level == 1.0


def test_time_average_starts_at_its_initial_level() -> None:
    """The initial level counts from the start time."""
    average = TimeAverage(2.0, 4.0)
    assert average.mean(6.0) == 4.0
    average.add(4.0, -4.0)
    assert average.mean(6.0) == 2.0


def test_time_average_reset_starts_a_fresh_window() -> None:
    """After reset the past is forgotten and the current level carries on."""
    average = step_function()
    average.reset(5.0)
    assert average.mean(10.0) == 1.0
    average.add(7.0, 2.0)
    assert average.mean(10.0) == (1.0 * 2 + 3.0 * 3) / 5  # 2.2
    average.reset(8.0)
    assert average.mean(10.0) == 3.0


def test_time_average_of_an_empty_window_is_nan() -> None:
    """A window of zero length has no mean."""
    assert math.isnan(TimeAverage(3.0, 2.0).mean(3.0))
    average = step_function()
    average.reset(6.0)
    assert math.isnan(average.mean(6.0))


# ----------------------------------------------------------------- clock


def test_segments_from_a_fractional_hour() -> None:
    """Starting at 06:30, the first segment is the 30 minutes to 07:00."""
    assert hourly_segments(6.5, 120.0) == [(0.0, 30.0, 6), (30.0, 90.0, 7), (90.0, 120.0, 8)]


def test_segments_wrap_at_midnight() -> None:
    """A run from 22:45 for 3 h goes 22 -> 23 -> 0 -> 1."""
    assert hourly_segments(22.75, 180.0) == [(0.0, 15.0, 22), (15.0, 75.0, 23), (75.0, 135.0, 0), (135.0, 180.0, 1)]


def test_segments_of_a_run_shorter_than_the_first_partial_hour() -> None:
    """A run ending before the first clock hour boundary is one segment."""
    assert hourly_segments(6.5, 10.0) == [(0.0, 10.0, 6)]
    assert hourly_segments(6.5, 30.0) == [(0.0, 30.0, 6)]


def test_segments_of_whole_days() -> None:
    """Two days from midnight are 48 one-hour segments, hours 0..23 twice."""
    segments = hourly_segments(0.0, 2880.0)
    assert [h for _, _, h in segments] == list(range(24)) * 2
    assert [(s, e) for s, e, _ in segments] == [(60.0 * k, 60.0 * (k + 1)) for k in range(48)]


@settings(max_examples=300, deadline=None)
@given(st.floats(0.0, 24.0, exclude_max=True), st.floats(1e-6, 20000.0))
def test_segments_tile_the_run(start_clock_h: float, duration_min: float) -> None:
    """Segments cover [0, duration) with no gap or overlap, at most an hour each, hours counting up mod 24."""
    segments = hourly_segments(start_clock_h, duration_min)
    assert segments[0][0] == 0.0
    assert segments[-1][1] == duration_min
    for (_, end, hour), (start, _, next_hour) in itertools.pairwise(segments):
        assert end == start
        assert next_hour == (hour + 1) % 24
    assert all(0.0 < e - s <= 60.0 + 1e-9 for s, e, _ in segments)


@pytest.mark.parametrize(("start", "t_min", "expected"), [
    (6.0, 0.0, 6.0), (23.5, 60.0, 0.5), (22.0, 180.0, 1.0), (0.0, 2 * 1440.0 + 90.0, 1.5), (12.0, 720.0, 0.0),
])
def test_clock_hour_wraps(start: float, t_min: float, expected: float) -> None:
    """The clock hour is the start hour plus elapsed hours, modulo 24."""
    assert clock_hour(start, t_min) == expected


@settings(max_examples=300, deadline=None)
@given(st.floats(0.0, 24.0, exclude_max=True), st.lists(st.floats(0.0, 5 * 1440.0), min_size=1, max_size=20))
def test_clock_hours_are_the_whole_clock_hours(start: float, times: list[float]) -> None:
    """The logs' hour columns: the whole hour (0-23) the model reads at each time, `int(clock_hour(...))`."""
    hours = clock_hours(start, np.array(times))
    assert hours.dtype == np.int64 and ((0 <= hours) & (hours <= 23)).all()
    assert hours.tolist() == [int(clock_hour(start, t)) for t in times]


def test_every_log_ends_with_the_clock_hour_of_its_main_time(scenario_data) -> None:
    """A run from 22:30 across midnight, on the tiny road network with crashes and other work: each of the
    six logs ends with its CLOCK_HOUR_COLUMNS column, the hour of its named time; the incident log's hours
    wrap from 22 and 23 to 0."""
    from citysim.simulation.logs import CLOCK_HOUR_COLUMNS, LOG_NAMES
    from test_levers import CRASH_CATEGORY, CRASHES, TINY_BLOCKS, operations_block

    data = {**scenario_data(), **TINY_BLOCKS, "crashes": CRASHES}
    data["demand"]["categories"]["crash"] = CRASH_CATEGORY
    data["operations"] = operations_block(list(data["demand"]["categories"]))
    data["run"].update(start_clock_h=22.5, duration_min=240, warmup_min=0)
    logs = simulate(Scenario.model_validate(data), replications=1).logs
    assert set(CLOCK_HOUR_COLUMNS) == set(LOG_NAMES)
    for name, (column, time) in CLOCK_HOUR_COLUMNS.items():
        frame = getattr(logs, name)
        assert len(frame) > 0 and frame.columns[-1] == column, name
        assert frame[column].dtype == np.int64, name
        assert frame[column].tolist() == [int(clock_hour(22.5, t)) for t in frame[time]], name
    assert set(logs.incidents["call_hour"]) == {22, 23, 0, 1, 2}


# ----------------------------------------------------------------- tiny worlds

ALWAYS = [1] * 24
SCENE_MIN = 30.0
DECISION_MIN = 0.5


def category(share: float, priority: int) -> dict[str, Any]:
    """A demand category: reported at once, always dispatched, one unit, SCENE_MIN on scene."""
    return {"share": share, "priority": priority, "units_needed": 1, "report_delay": {"dist": "fixed", "value_min": 0},
            "phone_resolution_prob": 0, "diversion_prob": 0, "scene": {"dist": "fixed", "value_min": SCENE_MIN}}


def tiny_world(seed: int, categories: dict[str, Any], calls_per_day: float, *, travel: dict[str, Any] | None = None,
               idle_at: str = "station") -> Scenario:
    """One district, one unit always on duty, no call centre, a fixed decision delay and fixed scene times."""
    return Scenario.model_validate({
        "name": "tiny", "run": {"seed": seed, "start_clock_h": 0, "duration_min": 600, "warmup_min": 0},
        "districts": [{"name": "Only", "population": 1, "area_km2": 1.0, "lat": 31.23, "lon": 121.47,
                       "call_share": 1.0, "stations": 1, "units": 1}],
        "demand": {"calls_per_day": calls_per_day, "hourly_profile": ALWAYS, "categories": categories},
        "call_centre": {"kind": "none"},
        "dispatch": {"policy": "home_district", "decision_delay": {"dist": "fixed", "value_min": DECISION_MIN}},
        "fleet": {"on_duty_fraction_by_hour": ALWAYS, "idle_at": idle_at},
        "travel": travel if travel is not None else {"kind": "instant"},
    })


def one_server_dispatch_times(t_queue: np.ndarray, priority: np.ndarray, end: float) -> np.ndarray:
    """Reference non-preemptive priority queue with one server and service SCENE_MIN: the dispatch time of each
    incident (NaN if not dispatched before `end`), serving by (priority, t_queue) whenever the server frees."""
    queued = np.flatnonzero(~np.isnan(t_queue))  # incidents still in decision at the end never queued
    order = queued[np.argsort(t_queue[queued], kind="stable")]
    dispatch = np.full(t_queue.size, np.nan)
    waiting: list[tuple[int, float, int]] = []
    free, k = 0.0, 0
    while True:
        while k < order.size and t_queue[order[k]] <= free:
            heapq.heappush(waiting, (int(priority[order[k]]), float(t_queue[order[k]]), int(order[k])))
            k += 1
        if waiting:
            _, _, incident = heapq.heappop(waiting)
            start = free
        elif k < order.size:
            incident = int(order[k])
            k += 1
            start = float(t_queue[incident])
        else:
            return dispatch
        if start >= end:
            return dispatch
        dispatch[incident] = start
        free = start + SCENE_MIN


def assert_one_unit_trace(incidents: pd.DataFrame, units: pd.DataFrame, end: float) -> None:
    """The incident and unit logs of a one-unit, instant-travel world follow the reference queue exactly."""
    assert incidents["t_answer"].to_numpy() == pytest.approx(incidents["t_call"].to_numpy(), abs=1e-9)
    assert incidents["t_queue"].tolist() == (incidents["t_answer"] + DECISION_MIN).tolist()
    expected = one_server_dispatch_times(incidents["t_queue"].to_numpy(), incidents["priority"].to_numpy(), end)
    assert np.array_equal(incidents["t_dispatch"].to_numpy(), expected, equal_nan=True)
    assert np.array_equal(incidents["t_arrive"].to_numpy(), expected, equal_nan=True)
    cleared = expected + SCENE_MIN
    assert np.array_equal(incidents["t_clear"].to_numpy(), np.where(cleared < end, cleared, np.nan), equal_nan=True)
    dispatched = ~np.isnan(expected)
    assert incidents["n_units"].tolist() == dispatched.astype(int).tolist()
    assert incidents["first_unit"].tolist() == [0 if d else pd.NA for d in dispatched]
    assert incidents["resolution"].tolist() == ["dispatched" if c < end else "open" for c in cleared.tolist()]
    # One unit-log row per dispatch, in dispatch order, with the incident's own times.
    rows = incidents[dispatched].sort_values("t_dispatch")
    assert units["unit"].tolist() == [0] * len(rows)
    assert units["incident_id"].tolist() == rows["incident_id"].tolist()
    for column in ("t_dispatch", "t_arrive", "t_clear"):
        assert np.array_equal(units[column].to_numpy(), rows[column].to_numpy(), equal_nan=True)
    assert units["travel_km"].tolist() == [0.0] * len(rows)
    assert units["travel_min"].tolist() == [0.0] * len(rows)


def test_one_unit_fifo_trace() -> None:
    """One unit, one priority: each incident is dispatched at max(its t_queue, the previous t_clear), arrives
    then (instant travel) and clears SCENE_MIN later."""
    # Seed 1 gives 17 incidents: 3 find the unit idle, 14 wait for it (checked once; any seed with both kinds does).
    sim = simulate(tiny_world(1, {"job": category(1.0, 1)}, calls_per_day=30), replications=1)
    incidents, units = sim.logs.incidents, sim.logs.units
    assert_one_unit_trace(incidents, units, 600.0)
    t_queue, t_dispatch, t_clear = (incidents[c].to_numpy() for c in ("t_queue", "t_dispatch", "t_clear"))
    waited = np.flatnonzero(t_queue[1:] < t_clear[:-1]) + 1
    assert waited.size > 0 and waited.size < len(incidents) - 1
    i = int(waited[0])  # the key trace: queued while the unit was busy, served the moment it cleared
    assert t_dispatch[i] == t_clear[i - 1]
    assert incidents["t_arrive"][i] == t_dispatch[i]
    assert t_clear[i] == t_dispatch[i] + SCENE_MIN
    assert sim.logs.duty[["unit", "t_start", "t_end"]].values.tolist() == [[0, 0.0, 600.0]]


def test_one_unit_serves_priority_1_before_an_earlier_priority_3() -> None:
    """When the unit frees up, a waiting priority-1 incident is served before a priority-3 one queued earlier."""
    # Seed 1 gives 17 incidents, with 9 (priority 3, later priority 1) pairs where the later one is served first.
    categories = {"urgent": category(0.5, 1), "routine": category(0.5, 3)}
    sim = simulate(tiny_world(1, categories, calls_per_day=30), replications=1)
    incidents = sim.logs.incidents
    assert_one_unit_trace(incidents, sim.logs.units, 600.0)
    t_queue, t_dispatch, priority = (incidents[c].to_numpy() for c in ("t_queue", "t_dispatch", "priority"))
    overtakes = [(i, j) for i in range(len(incidents)) for j in range(i + 1, len(incidents))
                 if priority[i] == 3 and priority[j] == 1 and t_queue[j] < t_dispatch[j] < t_dispatch[i]]
    assert overtakes
    _, j = overtakes[0]
    assert t_dispatch[j] in incidents["t_clear"].tolist()  # served the moment the unit was freed


def test_one_unit_patrolling_in_place_drives_from_scene_to_scene() -> None:
    """Straight-line travel with fixed turn-out and no noise: each trip starts where the last incident was, takes
    turn-out + km x 60 / speed, and the unit is re-dispatched the moment it clears."""
    travel = {"kind": "straight_line", "circuity": 1.0, "speed_kmh_by_hour": [30.0] * 24,
              "turnout": {"dist": "fixed", "value_min": 2.0}, "noise_cv": 0}
    sim = simulate(tiny_world(1, {"job": category(1.0, 1)}, calls_per_day=30, travel=travel,
                              idle_at="where_cleared"), replications=1)
    incidents = sim.logs.incidents
    units = sim.logs.units
    served = incidents[incidents["n_units"] == 1]
    assert len(units) == len(served) >= 2
    assert units["incident_id"].tolist() == served["incident_id"].tolist()
    x, y = served["x_km"].to_numpy(), served["y_km"].to_numpy()
    # The first trip starts at the station, each later one where the previous incident was.
    assert units["from_x_km"].tolist()[1:] == x[:-1].tolist() and units["from_y_km"].tolist()[1:] == y[:-1].tolist()
    station = units["from_x_km"].iloc[0], units["from_y_km"].iloc[0]
    assert np.hypot(*station) < 1.0 / np.sqrt(np.pi)  # on the district disc of 1 km2
    km = np.hypot(np.diff(np.concatenate([[station[0]], x])), np.diff(np.concatenate([[station[1]], y])))
    assert units["travel_km"].to_numpy() == pytest.approx(km, abs=1e-9)
    assert units["travel_min"].tolist() == (2.0 + units["travel_km"] * 2.0).tolist()
    assert units["t_arrive"].tolist() == (units["t_dispatch"] + units["travel_min"]).tolist()
    done = units["t_clear"].notna().to_numpy()
    assert units["t_clear"][done].tolist() == (units["t_arrive"][done] + SCENE_MIN).tolist()
    previous_clear = np.concatenate([[0.0], units["t_clear"].to_numpy()[:-1]])
    t_queue = served["t_queue"].to_numpy()
    assert units["t_dispatch"].tolist() == np.maximum(t_queue, previous_clear).tolist()


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 23.0), st.floats(0.0, 300.0))
def test_call_taking_before_the_loop_equals_the_event_loop(seed, start_clock_h, warmup):
    """`answer_calls` gives exactly the answer times, and the talking average, that a SimPy event loop
    with a staffed FIFO desk (`ServerPool`) and the hourly roster gives on the same calls."""
    rng = np.random.default_rng(seed)
    horizon = 600.0
    calls = np.sort(rng.uniform(0.0, horizon * 1.1, 400)).tolist()
    talk = rng.exponential(4.0, 400).tolist()
    staff = rng.integers(0, 5, 24).tolist()
    taken = answer_calls(calls, talk, staff, start_clock_h, horizon, warmup)

    env = simpy.Environment()
    talking = TimeAverage(0.0)
    pool = ServerPool(env, staff, on_busy=talking.add)
    answered = [math.nan] * len(calls)

    def roster():
        for start, _end, hour in hourly_segments(start_clock_h, horizon):
            if start > env.now:
                yield env.timeout(start - env.now)
            pool.staff(hour)

    def arrive(i, _event):
        pool.request(talk[i], lambda: None, started=lambda: answered.__setitem__(i, env.now))

    def end_warmup():
        yield env.timeout(warmup)
        talking.reset(env.now)

    env.process(roster())
    for i, t in enumerate(calls):
        env.timeout(t).callbacks.append(functools.partial(arrive, i))
    if warmup > 0:
        env.process(end_warmup())
    env.run(until=horizon)
    assert taken.t_answer == pytest.approx(answered, nan_ok=True, rel=0, abs=0)
    assert taken.talking.mean(horizon) == talking.mean(horizon)

"""Demand surges (`demand.surges`): a multiplier on the call rate of given clock hours, applied after the
hourly profile is rescaled to mean 1, so it adds calls; the profile alone is only a shape.

Analytic checks on the expected calls by hour, a statistical check on simulated counts (tolerance from the
Poisson variance), and the common-random-numbers property: a surge adds or removes calls and leaves every
other call's draws as they were.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from citysim.city.geography import DistrictGrid
from citysim.city.loading import load_scenario
from citysim.city.surface import demand_surface
from citysim.config import Scenario
from citysim.config.limits import expected_incidents
from citysim.errors import InputError
from citysim.police.demand import call_arrivals, generate_incidents
from citysim.streams import Streams

EVENING = [18, 19, 20, 21]
DAYS = 5  # a run of whole days from midnight, so every clock hour is covered DAYS times
#: Standard normal quantile for the statistical checks: a false failure once in about 30,000 runs.
Z = 4.0


def _scenario(data: dict[str, Any], surges: list[dict[str, Any]] | None = None, days: int = DAYS) -> Scenario:
    data["run"].update(start_clock_h=0, duration_min=1440 * days, warmup_min=60)
    if surges is not None:
        data["demand"]["surges"] = surges
    return Scenario.model_validate(data)


def _evening(multiplier: float) -> list[dict[str, Any]]:
    return [{"hours": EVENING, "multiplier": multiplier, "reason": "test: an evening event"}]


def _clock_hours(times: np.ndarray, scenario: Scenario) -> np.ndarray:
    return ((scenario.run.start_clock_h + times / 60.0) // 1 % 24).astype(int)


def test_expected_calls_by_hour_doubles_in_surge_hours_only(small_scenario_data):
    """Flat profile, 400 calls a day: 400/24 an hour; a surge of 2.0 on 18-21 makes those hours 800/24 and
    the day 400 x (20 + 2 x 4) / 24, and leaves the other hours at 400/24."""
    scenario = _scenario(small_scenario_data, _evening(2.0))
    by_hour = scenario.demand.calls_by_hour()
    for hour in range(24):
        assert by_hour[hour] == pytest.approx(400 / 24 * (2.0 if hour in EVENING else 1.0))
    assert scenario.demand.expected_calls_per_day == pytest.approx(400 * 28 / 24)
    assert expected_incidents(scenario) == pytest.approx(400 * 28 / 24 * DAYS)


def test_a_profile_change_alone_keeps_calls_per_day(small_scenario_data):
    """Doubling the evening in hourly_profile only moves calls into it: the day still has calls_per_day."""
    profile = [2.0 if h in EVENING else 1.0 for h in range(24)]
    small_scenario_data["demand"]["hourly_profile"] = profile
    scenario = _scenario(small_scenario_data)
    assert scenario.demand.expected_calls_per_day == pytest.approx(400)
    assert math.fsum(scenario.demand.calls_by_hour()) == pytest.approx(400)
    assert scenario.demand.calls_by_hour()[19] == pytest.approx(400 / 24 * 2 * 24 / 28)


def test_simulated_counts_match_the_surged_rate(scenario_data):
    """Over 5 days and 4 replications, the surge's calls in 18-21 h are 2x the profile's within Z Poisson sds,
    and the other hours keep exactly the calls of the scenario without the surge (common random numbers)."""
    plain, surged = _scenario(scenario_data()), _scenario(scenario_data(), _evening(2.0))
    added, base_evening = 0, 0
    for replication in range(4):
        streams = Streams(surged.run.seed, replication)
        before, after = call_arrivals(plain, streams), call_arrivals(surged, streams)
        n = before.t_call.size
        np.testing.assert_array_equal(after.t_call[:n], before.t_call)  # the profile's calls, untouched
        assert after.happens.all()
        extra_hours = _clock_hours(after.t_call[n:], surged)
        assert set(extra_hours) <= set(EVENING)
        added += extra_hours.size
        base_evening += int(np.isin(_clock_hours(before.t_call, plain), EVENING).sum())
    horizon_days = surged.run.horizon_min / 1440
    expected = 4 * horizon_days * len(EVENING) * 400 / 24  # extra calls: (2 - 1) x the profile's rate
    assert abs(added - expected) < Z * math.sqrt(expected)
    assert abs(base_evening - expected) < Z * math.sqrt(expected)


def test_a_multiplier_below_one_thins_only_its_hours(scenario_data):
    """A multiplier of 0.25 on 18-21 keeps about a quarter of those hours' calls (binomial tolerance) and every
    other call."""
    plain, lull = _scenario(scenario_data()), _scenario(scenario_data(), _evening(0.25))
    streams = Streams(lull.run.seed, 0)
    before, after = call_arrivals(plain, streams), call_arrivals(lull, streams)
    np.testing.assert_array_equal(after.t_call, before.t_call)  # nothing added
    in_evening = np.isin(_clock_hours(before.t_call, plain), EVENING)
    assert after.happens[~in_evening].all()
    n, kept = int(in_evening.sum()), int(after.happens[in_evening].sum())
    assert abs(kept - 0.25 * n) < Z * math.sqrt(n * 0.25 * 0.75)


def test_surge_keeps_every_other_draw_of_the_plan(scenario_data):
    """In the incident plan, each call of the profile (by draw_id) keeps its time, category, district, place and
    on-scene time under a surge; the surge's calls come on top, all in its hours."""
    plain, surged = _scenario(scenario_data(), days=1), _scenario(scenario_data(), _evening(3.0), days=1)
    plans = []
    for scenario in (plain, surged):
        grid = DistrictGrid.from_scenario(scenario)
        plans.append(generate_incidents(scenario, grid, demand_surface(scenario, grid), Streams(1, 0)))
    before, after = plans
    common = np.isin(after.draw_id, before.draw_id)
    assert common.sum() == before.size and after.size > before.size
    for field in ("t_call", "category", "district", "x_km", "y_km", "scene_min", "talk_min"):
        np.testing.assert_array_equal(getattr(after, field)[common], getattr(before, field), err_msg=field)
    assert set(_clock_hours(after.t_occur[~common], surged)) <= set(EVENING)


def test_no_surges_draws_nothing_new(scenario_data):
    """Without surges the calls are the profile's alone, all happening (the model's numbers are unchanged)."""
    scenario = _scenario(scenario_data())
    arrivals = call_arrivals(scenario, Streams(7, 0))
    assert arrivals.happens.all() and np.all(np.diff(arrivals.t_call) >= 0)


@pytest.mark.parametrize(("surges", "key", "expected"), [
    ("[{hours: [18, 18], multiplier: 2, reason: r}]", "demand.surges[0].hours", "repeated: 18"),
    ("[{hours: [24], multiplier: 2, reason: r}]", "demand.surges[0].hours[0]", "less than or equal to 23"),
    ("[{hours: [], multiplier: 2, reason: r}]", "demand.surges[0].hours", "at least 1 item"),
    ("[{hours: [18], multiplier: 0, reason: r}]", "demand.surges[0].multiplier", "greater than 0"),
    ("[{hours: [18], multiplier: 25, reason: r}]", "demand.surges[0].multiplier", "less than or equal to 20"),
    ("[{hours: [18], multiplier: 2}]", "demand.surges[0].reason", "required key is missing"),
    ("[{hours: [18], multiplier: 2, reason: r, extra: 1}]", "demand.surges[0].extra", "unknown key 'extra'"),
    ("[{hours: [18, 19], multiplier: 2, reason: r}, {hours: [19], multiplier: 3, reason: s}]",
     "demand.surges[1].hours", "already in demand.surges[0]"),
    ("{hours: [18], multiplier: 2, reason: r}", "demand.surges", "valid list"),
])
def test_bad_surges_name_the_key_and_line(surges, key, expected, small_yaml, write_yaml, line_of):
    """Each bad surge block is one paragraph naming the file, the surge's line and key path, and what was
    expected."""
    text = small_yaml.replace("  categories:\n", f"  surges: {surges}\n  categories:\n", 1)
    with pytest.raises(InputError) as caught:
        load_scenario(write_yaml("surge.yaml", text))
    message = str(caught.value)
    assert f"at key '{key}'" in message and expected in message and "\n" not in message
    assert caught.value.line == line_of(text, "surges:")


def test_the_incident_limit_counts_surges(small_scenario_data):
    """300,000 calls a day for one day is within MAX_INCIDENTS; a surge of 20 on every hour is not, and the
    problem names demand.surges."""
    from citysim.config.limits import MAX_INCIDENTS, limit_problems

    small_scenario_data["demand"]["calls_per_day"] = 300_000
    assert not limit_problems(_scenario(small_scenario_data, days=1))
    surged = _scenario(small_scenario_data, [{"hours": list(range(24)), "multiplier": 20, "reason": "test"}], 1)
    assert expected_incidents(surged) > MAX_INCIDENTS
    assert [key for key, _ in limit_problems(surged)] == [("demand", "surges")]


# --------------------------------------------------------------------------- the profile is a shape: a warning

EVENING_PROFILE = "[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1]"


def _shape_warnings(path) -> list[str]:
    from citysim.analysis.load_warnings import load_warnings
    from citysim.config import load_document

    document = load_document(path)
    return [w for w in load_warnings(load_scenario(path), document) if "hourly_profile" in w]


def test_a_child_that_reshapes_the_profile_is_told_it_is_a_shape(scenario_file, write_yaml, line_of):
    """A child doubling the evening in hourly_profile gets one warning: file and line, the calls a day that
    stay, the hour that changes most, and what to use to add calls."""
    text = f"extends: scenario.yaml\nname: evening\ndemand:\n  hourly_profile: {EVENING_PROFILE}\n"
    [warning] = _shape_warnings(write_yaml("evening.yaml", text))
    assert f"evening.yaml, line {line_of(text, 'hourly_profile')}" in warning
    assert "400 calls (demand.calls_per_day)" in warning and "demand.surges" in warning
    # 400 x 2 / 28 calls in an evening hour instead of 400 / 24:
    assert f"{400 * 2 / 28:,.0f} calls instead of {400 / 24:,.0f}" in warning


@pytest.mark.parametrize("child", [
    f"demand:\n  hourly_profile: {[1] * 24}\n",  # the same profile as the parent
    "demand:\n  hourly_profile: " + EVENING_PROFILE + "\n  surges: [{hours: [19], multiplier: 2, reason: r}]\n",
    "demand:\n  calls_per_day: 500\n",  # volume, not shape
])
def test_no_shape_warning_when_the_profile_is_not_reshaped_alone(child, scenario_file, write_yaml):
    """Same values as the parent, a reshaping that comes with a surge, or no profile at all: no warning."""
    assert _shape_warnings(write_yaml("child.yaml", "extends: scenario.yaml\nname: child\n" + child)) == []


def test_the_base_file_and_the_nearest_parent(scenario_file, write_yaml):
    """A file that extends nothing sets its profile (no warning); in a chain, the grandchild is compared with
    its parent's profile, not the base's."""
    assert _shape_warnings(scenario_file) == []
    reshaped = f"demand:\n  hourly_profile: {EVENING_PROFILE}\n"
    write_yaml("evening.yaml", "extends: scenario.yaml\nname: evening\n" + reshaped)
    same = write_yaml("again.yaml", "extends: evening.yaml\nname: again\n" + reshaped)
    assert _shape_warnings(same) == []


def test_the_overload_warning_sees_the_surge(small_scenario_data):
    """With ten times its units the small scenario's load is below 1 unit-hour per on-duty unit-hour in every
    hour; a surge of 20 on 19:00 pushes that hour above in both districts, and each warning names it."""
    from citysim.analysis.load_warnings import load_warnings

    for district in small_scenario_data["districts"]:
        district["units"] *= 10
    assert not [w for w in load_warnings(_scenario(small_scenario_data)) if "offered load" in w]
    surged = _scenario(small_scenario_data, [{"hours": [19], "multiplier": 20, "reason": "test"}])
    warnings = [w for w in load_warnings(surged) if "offered load" in w]
    assert len(warnings) == 2 and all("at 19:00" in w for w in warnings)  # North and South

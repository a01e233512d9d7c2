"""Smart levers: common random numbers, the direction of each lever's effect, and lever validation.

Most checks run conftest's small two-district scenario (straight-line travel) or the same scenario on
the tiny road network (tests/data/tiny_network.yaml) with traffic crashes added ("city"); one check
runs the Shanghai baseline against smart.yaml with every strength set to 0.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from citysim.city.loading import load_scenario
from citysim.cli import EXIT_BAD_INPUT, main
from citysim.config import Scenario
from citysim.config.lever_effects import VIDEO_DETECTION_MIN, lever_effects
from citysim.config.levers import LEVERS, Levers
from citysim.errors import InputError
from citysim.simulation.logs import LOG_NAMES, RunLogs
from citysim.simulation.model import CityModel, simulate_one

DATA = Path(__file__).parent / "data"
TINY_BLOCKS: dict[str, Any] = yaml.safe_load((DATA / "tiny_network.yaml").read_text(encoding="utf-8"))
SMART_YAML = Path(__file__).resolve().parents[1] / "scenarios" / "shanghai" / "smart.yaml"

#: The crash category added to the small scenario for the city variant (crashes raise it; its share is 0).
CRASH_CATEGORY: dict[str, Any] = {
    "share": 0.0, "priority": 2, "units_needed": 1, "phone_resolution_prob": 0.0, "diversion_prob": 0.0,
    "report_delay": {"dist": "exponential", "mean_min": 4}, "talk": {"dist": "lognormal", "mean_min": 1.0, "cv": 0.5},
    "scene": {"dist": "lognormal", "mean_min": 20, "cv": 0.5},
}
CRASHES: dict[str, Any] = {
    "crashes_per_day": 150, "category": "crash", "severities": [
        {"name": "minor", "share": 0.8, "capacity_factor": 0.5,
         "self_clear": {"dist": "lognormal", "mean_min": 15, "cv": 0.6},
         "self_cleared_check": {"dist": "fixed", "value_min": 4}},
        {"name": "injury", "share": 0.2, "capacity_factor": 0.2, "self_clear": None, "self_cleared_check": None},
    ],
    "jam_density_veh_per_lane_km": 120, "queue_storage_links": 3, "detour_min": 15,  # as the baseline
}


def operations_block(categories: list[str]) -> dict[str, Any]:
    """An operations block for these categories: two look-ups each (one for 'routine'), 15 min reports, half
    filed at the station, a little other work, priority 1 with lights and siren."""
    return {
        "other_work": [
            {"name": "patrol", "starts_per_hour": 0.3, "duration": {"dist": "lognormal", "mean_min": 20, "cv": 0.5},
             "on_dispatch": "interrupt", "interrupt_delay": {"dist": "fixed", "value_min": 1.0}, "deferrable": False},
            {"name": "paperwork", "starts_per_hour": 0.1, "duration": {"dist": "fixed", "value_min": 20},
             "on_dispatch": "unavailable", "interrupt_delay": None, "deferrable": True},
        ],
        "lookups": {"back_office": {"staff_by_hour": [1] * 24,
                                    "service": {"dist": "exponential", "mean_min": 2.0}},
                    "terminal": {"dist": "fixed", "value_min": 0.5}},
        "case_closure": {"station_trip_share": 0.5, "terminal_report_factor": 1.0},
        "by_category": {name: {"lookups_mean": 1.0 if name == "routine" else 2.0,
                               "report": {"dist": "fixed", "value_min": 15}} for name in categories},
        "driving": {"lights_and_siren_priorities": [1],
                    "signals": {"arterial_per_km": 2.0, "local_per_km": 1.0, "delay_min": 0.35,
                                "lights_siren_share": 0.7}},
    }
#: Columns fixed before the 110 centre learns of an incident.
UPSTREAM = ["category", "priority", "district", "x_km", "y_km", "t_occur", "t_call", "crash", "units_needed"]


def lever(name: str, strength: float, crash_strength: float = 0.0) -> dict[str, Any]:
    """The YAML block of one lever (category levers act on 'routine')."""
    block: dict[str, Any] = {"strength": strength}
    if name == "command_centre":
        block["location_share"] = strength
    if name in ("community_diversion", "prevention"):
        block["categories"] = ["routine"]
    if name == "prevention":
        block["crash_strength"] = crash_strength
    return {name: block}


def scenario_of(data: dict[str, Any], levers: dict[str, Any] | None = None) -> Scenario:
    data = copy.deepcopy(data)
    if levers is not None:
        data["levers"] = levers
    return Scenario.model_validate(data)


def logs(data: dict[str, Any], levers: dict[str, Any] | None = None, replication: int = 0) -> RunLogs:
    return simulate_one(scenario_of(data, levers), replication).logs


def assert_same_logs(first: RunLogs, second: RunLogs) -> None:
    for name in LOG_NAMES:
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name), check_exact=True, obj=name)


def police_cases(incidents: pd.DataFrame) -> pd.DataFrame:
    """Incidents after the warm-up that a unit reached."""
    return incidents[~incidents["warmup"] & incidents["t_arrive"].notna()]


def mean_arrival(runs: list[RunLogs]) -> float:
    cases = pd.concat([police_cases(r.incidents) for r in runs])
    return float((cases["t_arrive"] - cases["t_call"]).mean())


def cross_share(units: pd.DataFrame) -> float:
    return float((units["unit_district"].astype(str) != units["incident_district"].astype(str)).mean())


@pytest.fixture
def light_data(small_scenario_data: dict[str, Any]) -> dict[str, Any]:
    """The small scenario with 18 units instead of 7, so that incidents rarely wait for a unit."""
    small_scenario_data["districts"][0]["units"] = 10
    small_scenario_data["districts"][1]["units"] = 8
    return small_scenario_data


@pytest.fixture
def road_data(light_data: dict[str, Any]) -> dict[str, Any]:
    """The lightly loaded small scenario on the tiny road network (no crashes)."""
    light_data.update(copy.deepcopy(TINY_BLOCKS))
    return light_data


@pytest.fixture
def city_data(road_data: dict[str, Any]) -> dict[str, Any]:
    """The road-network scenario with about 150 crashes a day, each a 'crash' incident, and operations
    (other work, look-ups, reports, lights and siren for priority 1)."""
    road_data["demand"]["categories"]["crash"] = copy.deepcopy(CRASH_CATEGORY)
    road_data["crashes"] = copy.deepcopy(CRASHES)
    road_data["operations"] = operations_block(list(road_data["demand"]["categories"]))
    return road_data


@pytest.fixture
def ops_data(light_data: dict[str, Any]) -> dict[str, Any]:
    """The lightly loaded small scenario with operations and a locate step in call-taking."""
    light_data["operations"] = operations_block(list(light_data["demand"]["categories"]))
    light_data["call_centre"]["locate"] = {"dist": "lognormal", "mean_min": 0.5, "cv": 1.0}
    return light_data


# --------------------------------------------------------------------------- registry


def test_registry_matches_schema():
    """LEVERS names exactly the schema's levers, each default within its range and its range within [0, 1]."""
    assert set(LEVERS) == set(Levers.model_fields)
    for name, info in LEVERS.items():
        assert 0 <= info.low <= info.default <= info.high <= 1, name
        assert info.mechanism and info.source, name


def test_no_levers_are_neutral_effects(small_scenario_data):
    """A scenario without a levers block has every lever off and reads the neutral LeverEffects."""
    scenario = scenario_of(small_scenario_data)
    assert all(getattr(scenario.levers, name) is None for name in LEVERS)
    effects = lever_effects(scenario)
    assert effects.decision_factor == effects.crash_self_clear_factor == 1.0
    assert effects.avl_share == effects.predictive_share == effects.prevention_share == effects.community_share == 0.0
    assert effects.terminal_share == effects.preemption_share == effects.ai_signal_share == 0.0
    assert effects.auto_location_share == 0.0


# --------------------------------------------------------------------------- common random numbers


@pytest.mark.parametrize("variant", ["small", "city"])
def test_all_levers_at_zero_equal_no_levers(variant, small_scenario_data, city_data):
    """Every lever at strength 0 gives logs identical to the scenario without a levers block."""
    data = small_scenario_data if variant == "small" else city_data
    zero: dict[str, Any] = {}
    for name in LEVERS:
        zero.update(lever(name, 0.0))
    assert_same_logs(logs(data), logs(data, zero))


@pytest.mark.parametrize("name", sorted(LEVERS))
def test_each_lever_at_zero_changes_nothing(name, city_data):
    """One lever alone at strength 0 leaves every log of the city scenario exactly as without it."""
    assert_same_logs(logs(city_data), logs(city_data, lever(name, 0.0)))


@pytest.fixture(scope="module")
def shanghai_runs(shanghai_path: Path) -> dict[str, RunLogs]:
    """Replication 0 of the Shanghai baseline, of smart.yaml with every strength 0, and of avl_dispatch alone."""
    baseline, smart = load_scenario(shanghai_path), load_scenario(SMART_YAML)
    # The checks need identical or shifted logs, not a whole day: 2 h warm-up + 12 h, no drain (a shorter suite).
    no_drain = baseline.run.model_copy(update={"duration_min": 840.0, "drain_min": 0.0})
    baseline, smart = (s.model_copy(update={"run": no_drain}) for s in (baseline, smart))
    assert all(getattr(smart.levers, name) is not None for name in LEVERS), "smart.yaml should set every lever"
    updates = {}
    for name in LEVERS:
        on = getattr(smart.levers, name)
        assert on.strength > 0, name
        zero: dict[str, float] = {"strength": 0.0}
        zero.update({"crash_strength": 0.0} if name == "prevention" else {})
        zero.update({"location_share": 0.0} if name == "command_centre" else {})
        updates[name] = on.model_copy(update=zero)
    off = smart.model_copy(update={"levers": smart.levers.model_copy(update=updates)})
    avl = baseline.model_copy(update={"levers": Levers.model_validate({"avl_dispatch": {"strength": 1.0}})})
    return {"baseline": simulate_one(baseline, 0).logs, "smart_at_zero": simulate_one(off, 0).logs,
            "avl": simulate_one(avl, 0).logs}


def test_shanghai_smart_at_zero_equals_baseline(shanghai_runs):
    """smart.yaml with every strength set to 0 reproduces the Shanghai baseline's logs exactly."""
    assert_same_logs(shanghai_runs["baseline"], shanghai_runs["smart_at_zero"])


#: Levers acting after the call is answered and queued: everything up to t_queue stays identical.
AFTER_QUEUE = ["mobile_terminals", "signal_preemption", "avl_dispatch", "predictive_deployment", "congestion_routing",
               "ai_signal_timing", "fast_crash_handling"]


@pytest.mark.parametrize("name", AFTER_QUEUE)
def test_police_side_lever_keeps_calls(name, city_data):
    """A lever acting on units leaves every incident identical up to t_queue (and the crashes' times and places)."""
    base, smart = logs(city_data), logs(city_data, lever(name, LEVERS[name].high))
    columns = ["incident_id", *UPSTREAM, "t_answer", "t_queue"]
    pd.testing.assert_frame_equal(base.incidents[columns], smart.incidents[columns], check_exact=True)
    drawn = ["crash_id", "arc", "severity", "x_km", "y_km", "t_occur"]
    pd.testing.assert_frame_equal(base.crashes[drawn], smart.crashes[drawn], check_exact=True)
    assert not base.units.equals(smart.units), "the lever should change something the units do"


@pytest.mark.parametrize("name", ["command_centre", "community_diversion"])
def test_call_side_lever_keeps_incidents(name, city_data):
    """command_centre and community_diversion keep every incident's occurrence, call, category and place."""
    base, smart = logs(city_data), logs(city_data, lever(name, 0.4))
    columns = ["incident_id", *UPSTREAM]
    pd.testing.assert_frame_equal(base.incidents[columns], smart.incidents[columns], check_exact=True)
    if name == "community_diversion":  # call-taking is untouched: answers come at the same times
        pd.testing.assert_series_equal(base.incidents["t_answer"], smart.incidents["t_answer"], check_exact=True)


def test_parking_guidance_keeps_ordinary_calls(city_data):
    """Parking guidance leaves the ordinary calls, their answers and the crash times identical."""
    base, smart = logs(city_data), logs(city_data, lever("parking_guidance", 0.5))
    ordinary = [frame[frame["crash"] < 0].reset_index(drop=True)[[*UPSTREAM, "t_answer"]]
                for frame in (base.incidents, smart.incidents)]
    assert len(ordinary[0]) > 100
    pd.testing.assert_frame_equal(*ordinary, check_exact=True)
    # crashes keep their times (the daily total is fixed); less traffic in North may move some to other links
    pd.testing.assert_series_equal(base.crashes["t_occur"], smart.crashes["t_occur"], check_exact=True)


def test_video_detection_keeps_ordinary_calls_and_crashes(city_data):
    """Video detection keeps ordinary calls and every crash's time and place; it only brings crash calls forward."""
    base, smart = logs(city_data), logs(city_data, lever("video_detection", 0.8))
    ordinary = [frame[frame["crash"] < 0].reset_index(drop=True)[UPSTREAM]
                for frame in (base.incidents, smart.incidents)]
    pd.testing.assert_frame_equal(*ordinary, check_exact=True)
    crash_b = base.incidents[base.incidents["crash"] >= 0].set_index("crash")
    crash_s = smart.incidents[smart.incidents["crash"] >= 0].set_index("crash")
    assert set(crash_b.index) <= set(crash_s.index)  # a crash call can only come earlier, so within the run
    crash_s = crash_s.loc[crash_b.index]
    for column in ("t_occur", "x_km", "y_km", "district"):
        pd.testing.assert_series_equal(crash_b[column], crash_s[column], check_exact=True)
    assert (crash_s["t_call"] <= crash_b["t_call"]).all()


def test_prevention_keeps_other_categories(small_scenario_data):
    """Preventing 'routine' incidents leaves every 'urgent' incident's occurrence, call and place identical."""
    base, smart = logs(small_scenario_data), logs(small_scenario_data, lever("prevention", 0.3))
    urgent = [frame[frame["category"] == "urgent"].reset_index(drop=True)[UPSTREAM]
              for frame in (base.incidents, smart.incidents)]
    assert len(urgent[0]) > 20
    pd.testing.assert_frame_equal(*urgent, check_exact=True)


def test_crash_prevention_keeps_surviving_crashes(city_data):
    """Crash prevention leaves each surviving crash's report delay (t_call - t_occur) as it was."""
    base = logs(city_data)
    smart = logs(city_data, {"prevention": {"strength": 0.0, "crash_strength": 0.3, "categories": ["routine"]}})
    crash_b = base.incidents[base.incidents["crash"] >= 0].set_index("t_occur")
    crash_s = smart.incidents[smart.incidents["crash"] >= 0].set_index("t_occur")
    assert 0 < len(crash_s) < len(crash_b) and crash_s.index.isin(crash_b.index).all()
    np.testing.assert_array_equal(crash_s["t_call"], crash_b.loc[crash_s.index, "t_call"])


# --------------------------------------------------------------------------- each lever's direction


def test_command_centre_acts_on_decision_and_location(ops_data):
    """command_centre multiplies the dispatcher's decision time (t_queue - t_talk_end) by 1 - strength and
    shortens only the call-taking of calls that get a unit (their locate step); phone calls keep their talk."""
    strength = 0.4
    base = logs(ops_data).incidents
    smart = logs(ops_data, lever("command_centre", strength)).incidents
    both = base["t_queue"].notna() & smart["t_queue"].notna()
    assert both.sum() > 50
    np.testing.assert_allclose((smart["t_queue"] - smart["t_talk_end"])[both],
                               (1 - strength) * (base["t_queue"] - base["t_talk_end"])[both], rtol=1e-9)
    talk_b, talk_s = base["t_talk_end"] - base["t_answer"], smart["t_talk_end"] - smart["t_answer"]
    assert (talk_s[both] <= talk_b[both] + 1e-9).all() and (talk_s[both] < talk_b[both] - 1e-9).mean() > 0.2
    phone = (base["resolution"] == "phone") & (smart["resolution"] == "phone")
    assert phone.sum() > 10
    np.testing.assert_allclose(talk_s[phone], talk_b[phone], rtol=1e-12)


def _on_scene(incidents: pd.DataFrame) -> pd.Series:
    return incidents["t_clear"] - incidents["t_arrive"]


def test_mobile_terminals_act_on_lookups_and_reports(ops_data):
    """With terminals on every unit, on-scene time is not one constant times the baseline's: incidents without
    look-ups keep their on-scene time exactly, those with look-ups lose their radio waits; no report needs a
    station trip, so closure (t_closed - t_clear) is the report time itself."""
    base = logs(ops_data).incidents
    smart = logs(ops_data, lever("mobile_terminals", 1.0)).incidents
    single = (base["units_needed"] == 1) & _on_scene(base).notna() & _on_scene(smart).notna()
    none = single & (base["lookups"] == 0)
    some = single & (base["lookups"] > 0)
    assert none.sum() > 5 and some.sum() > 30
    np.testing.assert_allclose(_on_scene(smart)[none], _on_scene(base)[none], rtol=1e-12)
    ratio = (_on_scene(smart) / _on_scene(base))[some]
    assert ratio.std() > 0.01, "terminals must not scale on-scene time by one constant"
    assert ratio.mean() < 0.98
    # on a terminal each look-up takes its fixed 0.5 min, so look-up time is 0.5 x look-ups
    np.testing.assert_allclose(smart.loc[some, "lookup_min"], 0.5 * smart.loc[some, "lookups"], rtol=1e-9)
    closed = smart["t_closed"].notna() & (smart["n_units"] > 0)
    np.testing.assert_allclose((smart["t_closed"] - smart["t_clear"])[closed], 15.0, rtol=1e-9)
    base_closure = (base["t_closed"] - base["t_clear"])[base["t_closed"].notna() & (base["n_units"] > 0)]
    assert (base_closure > 15.0 + 1e-6).mean() > 0.3  # the station trips the terminals avoid


def test_case_closure_after_clear(city_data):
    """Every closed incident closes at or after it clears; without operations it closes when it clears."""
    incidents = logs(city_data).incidents
    closed = incidents["t_closed"].notna()
    assert closed.sum() > 100
    assert (incidents.loc[closed, "t_closed"] >= incidents.loc[closed, "t_clear"]).all()
    assert incidents.loc[incidents["t_clear"].isna(), "t_closed"].isna().all()
    plain = logs({k: v for k, v in city_data.items() if k != "operations"}).incidents
    done = plain["t_clear"].notna()
    np.testing.assert_array_equal(plain.loc[done, "t_closed"], plain.loc[done, "t_clear"])


def test_signal_preemption_needs_lights_and_siren(city_data):
    """Pre-emption acts on lights-and-siren trips only: with no priority driving with them it changes no log;
    with priority 1 it shortens priority-1 trips."""
    quiet = copy.deepcopy(city_data)
    quiet["operations"]["driving"]["lights_and_siren_priorities"] = []
    assert_same_logs(logs(quiet), logs(quiet, lever("signal_preemption", 0.9)))
    units = [pd.concat([logs(city_data, levers, k).units for k in range(3)])
             for levers in (None, lever("signal_preemption", 0.9))]
    incidents = logs(city_data).incidents
    urgent = set(incidents.loc[incidents["priority"] == 1, "incident_id"])
    per_km = [(u["travel_min"] / u["travel_km"])[u["incident_id"].isin(urgent) & (u["travel_km"] > 0)].mean()
              for u in units]
    assert per_km[1] < 0.99 * per_km[0], per_km


def test_ai_signal_timing_acts_on_signal_delay(city_data):
    """AI signal timing cuts the signals' delay on every trip, leaving road speeds (the traffic log) alone; with
    no signals on the streets it changes nothing."""
    base, smart = logs(city_data), logs(city_data, lever("ai_signal_timing", 1.0))
    speeds = ["t_min", "expressway_kmh", "arterial_kmh"]
    pd.testing.assert_frame_equal(base.traffic[speeds], smart.traffic[speeds], check_exact=True)
    # The same trips (incident, unit, assignment time) in both runs are shorter with AI timing; the runs'
    # other trips differ in mix, so their totals are no test of the lever.
    key = ["replication", "incident_id", "unit", "t_dispatch"]
    units = [pd.concat([logs(city_data, levers, k).units for k in range(3)])
             for levers in (None, lever("ai_signal_timing", 1.0))]
    same = units[0].merge(units[1], on=key, suffixes=("_base", "_ai"))
    assert len(same) > 50
    assert (same["travel_min_ai"] - same["travel_min_base"]).mean() < -0.1
    no_signals = copy.deepcopy(city_data)
    no_signals["operations"]["driving"]["signals"].update(arterial_per_km=0.0, local_per_km=0.0)
    assert_same_logs(logs(no_signals), logs(no_signals, lever("ai_signal_timing", 0.3)))


def test_avl_dispatch_crosses_districts(light_data):
    """avl_dispatch under home_district: no unit crosses a district line without it, some do with it."""
    assert light_data["dispatch"]["policy"] == "home_district"
    base = pd.concat([logs(light_data, None, k).units for k in range(2)])
    smart = pd.concat([logs(light_data, lever("avl_dispatch", 0.5), k).units for k in range(2)])
    assert cross_share(base) == 0.0
    assert cross_share(smart) > 0.02


def test_avl_dispatch_shanghai_arrives_no_later(shanghai_runs):
    """In Shanghai, avl_dispatch alone sends units across districts and does not raise the mean arrival time."""
    base, avl = shanghai_runs["baseline"], shanghai_runs["avl"]
    assert cross_share(base.units) == 0.0 and cross_share(avl.units) > 0.05
    assert mean_arrival([avl]) <= mean_arrival([base]), (mean_arrival([avl]), mean_arrival([base]))


def test_avl_dispatch_full_equals_nearest_policy(small_scenario_data):
    """avl_dispatch at strength 1 under home_district gives exactly the logs of dispatch.policy 'nearest'."""
    nearest = copy.deepcopy(small_scenario_data)
    nearest["dispatch"]["policy"] = "nearest"
    assert_same_logs(logs(small_scenario_data, lever("avl_dispatch", 1.0)), logs(nearest))


def test_video_detection_shortens_crash_reports(city_data):
    """video_detection brings crash calls to at most 1 min after the crash for about its share of crashes."""
    strength = 0.5
    base, smart = logs(city_data).incidents, logs(city_data, lever("video_detection", strength)).incidents
    delay_b = (base["t_call"] - base["t_occur"])[base["crash"] >= 0]
    delay_s = (smart["t_call"] - smart["t_occur"])[smart["crash"] >= 0]
    assert len(delay_b) > 40
    assert delay_s.mean() < delay_b.mean() - 0.5, (delay_s.mean(), delay_b.mean())
    quick_b = (delay_b <= VIDEO_DETECTION_MIN).mean()
    quick_s = (delay_s <= VIDEO_DETECTION_MIN).mean()
    n = len(delay_s)
    expected = quick_b + strength * (1 - quick_b)
    assert abs(quick_s - expected) < 4 * math.sqrt(expected * (1 - expected) / n), (quick_s, expected)
    ordinary_b = (base["t_call"] - base["t_occur"])[base["crash"] < 0].mean()
    ordinary_s = (smart["t_call"] - smart["t_occur"])[smart["crash"] < 0].mean()
    assert ordinary_s == ordinary_b


def test_fast_crash_handling_acts_on_self_clearing(city_data):
    """fast_crash_handling makes drivers clear minor crashes sooner: blockages shorten, and more crash incidents
    end in the short check (4 min) because the drivers were gone before the police came (summed over three
    replications: police arrival times, and so the count in one day, move with the crash queues too)."""
    runs = [(logs(city_data, replication=rep), logs(city_data, lever("fast_crash_handling", 0.4), replication=rep))
            for rep in range(3)]
    base, smart = runs[0]
    minor = [c.loc[c["severity"] == "minor", "blockage_min"] for c in (base.crashes, smart.crashes)]
    assert minor[1].mean() < 0.8 * minor[0].mean()

    def checks(incidents: pd.DataFrame) -> int:
        crash = incidents[(incidents["crash"] >= 0) & incidents["t_clear"].notna() & (incidents["units_needed"] == 1)]
        return int((np.abs(_on_scene(crash) - 4.0) < 1e-9).sum())

    with_lever = sum(checks(s.incidents) for _b, s in runs)
    without = sum(checks(b.incidents) for b, _s in runs)
    assert with_lever > without > 0, (with_lever, without)


def test_parking_guidance_raises_speeds(road_data):
    """parking_guidance (fewer cars cruising on North's arterials) never lowers a logged arterial speed and
    raises the mean; expressways, where nobody cruises, keep theirs."""
    base, smart = logs(road_data).traffic, logs(road_data, lever("parking_guidance", 0.5)).traffic
    assert (smart["arterial_kmh"] >= base["arterial_kmh"] - 1e-9).all()
    assert smart["arterial_kmh"].mean() > base["arterial_kmh"].mean()
    pd.testing.assert_series_equal(smart["expressway_kmh"], base["expressway_kmh"], check_exact=True)
    assert (smart["travel_time_index"] <= base["travel_time_index"] + 1e-9).all()


def test_parking_guidance_needs_cruising(road_data):
    """parking_guidance does nothing where no car searches for parking (search_min 0)."""
    road_data["traffic"]["parking"]["search_min"] = 0.0
    assert_same_logs(logs(road_data), logs(road_data, lever("parking_guidance", 0.5)))


def test_community_diversion_diverts_routine_calls(small_scenario_data):
    """community_diversion diverts more calls, all of its categories, and sends fewer units."""
    base = logs(small_scenario_data)
    smart = logs(small_scenario_data, lever("community_diversion", 0.3))
    diverted_b = base.incidents["resolution"] == "diverted"
    diverted_s = smart.incidents["resolution"] == "diverted"
    assert diverted_s.sum() > diverted_b.sum() + 5
    assert (smart.incidents.loc[diverted_s & ~diverted_b, "category"] == "routine").all()
    assert not (diverted_b & ~diverted_s).any()  # nothing diverted before is sent a unit now
    # Fewer incidents get a unit (freed units may bring a 2-unit incident its second unit sooner, so the
    # count of assignments need not fall).
    assert smart.units["incident_id"].nunique() < base.units["incident_id"].nunique()
    assert not smart.units["incident_id"].isin(smart.incidents.loc[diverted_s, "incident_id"]).any()


def test_prevention_removes_its_share(small_scenario_data):
    """prevention removes about its strength of its categories' incidents (binomial, 4 sd) and no others."""
    strength = 0.259
    kept = before = 0
    for replication in range(3):
        base = logs(small_scenario_data, None, replication).incidents
        smart = logs(small_scenario_data, lever("prevention", strength), replication).incidents
        counts_b, counts_s = base["category"].value_counts(), smart["category"].value_counts()
        assert counts_s["urgent"] == counts_b["urgent"]
        kept, before = kept + counts_s["routine"], before + counts_b["routine"]
    assert before > 200
    sd = math.sqrt(before * strength * (1 - strength))
    assert abs(kept - (1 - strength) * before) < 4 * sd, (kept, before)


def test_crash_prevention_removes_its_share(city_data):
    """prevention's crash_strength removes about that share of crashes (binomial, 4 sd)."""
    strength = 0.3
    prevent = {"prevention": {"strength": 0.0, "crash_strength": strength, "categories": ["routine"]}}
    kept = before = 0
    for replication in range(2):
        kept += len(logs(city_data, prevent, replication).crashes)
        before += len(logs(city_data, None, replication).crashes)
    assert before > 100
    assert abs(kept - (1 - strength) * before) < 4 * math.sqrt(before * strength * (1 - strength)), (kept, before)


def _hot_spot_city(data: dict[str, Any], hot_spot_share: float) -> dict[str, Any]:
    """The scenario with units at posts and hot spots taking `hot_spot_share` of every category's calls."""
    data["fleet"]["idle_at"] = "posts"
    data["geography"] = {"cell_km": 0.5, "hot_spots": {"area_share": 0.05, "seed": 3}}
    for category in data["demand"]["categories"].values():
        category["hot_spot_share"] = hot_spot_share
    return data


def test_predictive_deployment_neutral_on_uniform_demand(light_data):
    """Without hot spots the forecast is the residential surface itself: the lever changes nothing."""
    light_data["fleet"]["idle_at"] = "posts"
    for replication in range(2):
        assert_same_logs(logs(light_data, None, replication),
                         logs(light_data, lever("predictive_deployment", 0.8), replication))
    assert_same_logs(logs(_hot_spot_city(light_data, 0.0)), logs(light_data, lever("predictive_deployment", 0.8)))


def _nearest_post_km(plan: Any, fleet: Any) -> float:
    """Mean distance from each incident to the nearest waiting place of its district's units."""
    gaps = [np.hypot(plan.x_km[i] - fleet.home_x[fleet.home_district == plan.district[i]],
                     plan.y_km[i] - fleet.home_y[fleet.home_district == plan.district[i]]).min()
            for i in range(plan.size)]
    return float(np.mean(gaps))


def test_predictive_deployment_shortens_trips_with_hot_spots(light_data):
    """With hot spots, units waiting at forecast posts are nearer the incidents (every replication's
    incidents, to the nearest post of their district), only about the lever's share of units moves, and
    trips get shorter (pooled over replications)."""
    data = _hot_spot_city(light_data, 0.8)
    strength = 0.7
    base_km = smart_km = 0.0
    for replication in range(6):
        model = CityModel(scenario_of(data, lever("predictive_deployment", strength)), replication)
        base_model = CityModel(scenario_of(data), replication)
        moved = (model.fleet.home_x != base_model.fleet.home_x) | (model.fleet.home_y != base_model.fleet.home_y)
        assert 0 < moved.mean() <= strength + 4 * math.sqrt(strength * (1 - strength) / moved.size)
        assert _nearest_post_km(model.plan, model.fleet) < _nearest_post_km(model.plan, base_model.fleet)
        base_km += logs(data, None, replication).units["travel_km"].sum()
        smart_km += logs(data, lever("predictive_deployment", strength), replication).units["travel_km"].sum()
    assert smart_km < base_km, (smart_km, base_km)


def test_congestion_routing_full_equals_current_routing_without_returns(city_data):
    """With units patrolling in place (no trips home), congestion_routing at 1 equals travel.routing 'current'."""
    city_data["fleet"]["idle_at"] = "where_cleared"
    current = copy.deepcopy(city_data)
    current["travel"]["routing"] = "current"
    for replication in range(3):
        smart = logs(city_data, lever("congestion_routing", 1.0), replication)
        assert not smart.units.equals(logs(city_data, None, replication).units)
        assert_same_logs(smart, logs(current, None, replication))


def test_congestion_routing_full_equals_current_routing(city_data):
    """congestion_routing at strength 1 gives exactly the logs of travel.routing 'current' (units return home)."""
    assert city_data["fleet"]["idle_at"] == "station"
    current = copy.deepcopy(city_data)
    current["travel"]["routing"] = "current"
    for replication in range(5):
        smart = logs(city_data, lever("congestion_routing", 1.0), replication)
        assert_same_logs(smart, logs(current, None, replication))


def test_congestion_routing_idle_off_network(small_scenario_data):
    """congestion_routing changes nothing with straight-line travel (there are no routes to choose)."""
    assert_same_logs(logs(small_scenario_data), logs(small_scenario_data, lever("congestion_routing", 1.0)))


# --------------------------------------------------------------------------- validation


def _levers_file(write_yaml, small_yaml: str, block: str) -> Path:
    return write_yaml("levers.yaml", small_yaml + block)


@pytest.mark.parametrize(("block", "key", "needle"), [
    ("levers:\n  command_centre: {strength: 1.5, location_share: 0.5}\n", "levers.command_centre.strength",
     "less than or equal to 1"),
    ("levers:\n  mobile_terminals:\n    strength: -0.1\n", "levers.mobile_terminals.strength",
     "greater than or equal to 0"),
    ("levers:\n  command_center: {strength: 0.3}\n", "levers.command_center", "Did you mean 'command_centre'"),
    ("levers:\n  community_diversion: {strength: 0.3, categories: [routine, burglary]}\n",
     "levers.community_diversion.categories[1]", "'burglary' is not a demand category"),
    ("levers:\n  prevention: {strength: 0.2, crash_strength: 0.1, categories: [nope]}\n",
     "levers.prevention.categories[0]", "'nope' is not a demand category"),
], ids=["above-1", "negative", "unknown-lever", "unknown-category", "prevention-category"])
def test_bad_lever_is_input_error(block, key, needle, write_yaml, small_yaml, line_of, capsys):
    """A bad lever is an InputError naming file, key path and line; `citysim validate` exits 2 without a traceback."""
    path = _levers_file(write_yaml, small_yaml, block)
    text = path.read_text(encoding="utf-8")
    expected_line = line_of(text, "strength: -0.1") if "-0.1" in block else line_of(text, "levers:") + 1
    with pytest.raises(InputError) as info:
        load_scenario(path)
    error = info.value
    assert error.file == str(path) and error.line == expected_line
    message = str(error)
    assert f"at key '{key}'" in message and needle in message and f"line {expected_line}" in message
    assert main(["validate", str(path)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert str(path) in err and key in err and "Traceback" not in err


def test_good_levers_validate(write_yaml, small_yaml, capsys):
    """A scenario with every lever at its default strength validates (exit 0)."""
    blocks = []
    for name, info in LEVERS.items():
        extra = ", categories: [routine]" if name in ("community_diversion", "prevention") else ""
        extra += ", crash_strength: 0.1" if name == "prevention" else ""
        extra += ", location_share: 0.8" if name == "command_centre" else ""
        blocks.append(f"  {name}: {{strength: {info.default}{extra}}}\n")
    path = _levers_file(write_yaml, small_yaml, "levers:\n" + "".join(blocks))
    assert main(["validate", str(path)]) == 0
    assert "ok" in capsys.readouterr().out


def test_signal_delay_arithmetic():
    """SignalDelay: an ordinary trip keeps its time unless AI timing covers signals; pre-emption changes only
    lights-and-siren trips; the two compose on the same delay (never more than the whole signal delay)."""
    from citysim.city.travel import Trip
    from citysim.config.lever_effects import AI_SIGNAL_DELAY_CUT, LeverEffects
    from citysim.config.operations import Driving
    from citysim.police.driving import SignalDelay

    driving = Driving.model_validate({"lights_and_siren_priorities": [1], "signals": {
        "arterial_per_km": 2.0, "local_per_km": 1.0, "delay_min": 0.4, "lights_siren_share": 0.5}})
    trip = Trip(km=6.0, minutes=12.0, arterial_km=4.0, local_km=1.0)  # 9 signals, 3.6 min of ordinary delay
    plain = SignalDelay(driving, LeverEffects())
    assert plain.signals(trip) == pytest.approx(9.0)
    assert plain.minutes(trip, lights_siren=False) == 12.0
    assert plain.minutes(trip, lights_siren=True) == pytest.approx(12.0 - 1.8)
    preempt = SignalDelay(driving, LeverEffects(preemption_share=1.0))
    assert preempt.minutes(trip, lights_siren=False) == 12.0
    assert preempt.minutes(trip, lights_siren=True) == pytest.approx(12.0 - 3.6)
    both = SignalDelay(driving, LeverEffects(preemption_share=1.0, ai_signal_share=1.0))
    assert both.minutes(trip, lights_siren=True) == pytest.approx(12.0 - 3.6)  # not counted twice
    assert both.minutes(trip, lights_siren=False) == pytest.approx(12.0 - 3.6 * AI_SIGNAL_DELAY_CUT)
    assert SignalDelay(None, LeverEffects(preemption_share=1.0)).minutes(trip, lights_siren=True) == 12.0


def test_too_much_other_work_is_an_input_error(write_yaml, capsys):
    """A rate and run length that would draw millions of task starts are refused at load, naming file and key."""
    from conftest import SMALL_OPERATIONS_YAML, SMALL_SCENARIO_YAML

    text = (SMALL_SCENARIO_YAML + SMALL_OPERATIONS_YAML).replace("duration_min: 600", "duration_min: 100000000")
    path = write_yaml("tasks.yaml", text.replace("starts_per_hour: 0.3", "starts_per_hour: 50"))
    assert main(["validate", str(path)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert str(path) in err and "operations.other_work" in err and "Traceback" not in err

"""Model invariants: determinism, common random numbers, event ordering, unit exclusivity, monotonicity."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citysim.city.geography import DistrictGrid
from citysim.city.loading import load_scenario
from citysim.config import Scenario
from citysim.errors import InputError
from citysim.simulation.logs import RESOLUTIONS, RunLogs
from citysim.simulation.model import simulate_one
from citysim.simulation.replications import simulate

#: The life of an incident, in the order its times must occur.
ORDER = ["t_occur", "t_call", "t_answer", "t_queue", "t_dispatch", "t_arrive", "t_clear", "t_closed"]
#: Columns decided before dispatch: identical across dispatch/fleet variants under CRN.
UPSTREAM = ["incident_id", "category", "priority", "district", "x_km", "y_km", "t_occur", "t_call",
            "t_answer", "t_queue", "units_needed", "warmup"]
EPS = 1e-9


def make(data: dict[str, Any]) -> Scenario:
    return Scenario.model_validate(data)


def check_invariants(logs: RunLogs, scenario: Scenario) -> None:
    """Every structural invariant of a run's logs (raises AssertionError naming the first violation)."""
    inc, units, duty = logs.incidents, logs.units, logs.duty

    # Ordering: every pair of defined times in the life of an incident is in order.
    times = inc[ORDER].to_numpy()
    for i in range(len(ORDER)):
        for j in range(i + 1, len(ORDER)):
            a, b = times[:, i], times[:, j]
            bad = ~np.isnan(a) & ~np.isnan(b) & (a > b + EPS)
            assert not bad.any(), f"{ORDER[i]} > {ORDER[j]} for incidents {inc.loc[bad, 'incident_id'].tolist()[:5]}"
    assert inc["t_occur"].notna().all() and inc["t_call"].notna().all() and inc["t_occur"].ge(0).all()
    assert inc["t_call"].lt(scenario.run.horizon_min).all()
    assert (inc["drain"] == (inc["t_call"] >= scenario.run.duration_min)).all()
    # Closed at or after clearance (ORDER), and closed iff cleared unless the report was still being written.
    assert not (inc["t_closed"].notna() & inc["t_clear"].isna()).any()
    # No stage is reached after a stage that was skipped, except t_clear for phone/diverted calls.
    for earlier, later in [("t_answer", "t_queue"), ("t_queue", "t_dispatch"), ("t_dispatch", "t_arrive"),
                           ("t_answer", "t_clear")]:
        assert not (inc[earlier].isna() & inc[later].notna()).any(), f"{later} without {earlier}"

    # Exactly one resolution each; 'open' iff t_clear is NaN.
    assert inc["resolution"].notna().all()
    assert set(inc["resolution"].astype(str)) <= set(RESOLUTIONS)
    assert ((inc["resolution"] == "open") == inc["t_clear"].isna()).all()
    assert not inc.duplicated(["replication", "incident_id"]).any()
    dispatched = inc["resolution"] == "dispatched"
    # (a report may still be being written at the end of the run: t_closed may be missing)
    assert inc.loc[dispatched, ORDER[:-1]].notna().all().all(), "a dispatched incident lacks a time"
    assert (inc.loc[dispatched, "n_units"] >= 1).all()
    off_phone = inc["resolution"].isin(["phone", "diverted"])
    assert (inc.loc[off_phone, "n_units"] == 0).all()
    assert inc.loc[off_phone, ["t_queue", "t_dispatch", "t_arrive"]].isna().all().all()
    assert (inc["n_units"] <= inc["units_needed"]).all()
    assert ((inc["n_units"] > 0) == inc["t_dispatch"].notna()).all()
    assert ((inc["n_units"] > 0) == inc["first_unit"].notna()).all()
    assert (inc["warmup"] == (inc["t_call"] < scenario.run.warmup_min)).all()

    # Ordinary calls lie on their district's land; crash reports lie on a road (in the district whose
    # land they are on, or the nearest for a bridge).
    grid = DistrictGrid.from_scenario(scenario)
    calls = inc[inc["crash"] < 0]
    code = calls["district"].cat.codes.to_numpy()
    for index, polygon in enumerate(grid.polygons):
        mine = code == index
        assert shapely.contains_xy(polygon.buffer(1e-9), calls["x_km"].to_numpy()[mine],
                                   calls["y_km"].to_numpy()[mine]).all(), grid.names[index]
    lat, lon = grid.projection.to_deg(calls["x_km"].to_numpy(), calls["y_km"].to_numpy())
    assert np.allclose(lat, calls["lat"]) and np.allclose(lon, calls["lon"])
    crashes = inc[inc["crash"] >= 0]
    located = grid.district_of(crashes["x_km"].to_numpy(), crashes["y_km"].to_numpy())
    assert (located == crashes["district"].cat.codes.to_numpy()).all()

    # Unit log: ordered, and a unit never holds two incidents at overlapping times.
    assert (units["t_dispatch"] <= units["t_arrive"].fillna(np.inf) + EPS).all()
    assert (units["t_arrive"].fillna(-np.inf) <= units["t_clear"].fillna(np.inf) + EPS).all()
    assert (units["t_clear"].fillna(-np.inf) <= units["t_free"].fillna(np.inf) + EPS).all()
    assert not (units["t_arrive"].isna() & units["t_clear"].notna()).any()
    assert not (units["t_clear"].isna() & units["t_free"].notna()).any()
    ordered = units.sort_values(["replication", "unit", "t_dispatch"], kind="stable")
    same_unit = (ordered["unit"].to_numpy()[1:] == ordered["unit"].to_numpy()[:-1]) & (
        ordered["replication"].to_numpy()[1:] == ordered["replication"].to_numpy()[:-1])
    previous_end = ordered["t_free"].fillna(np.inf).to_numpy()[:-1]
    overlap = same_unit & (ordered["t_dispatch"].to_numpy()[1:] < previous_end - EPS)
    assert not overlap.any(), "a unit serves two incidents at overlapping times"

    # The unit log agrees with the incident log.
    keyed = inc.set_index(["replication", "incident_id"])
    by_incident = units.groupby(["replication", "incident_id"], sort=False)
    rows = by_incident.size()
    assert (keyed.loc[rows.index, "n_units"].to_numpy() == rows.to_numpy()).all()
    assert int(inc["n_units"].sum()) == len(units)
    first = by_incident.agg(unit=("unit", "first"), t_dispatch=("t_dispatch", "min"), t_arrive=("t_arrive", "min"),
                            clear_min=("t_clear", "min"), clear_max=("t_clear", "max"))
    matched = keyed.loc[first.index]
    assert (matched["first_unit"].to_numpy() == first["unit"].to_numpy()).all()
    assert np.allclose(matched["t_dispatch"], first["t_dispatch"], equal_nan=True)
    assert np.allclose(matched["t_arrive"], first["t_arrive"], equal_nan=True)
    done = (matched["resolution"] == "dispatched").to_numpy()
    assert np.allclose(matched["t_clear"].to_numpy()[done], first["clear_max"].to_numpy()[done])
    assert np.allclose(matched["t_clear"].to_numpy()[done], first["clear_min"].to_numpy()[done])
    avl = scenario.levers.avl_dispatch is not None and scenario.levers.avl_dispatch.strength > 0
    if scenario.dispatch.policy == "home_district" and not avl and all(d.units > 0 for d in scenario.districts):
        assert (units["unit_district"].astype(str) == units["incident_district"].astype(str)).all()

    # A unit is only assigned while on duty, and its duty intervals do not overlap.
    units_i = units.reset_index(drop=True).reset_index(names="row")
    pairs = units_i.merge(duty, on=["replication", "unit"], how="left")
    end = pairs["t_free"].fillna(pairs["t_dispatch"])
    inside = (pairs["t_start"] <= pairs["t_dispatch"] + EPS) & (end <= pairs["t_end"] + EPS)
    covered = inside.groupby(pairs["row"]).any()
    assert covered.reindex(units_i["row"], fill_value=False).all(), "a unit was assigned while off duty"
    d = duty.sort_values(["replication", "unit", "t_start"], kind="stable")
    same = (d["unit"].to_numpy()[1:] == d["unit"].to_numpy()[:-1]) & (
        d["replication"].to_numpy()[1:] == d["replication"].to_numpy()[:-1])
    assert not (same & (d["t_start"].to_numpy()[1:] < d["t_end"].to_numpy()[:-1] - EPS)).any()
    assert (duty["t_start"] <= duty["t_end"] + EPS).all()
    assert (duty["t_end"] <= scenario.run.horizon_min + EPS).all()

    check_other_work(logs)
    check_no_idle_unit_while_waiting(logs, scenario)

    if scenario.call_centre.kind == "none":
        # Equal up to rounding: the clock reaches t_call as now + (t_call - now).
        assert np.allclose(inc["t_answer"], inc["t_call"], rtol=0, atol=EPS)


def _overlaps(a: pd.DataFrame, a_from: str, a_to: str, b: pd.DataFrame, b_from: str, b_to: str) -> pd.DataFrame:
    """Pairs of rows of the same unit and replication whose intervals overlap by more than EPS."""
    pairs = a.merge(b, on=["replication", "unit"], suffixes=("_a", "_b"))
    lo = np.maximum(pairs[a_from], pairs[b_from])
    hi = np.minimum(pairs[a_to].fillna(np.inf), pairs[b_to].fillna(np.inf))
    return pairs[hi - lo > EPS]


def check_other_work(logs: RunLogs) -> None:
    """Spells of other work lie inside a duty interval and never overlap a 110 job or each other."""
    tasks, units, duty = logs.tasks, logs.units, logs.duty
    assert (tasks["t_start"] <= tasks["t_end"] + EPS).all()
    jobs = units[["replication", "unit", "t_dispatch", "t_free"]]
    clash = _overlaps(tasks[["replication", "unit", "t_start", "t_end"]], "t_start", "t_end", jobs, "t_dispatch",
                      "t_free")
    assert clash.empty, f"a unit on other work and a 110 job at once: {clash.head(3).to_dict('records')}"
    spells = tasks.sort_values(["replication", "unit", "t_start"], kind="stable")
    same = (spells["unit"].to_numpy()[1:] == spells["unit"].to_numpy()[:-1]) & (
        spells["replication"].to_numpy()[1:] == spells["replication"].to_numpy()[:-1])
    assert not (same & (spells["t_start"].to_numpy()[1:] < spells["t_end"].to_numpy()[:-1] - EPS)).any()
    pairs = tasks.reset_index(names="row").merge(duty, on=["replication", "unit"], suffixes=("", "_duty"))
    inside = (pairs["t_start_duty"] <= pairs["t_start"] + EPS) & (pairs["t_end"] <= pairs["t_end_duty"] + EPS)
    assert inside.groupby(pairs["row"]).any().reindex(range(len(tasks)), fill_value=False).all(), \
        "other work outside a duty interval"


def check_no_idle_unit_while_waiting(logs: RunLogs, scenario: Scenario) -> None:
    """While an incident waits for its first unit, no on-duty unit that may serve it is idle (or on other
    work it may leave: `on_dispatch: interrupt`)."""
    ops = scenario.operations
    locked = {t.name for t in ops.other_work if t.on_dispatch == "unavailable"} if ops else set()
    end = scenario.run.horizon_min
    home_policy = scenario.dispatch.policy == "home_district"
    for rep, inc in logs.incidents.groupby("replication"):
        units = logs.units[logs.units["replication"] == rep]
        duty = logs.duty[logs.duty["replication"] == rep]
        waited = inc[inc["t_queue"].notna() & ~(inc["t_dispatch"] <= inc["t_queue"] + EPS)]
        stop = waited["t_dispatch"].fillna(end).to_numpy()
        start = waited["t_queue"].to_numpy()
        middle = (start + stop) / 2  # a generic instant of the wait (its ends may be event ties)
        districts = waited["district"].astype(str).to_numpy()
        tasks = logs.tasks[(logs.tasks["replication"] == rep) & logs.tasks["task"].astype(str).isin(locked)]
        u_unit = np.concatenate([units["unit"].to_numpy(), tasks["unit"].to_numpy()])
        u_from = np.concatenate([units["t_dispatch"].to_numpy(), tasks["t_start"].to_numpy()])
        u_to = np.concatenate([units["t_free"].fillna(np.inf).to_numpy(), tasks["t_end"].to_numpy()])
        d_unit, d_from, d_to = duty["unit"].to_numpy(), duty["t_start"].to_numpy(), duty["t_end"].to_numpy()
        d_district = duty["unit_district"].astype(str).to_numpy()
        for tau, district, span in zip(middle, districts, stop - start, strict=True):
            if span < 1e-6:
                continue
            on = (d_from < tau) & (d_to > tau)
            if home_policy:
                on &= d_district == district
            busy = set(u_unit[(u_from <= tau) & (u_to > tau)].tolist())
            idle = set(d_unit[on].tolist()) - busy
            assert not idle, f"units {sorted(idle)[:5]} idle at t={tau:.3f} while an incident in {district} waits"


def assert_logs_equal(a: RunLogs, b: RunLogs) -> None:
    pd.testing.assert_frame_equal(a.incidents, b.incidents, check_exact=True)
    pd.testing.assert_frame_equal(a.units, b.units, check_exact=True)
    pd.testing.assert_frame_equal(a.duty, b.duty, check_exact=True)
    pd.testing.assert_frame_equal(a.tasks, b.tasks, check_exact=True)


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_logs(small_scenario_data):
    """The same scenario, seed and replication give bit-identical incident, unit and duty logs."""
    scenario = make(small_scenario_data)
    first, second = simulate_one(scenario, 1), simulate_one(scenario, 1)
    assert len(first.logs.incidents) > 50 and len(first.logs.units) > 20
    assert_logs_equal(first.logs, second.logs)
    assert first.monitors == second.monitors


def test_replications_and_seeds_differ(small_scenario_data):
    """Different replications (and different root seeds) draw different incidents."""
    scenario = make(small_scenario_data)
    rep0, rep1 = simulate_one(scenario, 0).logs.incidents, simulate_one(scenario, 1).logs.incidents
    other_seed = simulate_one(scenario, 0, seed=scenario.run.seed + 1).logs.incidents
    for other in (rep1, other_seed):
        assert len(rep0) != len(other) or not np.array_equal(rep0["t_call"], other["t_call"])
        n = min(len(rep0), len(other))
        assert not np.array_equal(rep0["x_km"][:n], other["x_km"][:n])


def test_replication_does_not_depend_on_how_many_are_run(small_scenario_data):
    """Replication k of simulate(n) is the same as simulating replication k alone."""
    scenario = make(small_scenario_data)
    sim = simulate(scenario, replications=3)
    alone = simulate_one(scenario, 2).logs.incidents
    part = sim.logs.incidents[sim.logs.incidents["replication"] == 2].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, alone, check_exact=True)
    assert sorted(sim.kpis["replication"].unique()) == [0, 1, 2]


def test_explicit_seed_equals_scenario_seed(small_scenario_data):
    """Passing the scenario's own seed explicitly changes nothing."""
    scenario = make(small_scenario_data)
    assert_logs_equal(simulate_one(scenario, 0).logs, simulate_one(scenario, 0, seed=scenario.run.seed).logs)


# --------------------------------------------------------------------------- common random numbers


def _variants(base: dict[str, Any]) -> dict[str, dict[str, Any]]:
    nearest = copy.deepcopy(base)
    nearest["dispatch"]["policy"] = "nearest"
    more_units = copy.deepcopy(base)
    for district in more_units["districts"]:
        district["units"] *= 2
    fewer_units = copy.deepcopy(base)
    for district in fewer_units["districts"]:
        district["units"] = 1
    patrol = copy.deepcopy(base)
    patrol["fleet"]["idle_at"] = "where_cleared"
    return {"nearest": nearest, "more_units": more_units, "fewer_units": fewer_units, "patrol": patrol}


@pytest.mark.parametrize("variant", ["nearest", "more_units", "fewer_units", "patrol"])
def test_common_random_numbers(small_scenario_data, variant):
    """Scenarios differing only in dispatch policy or units see identical incidents (times, places, kinds)."""
    base = make(small_scenario_data)
    other = make(_variants(small_scenario_data)[variant])
    for replication in (0, 3):
        a = simulate_one(base, replication).logs.incidents
        b = simulate_one(other, replication).logs.incidents
        pd.testing.assert_frame_equal(a[UPSTREAM], b[UPSTREAM], check_exact=True)
        off_phone_a = a["resolution"].isin(["phone", "diverted"])
        assert (off_phone_a == b["resolution"].isin(["phone", "diverted"])).all()
    # ... while what happens after dispatch does change.
    assert not a[["t_dispatch", "t_arrive", "t_clear"]].equals(b[["t_dispatch", "t_arrive", "t_clear"]])


# --------------------------------------------------------------------------- properties on random scenarios


@st.composite
def small_scenarios(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """Random small valid scenarios around the shared small one."""
    data = copy.deepcopy(base)
    n = draw(st.integers(1, 3))
    policy = draw(st.sampled_from(["home_district", "nearest"]))
    weights = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n).filter(lambda w: sum(w) > 0))
    min_units = 1 if policy == "home_district" else 0
    units = draw(st.lists(st.integers(min_units, 5), min_size=n, max_size=n).filter(lambda u: sum(u) > 0))
    districts = []
    for k in range(n):
        districts.append({
            "name": f"D{k}", "population": 1000, "area_km2": draw(st.sampled_from([2.0, 25.0, 80.0])),
            "lat": 31.2 + 0.1 * k, "lon": 121.4 + 0.1 * k, "call_share": weights[k] / sum(weights),  # discs 15 km apart
            "stations": draw(st.integers(1, 3)), "units": units[k],
        })
    data["districts"] = districts
    data["dispatch"]["policy"] = policy
    data["demand"]["calls_per_day"] = draw(st.sampled_from([30, 200, 600, 1500, 4000]))
    categories = data["demand"]["categories"]
    categories["urgent"]["units_needed"] = draw(st.integers(1, 2))
    categories["routine"]["units_needed"] = draw(st.integers(1, 2))
    if draw(st.booleans()):
        categories["urgent"]["scene"] = {"dist": "fixed", "value_min": draw(st.sampled_from([0, 5, 40]))}
    if draw(st.booleans()):  # a night/day roster ...
        night, day = draw(st.sampled_from([0.0, 0.3, 0.5, 1.0])), draw(st.sampled_from([0.0, 0.5, 0.8, 1.0]))
        data["fleet"]["on_duty_fraction_by_hour"] = [night] * 7 + [day] * 12 + [night] * 5
    else:  # ... or one that changes every hour (shift changes while units are busy)
        data["fleet"]["on_duty_fraction_by_hour"] = draw(
            st.lists(st.sampled_from([0.0, 0.2, 0.5, 0.7, 1.0]), min_size=24, max_size=24))
    data["fleet"]["idle_at"] = draw(st.sampled_from(["station", "posts", "where_cleared"]))
    if draw(st.booleans()):  # a demand surface with density and hot spots
        data["geography"] = {"cell_km": draw(st.sampled_from([0.3, 1.0])),
                             "density": {"centre": [31.2, 121.4], "decay_km": 5.0},
                             "hot_spots": {"area_share": 0.1, "seed": draw(st.integers(0, 5))}}
        for category in categories.values():
            category["hot_spot_share"] = draw(st.sampled_from([0.0, 0.5, 1.0]))
    if draw(st.booleans()):
        data["call_centre"] = {"kind": "none"}
        for category in categories.values():
            del category["talk"]
    else:
        data["call_centre"]["call_takers_by_hour"] = draw(
            st.lists(st.integers(0, 3), min_size=24, max_size=24).filter(lambda takers: max(takers) > 0))
    if draw(st.booleans()):
        data["travel"] = {"kind": "instant"}
    data["dispatch"]["decision_delay"] = draw(st.sampled_from(
        [{"dist": "fixed", "value_min": 0}, {"dist": "lognormal", "mean_min": 0.6, "cv": 0.5}]))
    duration = draw(st.sampled_from([120.0, 400.0, 700.0, 1500.0]))
    data["run"] = {"seed": draw(st.integers(0, 2**32)), "start_clock_h": draw(st.sampled_from([0, 5.5, 18, 23.75])),
                   "duration_min": duration, "warmup_min": draw(st.sampled_from([0.0, 30.0]))}
    return data


@pytest.fixture(scope="module")
def scenario_strategy(scenario_data):
    return small_scenarios(scenario_data())


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_invariants_hold_on_random_scenarios(scenario_strategy, data):
    """Random small scenarios: times ordered, one resolution each, no double-booked or idle-while-waiting unit."""
    scenario = make(data.draw(scenario_strategy))
    result = simulate_one(scenario, data.draw(st.integers(0, 5)))
    check_invariants(result.logs, scenario)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_scenarios_are_deterministic(scenario_strategy, data):
    """On random small scenarios, running twice gives identical logs."""
    scenario = make(data.draw(scenario_strategy))
    assert_logs_equal(simulate_one(scenario, 0).logs, simulate_one(scenario, 0).logs)


# --------------------------------------------------------------------------- monotonicity


def _censored_mean_arrival(logs: RunLogs, end: float) -> float:
    """Mean call-to-arrival time of post-warm-up incidents needing a unit; no arrival counts as `end`."""
    inc = logs.incidents
    needing = inc[~inc["warmup"] & inc["resolution"].isin(["dispatched", "open"])]
    return float((needing["t_arrive"].fillna(end) - needing["t_call"]).mean())


@pytest.mark.parametrize("policy", ["home_district", "nearest"])
def test_more_units_do_not_slow_arrival(small_scenario_data, policy):
    """With CRN, more units never give a longer mean time to arrival (censored at the end of the run)."""
    data = small_scenario_data
    data["run"].update(duration_min=1440.0, warmup_min=60.0)
    data["demand"]["calls_per_day"] = 300
    data["dispatch"]["policy"] = policy
    means = []
    for north, south in [(3, 2), (4, 3), (6, 4), (8, 6)]:
        data["districts"][0]["units"], data["districts"][1]["units"] = north, south
        scenario = make(data)
        means.append([_censored_mean_arrival(simulate_one(scenario, k).logs, 1440.0) for k in range(4)])
    means_array = np.array(means)  # rows: fleet size, columns: replication
    # Per replication (paired by CRN) and on average, each step up in units does not increase arrival time.
    assert (np.diff(means_array, axis=0) <= 1e-9).all(), means_array.round(1)
    assert means_array[-1].mean() < 0.5 * means_array[0].mean()


def test_mean_arrival_kpi_falls_with_units_when_not_overloaded(small_scenario_data):
    """In a stable (not overloaded) regime, the arrival_min_mean KPI falls when units are added."""
    data = small_scenario_data
    data["run"].update(duration_min=1440.0, warmup_min=60.0)
    data["demand"]["calls_per_day"] = 200
    kpi = []
    for units in (4, 8):
        data["districts"][0]["units"], data["districts"][1]["units"] = units, units
        kpis = simulate(make(data), replications=3).kpis
        rows = kpis[(kpis["kpi"] == "arrival_min_mean") & (kpis["priority"] == "all")]
        kpi.append(rows["value"].to_numpy())
    assert (kpi[1] <= kpi[0]).all(), kpi


# --------------------------------------------------------------------------- edge cases found while testing


def test_zero_call_takers_rejected_or_runs(write_yaml, small_yaml):
    """A staffed centre with no call-takers at all is either refused at load time or simulated."""
    twos, zeros = str([2] * 24), str([0] * 24)
    assert twos in small_yaml
    path = write_yaml("nobody.yaml", small_yaml.replace(twos, zeros))
    try:
        scenario = load_scenario(path)
    except InputError:
        return
    assert max(scenario.call_centre.call_takers_by_hour) == 0
    simulate_one(scenario, 0)


def test_kpis_labelled_with_replication_even_without_incidents(small_scenario_data):
    """KPI rows carry their own replication number even when a replication had no incidents."""
    small_scenario_data["demand"]["calls_per_day"] = 1e-6
    sim = simulate(make(small_scenario_data), replications=3)
    assert len(sim.logs.incidents) == 0
    assert sorted(sim.kpis["replication"].unique()) == [0, 1, 2]


def test_no_incidents_is_fine(small_scenario_data):
    """A run in which no incident happens yields empty logs with the right columns, not an error."""
    small_scenario_data["demand"]["calls_per_day"] = 1e-6
    result = simulate_one(make(small_scenario_data), 0)
    assert len(result.logs.incidents) == 0 and len(result.logs.units) == 0
    check_invariants(result.logs, make(small_scenario_data))


# --------------------------------------------------------------------------- the Shanghai baseline


@pytest.fixture(scope="module")
def shanghai_runs(shanghai_path):
    """Two runs of the Shanghai baseline, 2 h warm-up + 12 h and a 1 h drain (the whole day's invariants are
    checked on every shipped file in test_shipped_invariants.py; here the point is repeating a run)."""
    scenario = load_scenario(shanghai_path)
    scenario = scenario.model_copy(update={"run": scenario.run.model_copy(update={"duration_min": 840.0,
                                                                                   "drain_min": 60.0})})
    return scenario, simulate_one(scenario, 0), simulate_one(scenario, 0)


def test_shanghai_deterministic(shanghai_runs):
    """Two runs of the Shanghai baseline (same seed, replication 0) are bit-identical."""
    _scenario, first, second = shanghai_runs
    assert len(first.logs.incidents) > 10_000
    assert_logs_equal(first.logs, second.logs)


def test_shanghai_invariants(shanghai_runs):
    """The Shanghai baseline run satisfies every ordering, resolution and unit-exclusivity invariant."""
    scenario, first, _second = shanghai_runs
    check_invariants(first.logs, scenario)
    resolutions = first.logs.incidents["resolution"].value_counts()
    assert resolutions["dispatched"] > 0.3 * len(first.logs.incidents)

"""Bus trunk lines (transit groundwork): the schema, the KPI formulas, each lever moving its own metric,
bunching growing along a line, and the police logs never touched by buses."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import citysim
from citysim.city.context import city_context
from citysim.city.geography import DistrictGrid
from citysim.city.network import RoadNetwork
from citysim.config.levers import LEVERS, PUBLIC_TRANSPORT, Lever
from citysim.config.schema import Scenario
from citysim.errors import InputError
from citysim.simulation.logs import RunLogs
from citysim.simulation.transit import preemption_per_signal_hour, simulate_transit, transit_kpis
from citysim.simulation.transit_kpis import headway_cv, informed_wait, random_wait
from conftest import SMALL_OPS_SCENARIO_YAML

DATA = Path(__file__).resolve().parent / "data"

#: One line on the tiny network's lattice, west of its river, with a lane over most of it.
TRANSIT_YAML = textwrap.dedent("""\
    transit:
      lines:
        - {name: Test line, from_lat_lon: [31.180, 121.385], to_lat_lon: [31.220, 121.415], stop_spacing_km: 0.5,
           peak_headway_min: 3, offpeak_headway_min: 5, boardings_per_day: 40000, bus_lane_km: [0.0, 5.0]}
      service_hours: [5, 22]
      peak_hours: [7, 8, 17, 18]
      boarding_share_by_hour: [0.0, 0.0, 0.0, 0.0, 0.0, 0.01, 0.03, 0.10, 0.10, 0.07, 0.05, 0.05,
                               0.05, 0.05, 0.05, 0.06, 0.07, 0.10, 0.09, 0.05, 0.03, 0.02, 0.02, 0.0]
      bus_time_factor: 1.5
      bus_lane_kmh: 30
      running_time_cv: 0.1
      departure_cv: 0.2
      dwell_dead_s: 6
      boarding_s: 2.5
      accel_decel_s: 10
      control_stop_every: 6
      informed_margin_min: 1.0
      uninformed_perception: 1.15
      bunching_threshold: 0.25
      preemption_block_min: 1.5
    """)


def _data(transit: bool = True) -> dict[str, Any]:
    data = yaml.safe_load(SMALL_OPS_SCENARIO_YAML)
    data.update(yaml.safe_load((DATA / "tiny_network.yaml").read_text(encoding="utf-8")))
    if transit:
        data.update(yaml.safe_load(TRANSIT_YAML))
    return data


@pytest.fixture(scope="module")
def base() -> Scenario:
    return citysim.Scenario.model_validate(_data())


#: The public-transport levers (they sit under `levers:` with the others).
TRANSIT_LEVERS = {name: info for name, info in LEVERS.items() if info.service == PUBLIC_TRANSPORT}


def with_levers(scenario: Scenario, **strengths: float) -> Scenario:
    levers = scenario.levers.model_copy(update={name: Lever(strength=s) for name, s in strengths.items()})
    return scenario.model_copy(update={"levers": levers})


def with_police_lever(scenario: Scenario, name: str, strength: float) -> Scenario:
    levers = scenario.levers.model_copy(update={name: Lever(strength=strength)})
    return scenario.model_copy(update={"levers": levers})


def kpis(scenario: Scenario, logs: RunLogs | None = None) -> pd.Series:
    return transit_kpis(scenario, 0, logs).set_index("metric")["value"]


# --- schema -------------------------------------------------------------------------------------------


def test_unknown_transit_key_is_a_clear_error(write_yaml):
    data = _data()
    data["transit"]["dwell_deadtime_s"] = 6
    path = write_yaml("scenario.yaml", data)
    with pytest.raises(InputError, match="dwell_deadtime_s"):
        citysim.load_scenario(path)


def test_unknown_transit_lever_is_an_error():
    data = _data()
    data["levers"] = {"bus_signal_priorty": {"strength": 0.3}}
    with pytest.raises(ValueError, match="bus_signal_priorty"):
        citysim.Scenario.model_validate(data)


def test_transit_needs_the_road_network(small_scenario_data, write_yaml):
    data = small_scenario_data
    data.update(yaml.safe_load(TRANSIT_YAML))
    with pytest.raises(InputError, match="buses run on the road network"):
        citysim.load_scenario(write_yaml("scenario.yaml", data))


def test_the_transit_levers_cannot_reach_the_police():
    assert set(TRANSIT_LEVERS) == {"bus_signal_priority", "bus_lanes", "bus_realtime_info", "bus_holding"}
    assert not any(info.reaches_police for info in TRANSIT_LEVERS.values())


def test_shipped_scenarios_have_transit():
    root = Path(__file__).resolve().parents[1] / "scenarios" / "shanghai"
    baseline, smart = (citysim.load_scenario(root / f"{n}.yaml") for n in ("baseline", "smart"))
    assert baseline.transit is not None and smart.transit is not None
    assert all(getattr(baseline.levers, n) is None for n in TRANSIT_LEVERS)
    for name, info in TRANSIT_LEVERS.items():
        lever = getattr(smart.levers, name)
        assert lever is not None and lever.strength == info.default


# --- KPI formulas -------------------------------------------------------------------------------------


def test_excess_wait_formula_on_a_constructed_case():
    """Headways 10,10,10,28,1,1: effective headway 18.1 (wait 9.05 min) = H/2 (1 + CV^2); EWT = 9.05 - 5."""
    h = np.array([10.0, 10, 10, 28, 1, 1])
    wait = random_wait(h)
    assert wait == pytest.approx(1086 / 120)
    assert wait == pytest.approx(h.mean() / 2 * (1 + (h.std() / h.mean()) ** 2))
    assert wait - random_wait(np.full(6, 10.0)) == pytest.approx(9.05 - 5.0)
    even = np.full(6, 10.0)
    assert random_wait(even) == pytest.approx(5.0)
    assert headway_cv(even, even) == 0.0
    assert informed_wait(even, 1.0) == pytest.approx(1.0)
    assert informed_wait(np.array([1.0]), 1.0) == pytest.approx(0.5)  # headway below 2 x margin: h / 2


# --- buses and levers ---------------------------------------------------------------------------------


def test_headway_cv_grows_along_the_line_and_holding_reduces_it(base):
    plain = kpis(base)
    assert plain["headway_cv_last_stop"] > plain["headway_cv_first_stop"] + 0.1
    held = kpis(with_levers(base, bus_holding=0.5))
    assert held["headway_cv"] < plain["headway_cv"]
    assert held["headway_cv_last_stop"] < plain["headway_cv_last_stop"]
    assert held["excess_wait_min"] < plain["excess_wait_min"]
    assert held["bunched_share"] <= plain["bunched_share"]
    assert held["held_min_per_trip"] > 0 and plain["held_min_per_trip"] == 0


def test_signal_priority_cuts_run_time(base):
    plain, tsp = kpis(base), kpis(with_levers(base, bus_signal_priority=0.33))
    assert tsp["bus_run_time_min"] < plain["bus_run_time_min"]


def test_bus_lanes_speed_up_the_peak(base):
    plain, lanes = kpis(base), kpis(with_levers(base, bus_lanes=1.0))
    assert lanes["bus_speed_peak_kmh"] > plain["bus_speed_peak_kmh"]
    assert lanes["bus_run_time_min"] <= plain["bus_run_time_min"]


def test_realtime_info_cuts_actual_and_perceived_wait_not_the_service(base):
    plain, rti = kpis(base), kpis(with_levers(base, bus_realtime_info=0.3))
    assert rti["actual_wait_min"] < plain["actual_wait_min"]
    assert rti["perceived_wait_min"] < plain["perceived_wait_min"]
    for metric in ("excess_wait_min", "headway_cv", "bus_run_time_min", "boardings"):
        assert rti[metric] == plain[metric]  # information changes the passengers, not the buses


def test_strength_zero_equals_no_lever(base):
    zero = with_levers(base, **{name: 0.0 for name in TRANSIT_LEVERS})
    pd.testing.assert_series_equal(kpis(zero), kpis(base))


def _fake_logs(trips: int, km: float) -> RunLogs:
    incidents = pd.DataFrame({"incident_id": np.arange(trips), "priority": np.ones(trips, dtype=int)})
    units = pd.DataFrame({"incident_id": np.arange(trips), "travel_km": np.full(trips, km)})
    empty = pd.DataFrame()
    return RunLogs(incidents, units, empty, empty, empty, empty)


def test_preemption_takes_away_part_of_bus_priority(base):
    tsp = with_levers(base, bus_signal_priority=0.33)
    busy = _fake_logs(2_000, 5.0)  # more lights-and-siren driving than the small city has
    without = simulate_transit(tsp, 0, busy)
    assert without.priority_lost_share == 0.0  # no pre-emption lever: no conflict
    pre = with_police_lever(tsp, "signal_preemption", 1.0)
    conflict = simulate_transit(pre, 0, busy)
    assert conflict.preemption_per_signal_hour == pytest.approx(
        preemption_per_signal_hour(pre, busy, _network(pre)))
    assert 0.0 < conflict.priority_lost_share < 1.0
    assert kpis(pre, busy)["bus_run_time_min"] > kpis(tsp, busy)["bus_run_time_min"]


def _network(scenario: Scenario) -> RoadNetwork:
    return city_context(scenario, DistrictGrid.from_scenario(scenario)).network


def test_buses_never_change_the_police_logs():
    """Police logs with no transit block, with transit at strength 0 and with every transit lever at 1 are
    identical (buses run after the police and draw from their own streams)."""
    plain = citysim.Scenario.model_validate(_data(transit=False))
    with_transit = citysim.Scenario.model_validate(_data())
    runs = []
    for scenario in (plain, with_levers(with_transit, **{n: 0.0 for n in TRANSIT_LEVERS}),
                     with_levers(with_transit, **{n: 1.0 for n in TRANSIT_LEVERS})):
        result = citysim.simulate(scenario, replications=1)
        if scenario.transit is not None:
            transit_kpis(scenario, 0, result.logs)
        runs.append(result.logs)
    for logs in runs[1:]:
        for name in ("incidents", "units", "duty", "traffic", "crashes", "tasks"):
            pd.testing.assert_frame_equal(getattr(logs, name), getattr(runs[0], name))


def test_poisson_inverse_matches_the_poisson_distribution():
    from scipy.stats import poisson

    from citysim.city.buses import poisson_inverse

    u = np.random.default_rng(7).random(20_000)
    for mean in (0.3, 4.0, 30.0):
        counts = np.array([poisson_inverse(x, mean) for x in u])
        assert counts.mean() == pytest.approx(mean, rel=0.03)
        assert counts.var() == pytest.approx(mean, rel=0.06)
        assert poisson_inverse(0.5, mean) == int(poisson.ppf(0.5, mean))
    assert poisson_inverse(0.5, 0.0) == 0
    assert abs(poisson_inverse(0.5, 1e4) - 1e4) < 2

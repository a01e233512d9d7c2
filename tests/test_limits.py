"""Bounded memory and time on any input, and no silent nonsense (config/limits.py, docs/limits.md).

One test per finding of the hostile review: each value that grew memory or time without bound, gave a
traceback, or ran to NaN KPIs is now an InputError (exit 2, one paragraph naming file, key, estimate and
limit) found before anything big is allocated, or a warning. The last tests run `citysim validate` in a
subprocess under an address-space cap over many hostile values at once.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from citysim.analysis.load_warnings import load_warnings
from citysim.cli import EXIT_BAD_INPUT, main
from citysim.config import limits
from citysim.config.limits import (
    MAX_INCIDENTS,
    MAX_NETWORK_NODES,
    MAX_REPLICATION_DAYS,
    MAX_TRAFFIC_STEPS,
    estimate_run,
)
from citysim.errors import InputError

REPO_ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = REPO_ROOT / "scenarios" / "shanghai" / "baseline.yaml"


def _child_of_shanghai(tmp_path: Path, name: str, body: str) -> Path:
    """A scenario that extends the Shanghai baseline and overrides `body` (YAML text)."""
    path = tmp_path / name
    path.write_text(f"extends: {SHANGHAI}\n{body}", encoding="utf-8")
    return path


def _small(write_yaml, data, name: str = "hostile.yaml") -> Path:
    return write_yaml(name, data)


def _refused(capsys, path: Path, *needles: str) -> str:
    """`citysim validate path` exits 2 with one paragraph naming the file and every needle."""
    started = time.perf_counter()
    assert main(["validate", str(path)]) == EXIT_BAD_INPUT
    assert time.perf_counter() - started < 10, "refused, but only after building something big"
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"Error in {path}" in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


def test_huge_district_area_is_refused(write_yaml, small_scenario_data, capsys):
    """Finding: area_km2 1e9 grew `validate` to 23.8 GB."""
    small_scenario_data["districts"][0]["area_km2"] = 1e9
    _refused(capsys, _small(write_yaml, small_scenario_data), "districts[0].area_km2", "100000")


def test_a_city_of_the_largest_allowed_area_still_fits_in_the_cell_limit(write_yaml, small_scenario_data, capsys):
    """Areas below the schema bound but spread so wide that the demand surface is too big: the estimate
    refuses them from the file alone, naming the cell count and the limit."""
    for district, lon in zip(small_scenario_data["districts"], (120.4, 122.6), strict=True):
        district.update(area_km2=60_000.0, lon=lon)
    _refused(capsys, _small(write_yaml, small_scenario_data), "cells", f"limit of {limits.MAX_DEMAND_CELLS:,}")


def test_polar_latitude_is_refused(write_yaml, small_scenario_data, capsys):
    """Finding: a district at latitude 89 passed, using 7.4 GB."""
    small_scenario_data["districts"] = small_scenario_data["districts"][:1]
    small_scenario_data["districts"][0].update(lat=89.0, call_share=1.0)
    _refused(capsys, _small(write_yaml, small_scenario_data), "districts[0].lat", "beyond 72 degrees")


def test_tiny_lattice_spacing_is_refused_by_its_node_estimate(tmp_path, capsys):
    """Finding: a road-node spacing of 1e-5 km made `validate` run 73 s at 16 GB."""
    path = _child_of_shanghai(tmp_path, "grid.yaml", "network:\n  grid: {inner_radius_km: 16, "
                              "inner_spacing_km: 1.0e-5, outer_spacing_km: 6, lanes: 2}\n")
    _refused(capsys, path, "network.grid.inner_spacing_km", f"limit of {MAX_NETWORK_NODES:,}", "nodes")


def test_ring_node_spacing_and_many_rings_are_refused(tmp_path, capsys):
    """Ring spacing below the schema floor is refused; within it, many fine rings are refused by the node
    estimate (radials alike: 50 fine radials asked for a 63.5 GiB all-pairs matrix)."""
    tiny = _child_of_shanghai(tmp_path, "tiny.yaml", "network:\n  rings:\n"
                              "    - {name: R, radius_km: 10, lanes: 2, node_spacing_km: 1.0e-5}\n")
    _refused(capsys, tiny, "network.rings[0].node_spacing_km")
    rings = "".join(f"    - {{name: R{i}, radius_km: {150 + i}, lanes: 2, node_spacing_km: 0.1}}\n" for i in range(10))
    _refused(capsys, _child_of_shanghai(tmp_path, "rings.yaml", f"network:\n  rings:\n{rings}"),
             "network.rings[", "node_spacing_km", "nodes")
    radials = "".join(f"    - {{name: R{i}, bearing_deg: {i}, length_km: 200, lanes: 2, node_spacing_km: 0.1}}\n"
                      for i in range(50))
    _refused(capsys, _child_of_shanghai(tmp_path, "radials.yaml", f"network:\n  radials:\n{radials}"),
             "network.radials[", "nodes")


def test_huge_ring_radius_is_an_error_not_a_traceback(tmp_path, capsys):
    """Finding: a ring radius of 1e5 km gave a traceback."""
    path = _child_of_shanghai(tmp_path, "ring.yaml", "network:\n  rings:\n"
                              "    - {name: R, radius_km: 1.0e5, lanes: 2, node_spacing_km: 3}\n")
    _refused(capsys, path, "network.rings[0].radius_km")


def test_real_node_count_is_checked_again_on_the_built_lattice(shanghai_path, monkeypatch):
    """The estimate works from area_km2; a GeoJSON's land can hold more lattice points, so the city layer
    counts the real nodes before triangulating (here with the limit lowered below Shanghai's 490)."""
    from citysim.city import network as network_module
    from citysim.city.geography import DistrictGrid
    from citysim.config import load_document, validate_schema

    scenario = validate_schema(load_document(shanghai_path), shanghai_path)
    monkeypatch.setattr(network_module, "MAX_NETWORK_NODES", 100)
    assert scenario.network is not None
    with pytest.raises(InputError, match="limit of 100") as caught:
        network_module.build_network(scenario.network, DistrictGrid.from_scenario(scenario))
    assert caught.value.key_path == ("network", "grid")


def test_endless_duration_is_refused_before_the_run(write_yaml, small_scenario_data, tmp_path, capsys):
    """Finding: run.duration_min 1e12 died with MemoryError after 42 s (the incident limit came too late)."""
    small_scenario_data["run"]["duration_min"] = 1e12
    path = _small(write_yaml, small_scenario_data)
    _refused(capsys, path, "run.duration_min", f"limit of {MAX_INCIDENTS:,}", "incidents")
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    assert "Traceback" not in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_tiny_traffic_refresh_is_refused(tmp_path, capsys):
    """Finding: a traffic refresh of 1e-6 min made `run` hang."""
    path = _child_of_shanghai(tmp_path, "refresh.yaml", "traffic:\n  refresh_min: 1.0e-6\n")
    _refused(capsys, path, "traffic.refresh_min", f"limit of {MAX_TRAFFIC_STEPS:,}", "1,800,000,000")
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    assert "traffic.refresh_min" in capsys.readouterr().err


def test_absurd_crash_rate_is_refused_at_once_naming_the_file(tmp_path, capsys):
    """Finding: crashes_per_day 1e8 was refused only after 15 s and 4 GB, naming no file."""
    path = _child_of_shanghai(tmp_path, "crash.yaml", "crashes:\n  crashes_per_day: 1.0e8\n")
    _refused(capsys, path, "crashes.crashes_per_day", f"limit of {MAX_INCIDENTS:,}", "line 3")


def test_no_unit_ever_on_duty_is_an_error(write_yaml, small_scenario_data, capsys):
    """Finding: no unit ever on duty was accepted with exit 0 and NaN KPIs. Also when rounding leaves none."""
    small_scenario_data["fleet"]["on_duty_fraction_by_hour"] = [0.0] * 24
    _refused(capsys, _small(write_yaml, small_scenario_data), "fleet.on_duty_fraction_by_hour", "no unit is ever")
    small_scenario_data["fleet"]["on_duty_fraction_by_hour"] = [0.1] * 24  # round(4 x 0.1) = round(3 x 0.1) = 0
    _refused(capsys, _small(write_yaml, small_scenario_data, "rounded.yaml"), "no unit is ever on duty")


def test_crawling_access_speed_is_an_error(tmp_path, capsys):
    """Finding: an access speed of 1e-9 km/h was accepted with NaN KPIs."""
    path = _child_of_shanghai(tmp_path, "access.yaml", "travel:\n  access_speed_kmh: 1.0e-9\n")
    _refused(capsys, path, "travel.access_speed_kmh", "slower than walking")


def test_run_shorter_than_one_call_interval_is_an_error(write_yaml, small_scenario_data, capsys):
    """Finding: a duration of 1e-9 min (shorter than one call interval) was accepted with NaN KPIs."""
    small_scenario_data["run"].update(duration_min=1e-9, warmup_min=0)
    _refused(capsys, _small(write_yaml, small_scenario_data), "run.duration_min", "one mean interval between calls")


def test_extends_through_a_symlink_loop_is_an_input_error(tmp_path, capsys):
    """Finding: `extends:` pointing at a symlink that loops gave a traceback."""
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    child = tmp_path / "child.yaml"
    child.write_text("extends: a.yaml\nname: looped\n", encoding="utf-8")
    _refused(capsys, child, "at key 'extends'", "line 1", "a.yaml")
    assert main(["validate", str(tmp_path / "a.yaml")]) == EXIT_BAD_INPUT  # the loop named directly
    err = capsys.readouterr().err
    assert "Traceback" not in err and "a.yaml" in err
    (tmp_path / "folder.yaml").mkdir()
    child.write_text("extends: folder.yaml\nname: folder\n", encoding="utf-8")
    _refused(capsys, child, "is a folder")


@pytest.mark.parametrize("command", ["run", "compare", "calibrate"])
def test_a_billion_replications_are_refused(scenario_file, tmp_path, capsys, command):
    """Finding: `--replications 1000000000` was accepted; now exit 2 naming the option, estimate and limit."""
    files = [str(scenario_file)] * (2 if command == "compare" else 1)
    assert main([command, *files, "--replications", "1000000000", "--out", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "--replications 1,000,000,000" in err and f"limit of {MAX_REPLICATION_DAYS:,.0f}" in err
    assert "incidents" in err and "of computing" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_run_estimate_counts_incidents_days_and_time(shanghai_path):
    """The public estimate: Shanghai's 35,000 incidents a day over its 30 h horizon, times replications."""
    from citysim.config import load_document, validate_schema

    estimate = estimate_run(validate_schema(load_document(shanghai_path), shanghai_path), replications=10)
    assert estimate.incidents_per_replication == pytest.approx(35_000 * 1800 / 1440)
    assert estimate.simulated_days == pytest.approx(12.5)
    assert estimate.wall_seconds == pytest.approx(estimate.incidents / limits.INCIDENTS_PER_SECOND)
    assert "10 replication(s)" in estimate.describe()


def test_impossible_speeds_warn(write_yaml, small_scenario_data):
    """Faster than any vehicle (the verification reductions do it on purpose) and a crossing of the
    largest district longer than the run are warnings, not errors."""
    from citysim import load_scenario

    small_scenario_data["travel"]["speed_kmh_by_hour"] = [1e9] * 24
    warnings = load_warnings(load_scenario(write_yaml("fast.yaml", small_scenario_data)))
    assert any("faster than any road vehicle" in w for w in warnings)
    small_scenario_data["travel"]["speed_kmh_by_hour"] = [1.2] * 24
    small_scenario_data["run"].update(duration_min=120, warmup_min=0)
    warnings = load_warnings(load_scenario(write_yaml("slow.yaml", small_scenario_data)))
    assert any("longer than the run's 120 min" in w for w in warnings)


#: Address-space cap for the subprocess. `citysim validate` of the small scenario needs about 0.6 GB of
#: address space (numpy, scipy, pandas and shapely reserve far more than they touch: it peaks at 160 MB
#: resident); the largest valid demand surface (400,000 cells) peaks at about 560 MiB resident
#: (benchmarks/bench_validate.py) and needs about
#: 1.0 GB. So 1.5 GB of address space holds every valid input with room, and is far below what any of
#: the findings used (4-24 GB): a value that escaped its limit would die of MemoryError, with a traceback.
ADDRESS_SPACE_CAP = int(1.5 * 2**30)
VALIDATE_SECONDS = 30

#: (name, how to change the small scenario's data). Huge and tiny sizes, spacings, durations, rates.
SMALL_HOSTILE = {
    "area": lambda d: d["districts"][0].update(area_km2=1e9),
    "area_spread": lambda d: [x.update(area_km2=99_999.0, lon=lon) for x, lon in zip(d["districts"], (119.5, 123.5),
                                                                                  strict=True)],
    "lat_pole": lambda d: [x.update(lat=89.9) for x in d["districts"]],
    "lat_south": lambda d: [x.update(lat=-85.0) for x in d["districts"]],
    "duration_huge": lambda d: d["run"].update(duration_min=1e12),
    "duration_tiny": lambda d: d["run"].update(duration_min=1e-9, warmup_min=0),
    "drain_huge": lambda d: d["run"].update(drain_min=1e15),
    "calls_huge": lambda d: d["demand"].update(calls_per_day=1e300),
    "calls_tiny": lambda d: d["demand"].update(calls_per_day=1e-300),
    "speed_tiny": lambda d: d["travel"].update(speed_kmh_by_hour=[1e-300] * 24),
    "units_huge": lambda d: [x.update(units=100_000, stations=10_000) for x in d["districts"]],
    "no_duty": lambda d: d["fleet"].update(on_duty_fraction_by_hour=[0.0] * 24),
    "cell_tiny": lambda d: d.update(geography={"cell_km": 0.1}) or d["districts"][0].update(area_km2=90_000.0),
}
#: YAML overriding the Shanghai baseline (network, traffic and crashes blocks).
SHANGHAI_HOSTILE = {
    "grid_tiny": "network:\n  grid: {inner_radius_km: 16, inner_spacing_km: 1.0e-9, outer_spacing_km: 1.0e-9, "
                 "lanes: 2}\n",
    "grid_mid": "network:\n  grid: {inner_radius_km: 200, inner_spacing_km: 0.3, outer_spacing_km: 0.3, lanes: 2}\n",
    "rings_fine": "network:\n  rings:\n" + "".join(
        f"    - {{name: R{i}, radius_km: 199, lanes: 8, node_spacing_km: 0.1}}\n" for i in range(20)),
    "radial_fine": "network:\n  radials:\n" + "".join(
        f"    - {{name: R{i}, bearing_deg: {i}, length_km: 200, lanes: 8, node_spacing_km: 0.1}}\n" for i in range(40)),
    "ring_huge": "network:\n  rings:\n    - {name: R, radius_km: 1.0e5, lanes: 2, node_spacing_km: 3}\n",
    "refresh_tiny": "traffic:\n  refresh_min: 1.0e-6\n",
    "crashes_huge": "crashes:\n  crashes_per_day: 1.0e8\n",
    "access_tiny": "travel:\n  access_speed_kmh: 1.0e-9\n",
    "free_flow_tiny": "network:\n  classes:\n    arterial: {free_flow_kmh: 1.0e-9}\n",
    "cell_fine": "geography:\n  cell_km: 0.1\n",
    "duration_huge": "run:\n  duration_min: 1.0e9\n",
}


def _cap_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_CAP, ADDRESS_SPACE_CAP))


def test_no_hostile_value_pushes_validate_past_its_budget(tmp_path, scenario_data):
    """Every hostile file is refused (exit 2, one 'Error in' line each, no traceback) by one `citysim
    validate` under a 1.5 GB address-space cap within 30 s (one process for all, to keep the test fast)."""
    files = []
    for name, change in SMALL_HOSTILE.items():
        data = scenario_data()
        change(data)
        files.append(tmp_path / f"small_{name}.yaml")
        files[-1].write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    files += [_child_of_shanghai(tmp_path, f"shanghai_{name}.yaml", body) for name, body in SHANGHAI_HOSTILE.items()]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "src"))
    result = subprocess.run([sys.executable, "-m", "citysim.cli", "validate", *map(str, files)], env=env,
                            preexec_fn=_cap_address_space, capture_output=True, text=True, timeout=VALIDATE_SECONDS)
    assert "Traceback" not in result.stderr and "MemoryError" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == EXIT_BAD_INPUT
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error in")]
    refused = {f for f in files if any(f"Error in {f}," in line or f"Error in {f}:" in line for line in errors)}
    assert refused == set(files), sorted(str(f.name) for f in set(files) - refused)


def test_a_long_request_within_the_limit_announces_its_estimate(scenario_file, capsys):
    """5,000 replications of the small scenario (2,083 replication-days, about 3.5 min) are allowed, and the
    estimate is printed on stderr before any work (as progress: not with -q)."""
    from citysim.cli import _check_size
    from citysim.progress import Reporter

    _check_size(scenario_file, 5000, Reporter())
    err = capsys.readouterr().err
    assert err.startswith(f"Estimate for {scenario_file}: 5,000 replication(s)") and "min of computing" in err
    _check_size(scenario_file, 5000, Reporter(quiet=True))
    assert capsys.readouterr().err == ""


EXPERIMENTS = {
    "claim_check": ("kind: claim_check\nname: huge\nseed: 1\nsmart_levers: scenario.yaml\nsituations:\n"
                    "  - {name: a, scenario: scenario.yaml}\nmetrics:\n"
                    "  - {name: arrival, start: t_call, end: t_arrive, claimed_reduction_pct: 20}\n"
                    "replications: {min: 2, max: 1000000, batch: 1, target_half_width_pct: 1}\n"
                    "confidence: 0.95\nby_priority: false\n", "replications.max"),
    "attribution": ("kind: attribution\nname: huge\nseed: 1\nsituation: {name: a, scenario: scenario.yaml}\n"
                    "smart_levers: scenario.yaml\ngroups: {centre: [command_centre]}\nmethod: exact\n"
                    "replications: 1000000\nmetrics:\n"
                    "  - {name: arrival, start: t_call, end: t_arrive, claimed_reduction_pct: 20}\n", "replications"),
}


@pytest.mark.parametrize("kind", sorted(EXPERIMENTS))
def test_an_experiment_asking_for_too_many_runs_is_refused_before_any(scenario_file, write_yaml, tmp_path, capsys,
                                                                      kind):
    """An experiment's replication count has a limit too: exit 2 naming the key, the runs and their time."""
    text, key = EXPERIMENTS[kind]
    path = write_yaml("experiment.yaml", text)
    assert main(["experiment", str(path), "--out", str(tmp_path / "out"), "--workers", "1"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert f"at key '{key}'" in err and "runs of up to" in err and "of computing" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [
    ["run", "{scenario}", "--replications", "1" + "0" * 400],
    ["experiment", "{experiment}", "--workers", "1000000"],
])
def test_absurd_counts_on_the_command_line_are_usage_errors(scenario_file, write_yaml, capsys, argv):
    """A count too large for any machine (or for float arithmetic) is refused by the parser: exit 2."""
    path = write_yaml("experiment.yaml", EXPERIMENTS["attribution"][0])
    command = [a.format(scenario=scenario_file, experiment=path) for a in argv]
    with pytest.raises(SystemExit) as stop:
        main(command)
    assert stop.value.code == EXIT_BAD_INPUT
    assert "expected a whole number from" in capsys.readouterr().err


def test_a_huge_replication_count_in_an_experiment_file_is_an_input_error(scenario_file, write_yaml, capsys):
    path = write_yaml("experiment.yaml", EXPERIMENTS["attribution"][0].replace("1000000\n", str(10**42) + "\n"))
    assert main(["experiment", str(path), "--workers", "1"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "at key 'replications'" in err and "Traceback" not in err

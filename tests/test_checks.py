"""Semantic checks: overload warnings, and the limit on the size of a replication."""

from __future__ import annotations

import pytest

import citysim.simulation.model as model_module
from citysim import load_scenario
from citysim.analysis.load_warnings import load_warnings
from citysim.cli import EXIT_BAD_INPUT, EXIT_OK, main


def test_shanghai_scenarios_are_not_overloaded(shipped_scenarios):
    """No shipped scenario draws an overload warning (verification/nearest.yaml's 1e9 km/h draws the speed
    warning on purpose: its travel is meant to vanish)."""
    for path in shipped_scenarios:
        assert [w for w in load_warnings(load_scenario(path)) if "offered load" in w] == [], path


def test_overloaded_district_is_warned_with_its_load(shanghai_path):
    """One unit per district: every district is warned, with its name, the hour and the load figure."""
    scenario = load_scenario(shanghai_path)
    districts = [d.model_copy(update={"units": 1}) for d in scenario.districts]
    warnings = load_warnings(scenario.model_copy(update={"districts": districts}))
    assert len(warnings) == len(districts)
    assert any("in Pudong New Area at" in w and "offered load is at least" in w for w in warnings)


def test_validate_prints_the_warning_and_still_succeeds(write_yaml, small_yaml, capsys):
    """`citysim validate` on an overloaded but valid file exits 0 and prints the warning on stderr."""
    path = write_yaml("busy.yaml", small_yaml.replace("calls_per_day: 400", "calls_per_day: 40000"))
    assert main(["validate", str(path)]) == EXIT_OK
    captured = capsys.readouterr()
    assert "Warning:" in captured.err and "grows without bound" in captured.err and "ok" in captured.out


def test_a_run_beyond_the_incident_limit_stops_with_a_clear_message(write_yaml, small_yaml, tmp_path, capsys,
                                                                     monkeypatch):
    """A replication larger than the limit is refused before it runs (exit 2, key named, no traceback)."""
    monkeypatch.setattr(model_module, "MAX_INCIDENTS", 50)
    path = write_yaml("long.yaml", small_yaml)
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "run.duration_min" in err and "limit of 50" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "manifest.json").exists()


@pytest.mark.parametrize("policy", ["home_district", "nearest"])
def test_load_is_city_wide_under_nearest(shanghai_path, policy):
    """Under `nearest` the load is pooled city-wide, so one warning at most."""
    scenario = load_scenario(shanghai_path)
    districts = [d.model_copy(update={"units": 1}) for d in scenario.districts]
    dispatch = scenario.dispatch.model_copy(update={"policy": policy})
    warnings = load_warnings(scenario.model_copy(update={"districts": districts, "dispatch": dispatch}))
    assert len(warnings) == (len(districts) if policy == "home_district" else 1)


def test_unwritable_output_folder_is_refused_before_work(write_yaml, small_yaml, tmp_path, capsys):
    """An --out that cannot be a folder (its parent is a file) is a clear error before anything runs."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    path = write_yaml("s.yaml", small_yaml)
    assert main(["run", str(path), "--out", str(blocker / "out")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "output folder cannot be written" in err and "Traceback" not in err


def test_full_disk_is_refused_before_work(write_yaml, small_yaml, tmp_path, capsys, monkeypatch):
    """When the output folder's disk is full (ENOSPC on the probe file), the run stops at once with exit 2."""
    import errno
    import tempfile

    def full(*_args: object, **_kwargs: object) -> object:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", full)
    path = write_yaml("s.yaml", small_yaml)
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == EXIT_BAD_INPUT
    assert "No space left on device" in capsys.readouterr().err

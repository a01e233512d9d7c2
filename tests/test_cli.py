"""The `citysim` command line: `validate` and `run`, exit codes, output folder and manifest."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from citysim.cli import EXIT_BAD_INPUT, EXIT_OK, main
from citysim.simulation.kpis import SUMMARY_COLUMNS
from citysim.simulation.logs import INCIDENT_COLUMNS, UNIT_COLUMNS
from conftest import REPO_ROOT

BAD_RATE = "  calls_per_day: -400"


@pytest.fixture
def bad_file(write_yaml, small_yaml) -> Path:
    """A scenario with a negative call rate (a schema error)."""
    return write_yaml("bad.yaml", small_yaml.replace("  calls_per_day: 400", BAD_RATE))


@pytest.fixture
def short_scenario(write_yaml, small_yaml) -> Path:
    """The small scenario cut to 4 h (a child file extending it, so the manifest has two inputs)."""
    write_yaml("parent.yaml", small_yaml)
    return write_yaml("short.yaml", "extends: parent.yaml\nname: short\nrun: {duration_min: 240, warmup_min: 30}\n")


# --------------------------------------------------------------------------- validate


def test_validate_ok(scenario_file, capsys):
    """`citysim validate GOOD` exits 0 and says the file is ok."""
    assert main(["validate", str(scenario_file)]) == EXIT_OK == 0
    out = capsys.readouterr()
    assert "ok" in out.out and "small-test" in out.out
    # The small scenario is deliberately busy: only load warnings may appear, never an error.
    assert all(line.startswith("Warning:") for line in out.err.splitlines())


def test_validate_bad_exits_2(bad_file, capsys):
    """`citysim validate BAD` exits 2 and prints the one-paragraph InputError on stderr."""
    assert main(["validate", str(bad_file)]) == EXIT_BAD_INPUT == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, "one paragraph, one line"
    assert str(bad_file) in err
    assert "demand.calls_per_day" in err
    assert "Traceback" not in err


def test_validate_reports_every_file(scenario_file, bad_file, tmp_path, capsys):
    """`citysim validate` checks every file given, reports each bad one and exits 2 if any is bad."""
    missing = tmp_path / "missing.yaml"
    assert main(["validate", str(bad_file), str(scenario_file), str(missing)]) == EXIT_BAD_INPUT
    out = capsys.readouterr()
    assert f"{scenario_file}: ok" in out.out
    assert str(bad_file) in out.err
    assert str(missing) in out.err
    errors = [line for line in out.err.splitlines() if not line.startswith("Warning:")]
    assert len(errors) == 2  # one paragraph per bad file


def test_validate_shipped_scenarios(shipped_scenarios, capsys):
    """`citysim validate` accepts every scenario shipped in the repository."""
    assert main(["validate", *map(str, shipped_scenarios)]) == EXIT_OK
    assert capsys.readouterr().out.count(": ok") == len(shipped_scenarios)


def test_validate_priors_and_experiment_files(capsys):
    """`citysim validate` checks the shipped priors file and every shipped experiment file."""
    experiments = sorted((REPO_ROOT / "experiments").glob("*.yaml"))
    priors = REPO_ROOT / "scenarios" / "shanghai" / "priors.yaml"
    assert main(["validate", str(priors), *map(str, experiments)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "ok (priors, 22 inputs)" in out and "uncertainty)" in out and out.count(": ok") == 1 + len(experiments)


def test_validate_subprocess_no_traceback(bad_file):
    """Run as a real process on a bad file: exit status 2, the message on stderr, no traceback."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, "-m", "citysim.cli", "validate", str(bad_file)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("Error in ")
    assert "calls_per_day" in proc.stderr
    assert proc.stdout == ""


def test_validate_recursive_alias_exits_2(write_yaml, small_yaml, capsys):
    """`citysim validate` on a file with a self-referencing alias exits 2 with an InputError."""
    path = write_yaml("alias.yaml", small_yaml.replace("description: two", "loop: &a [*a]\ndescription: two"))
    assert main(["validate", str(path)]) == EXIT_BAD_INPUT


def test_no_command_is_usage_error(capsys):
    """`citysim` with no sub-command is a usage error (exit 2), not a crash."""
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage" in capsys.readouterr().err


def _help(args: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as info:
        main([*args, "--help"])
    assert info.value.code == 0
    return capsys.readouterr().out


def test_every_command_has_a_description_and_documented_arguments(capsys):
    """Each command's --help opens with a description of its own, gives every argument a help text and lists
    -q and the exit statuses; experiment's names all four kinds, not only the claim check."""
    import argparse

    from citysim.cli import _parser

    (subcommands,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    for name, command in subcommands.choices.items():
        page = _help([name], capsys)
        assert "-q, --quiet" in page and "exit status:" in page and "130" in page, name
        if name == "compare":  # its arguments and texts are being redone (issue 17, neutral compare)
            continue
        assert command.description and command.description.split()[0] in page, name
        undocumented = [a.dest for a in command._actions if not a.help]
        assert undocumented == [], (name, undocumented)
    experiment = _help(["experiment"], capsys)
    assert all(kind in experiment for kind in ("claim_check", "attribution", "sensitivity", "uncertainty"))


# --------------------------------------------------------------------------- run


def test_run_writes_results_and_manifest(short_scenario, tmp_path, capsys):
    """`citysim run S --replications 2 --out DIR` exits 0 and writes logs, summary and a full manifest."""
    out = tmp_path / "results"
    assert main(["run", str(short_scenario), "--replications", "2", "--out", str(out)]) == EXIT_OK
    for name in ("incidents.parquet", "units.parquet", "summary.csv", "manifest.json"):
        assert (out / name).is_file(), name

    incidents = pd.read_parquet(out / "incidents.parquet")
    units = pd.read_parquet(out / "units.parquet")
    assert list(incidents.columns) == INCIDENT_COLUMNS
    assert list(units.columns) == UNIT_COLUMNS
    assert sorted(incidents["replication"].unique()) == [0, 1]
    assert len(incidents) > 0 and len(units) > 0
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == SUMMARY_COLUMNS
    assert set(summary.loc[summary["kpi"] == "arrival_min_mean", "n"]) <= {0, 1, 2}
    assert (summary.loc[(summary["kpi"] == "calls_per_day") & (summary["priority"] == "all"), "n"] == 2).all()

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "run"
    assert manifest["scenario"] == "short"
    assert manifest["seed"] == 12345  # the scenario's run.seed
    assert manifest["replications"] == 2
    assert [r["replication"] for r in manifest["replication_seeds"]] == [0, 1]
    assert manifest["replication_seeds"][1]["seed_sequence"] == {"entropy": 12345, "spawn_key": [1]}
    assert manifest["duration_min"] == 240 and manifest["warmup_min"] == 30
    parent = short_scenario.parent / "parent.yaml"
    expected = {str(p.resolve()): hashlib.sha256(p.read_bytes()).hexdigest() for p in (short_scenario, parent)}
    assert manifest["input_sha256"] == expected
    resolved = out / manifest["resolved_scenario"]
    assert resolved.is_file() and "extends" not in resolved.read_text()

    printed = capsys.readouterr().out
    assert "short" in printed and "2 replication(s)" in printed and "seed 12345" in printed


def test_run_seed_override(short_scenario, tmp_path):
    """`--seed` replaces the scenario's seed and is recorded in the manifest; same seed, same logs."""
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    assert main(["run", str(short_scenario), "--seed", "7", "--out", str(out_a)]) == EXIT_OK
    assert main(["run", str(short_scenario), "--seed", "7", "--out", str(out_b)]) == EXIT_OK
    assert json.loads((out_a / "manifest.json").read_text())["seed"] == 7
    pd.testing.assert_frame_equal(pd.read_parquet(out_a / "incidents.parquet"),
                                  pd.read_parquet(out_b / "incidents.parquet"))


@pytest.mark.parametrize("value", ["0", "-1", "abc", "1.5", ""])
def test_run_rejects_bad_replications(short_scenario, tmp_path, capsys, value):
    """A --replications that is not a whole number >= 1 is a usage error (exit 2) before any work."""
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as info:
        main(["run", str(short_scenario), "--replications", value, "--out", str(out)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--replications" in err
    assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("value", ["-3", "x"])
def test_run_rejects_bad_seed(short_scenario, tmp_path, capsys, value):
    """A negative or non-numeric --seed is a usage error (exit 2)."""
    with pytest.raises(SystemExit) as info:
        main(["run", str(short_scenario), "--seed", value, "--out", str(tmp_path / "never")])
    assert info.value.code == 2
    assert "--seed" in capsys.readouterr().err


def test_run_bad_scenario_exits_2_without_output(bad_file, tmp_path, capsys):
    """`citysim run BAD` exits 2 with the InputError and creates no results folder."""
    out = tmp_path / "never"
    assert main(["run", str(bad_file), "--out", str(out)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "calls_per_day" in err and "Traceback" not in err
    assert not out.exists()


def test_run_missing_scenario_exits_2(tmp_path, capsys):
    """`citysim run` on a file that does not exist exits 2 naming it."""
    missing = tmp_path / "missing.yaml"
    assert main(["run", str(missing), "--out", str(tmp_path / "never")]) == EXIT_BAD_INPUT
    assert str(missing) in capsys.readouterr().err


def test_run_unwritable_output_exits_2(short_scenario, tmp_path, capsys):
    """An --out that cannot be a folder (it is a file) exits 2 with an InputError, not a traceback."""
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["run", str(short_scenario), "--out", str(blocker / "sub")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "output folder" in err and "Traceback" not in err


def test_run_rewrite_replaces_manifest(short_scenario, tmp_path):
    """Re-running into the same folder rewrites it and leaves a fresh manifest (folder complete)."""
    out = tmp_path / "results"
    assert main(["run", str(short_scenario), "--out", str(out)]) == EXIT_OK
    assert main(["run", str(short_scenario), "--replications", "2", "--out", str(out)]) == EXIT_OK
    assert json.loads((out / "manifest.json").read_text())["replications"] == 2
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_a_closed_pipe_ends_quietly():
    """`citysim levers | head -1`: the reader leaves early; no traceback, exit 0."""
    done = subprocess.run(f"{sys.executable} -m citysim levers | head -1", shell=True, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.stdout.startswith("#") and "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr

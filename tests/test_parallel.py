"""Parallel claim checks give the same results, byte for byte, as serial ones."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from citysim.cli import EXIT_OK, main
from citysim.experiment.batch import Call, Job, run_jobs
from citysim.experiment.runs import UnitResult
from citysim.experiment.store import UnitStore

SMART = "extends: scenario.yaml\nname: small-smart\nlevers:\n  command_centre: {strength: 0.34, location_share: 0.5}\n"
EXPERIMENT = textwrap.dedent("""\
    kind: claim_check
    name: parallel-check
    seed: 77
    smart_levers: smart.yaml
    situations:
      - {name: ordinary, scenario: scenario.yaml}
    metrics:
      - {name: arrival, start: t_call, end: t_arrive, claimed_reduction_pct: 20}
    replications: {min: 3, max: 5, batch: 2, target_half_width_pct: 0.01}
    confidence: 0.95
    by_priority: true
    """)


def test_two_workers_write_the_same_files_as_one(scenario_file, write_yaml, tmp_path):
    """With 2 worker processes (two situations run side by side, the charts drawn in the pool), runs.csv,
    claims.csv and the chart tables equal the serial run's exactly, and the same charts are drawn."""
    write_yaml("smart.yaml", SMART)
    path = write_yaml("experiment.yaml", EXPERIMENT.replace(
        "  - {name: ordinary, scenario: scenario.yaml}\n",
        "  - {name: ordinary, scenario: scenario.yaml}\n  - {name: again, scenario: scenario.yaml}\n"))
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    assert main(["experiment", str(path), "--out", str(serial)]) == EXIT_OK
    assert main(["experiment", str(path), "--out", str(parallel), "--workers", "2"]) == EXIT_OK
    for name in ("runs.csv", "claims.csv", "hourly.csv", "districts.csv", "samples.csv", "map.csv", "diagnostics.csv",
                 "steps.csv", "warnings.csv", "replay.csv"):
        assert (parallel / name).read_bytes() == (serial / name).read_bytes(), name
    charts = sorted(p.name for p in (serial / "figures").iterdir())
    assert "distributions-again.png" in charts
    assert sorted(p.name for p in (parallel / "figures").iterdir()) == charts


LONG = EXPERIMENT.replace("name: parallel-check", "name: resume-check").replace(
    "replications: {min: 3, max: 5, batch: 2, target_half_width_pct: 0.01}",
    "replications: {min: 30, max: 30, batch: 1, target_half_width_pct: 0.01}")


def _stored_runs(folder) -> int:
    return len(list((folder / "units").glob("*.unit.json"))) if (folder / "units").is_dir() else 0


def test_killed_experiment_resumes_to_the_same_tables(scenario_file, write_yaml, tmp_path):
    """SIGKILL part-way, then --resume: runs.csv, claims.csv and the chart tables equal an uninterrupted run's."""
    import signal
    import subprocess
    import sys
    import time

    write_yaml("smart.yaml", SMART)
    path = write_yaml("experiment.yaml", LONG)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(["experiment", str(path), "--out", str(whole)]) == EXIT_OK
    process = subprocess.Popen([sys.executable, "-m", "citysim.cli", "experiment", str(path), "--out", str(cut)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _stored_runs(cut) < 20 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (cut / "manifest.json").exists(), "killed before it finished: the folder must not look complete"
    assert 0 < _stored_runs(cut) < _stored_runs(whole)
    assert main(["experiment", str(path), "--out", str(cut), "--resume"]) == EXIT_OK
    for name in ("runs.csv", "claims.csv", "hourly.csv", "districts.csv", "samples.csv", "map.csv", "diagnostics.csv",
                 "steps.csv", "warnings.csv", "replay.csv"):
        assert (cut / name).read_bytes() == (whole / name).read_bytes(), name


def test_resume_refuses_changed_inputs(scenario_file, write_yaml, tmp_path, capsys):
    """--resume on a folder started from other input files is a clear error (exit 2)."""
    from citysim.cli import EXIT_BAD_INPUT

    write_yaml("smart.yaml", SMART)
    path = write_yaml("experiment.yaml", EXPERIMENT)
    out = tmp_path / "out"
    assert main(["experiment", str(path), "--out", str(out)]) == EXIT_OK
    changed = write_yaml("smart.yaml", SMART.replace("0.34", "0.2"))
    assert main(["experiment", str(path), "--out", str(out), "--resume"]) == EXIT_BAD_INPUT
    assert f"{changed.resolve()} changed" in capsys.readouterr().err  # the refusal names the file


def test_dask_local_cluster_writes_the_same_files(scenario_file, write_yaml, tmp_path):
    """On a real Dask LocalCluster (2 worker processes on loopback) the files equal the serial run's."""
    pytest.importorskip("distributed")
    write_yaml("smart.yaml", SMART)
    path = write_yaml("experiment.yaml", EXPERIMENT)
    serial, dask = tmp_path / "serial", tmp_path / "dask"
    assert main(["experiment", str(path), "--out", str(serial)]) == EXIT_OK
    assert main(["experiment", str(path), "--out", str(dask), "--executor", "dask", "--workers", "2"]) == EXIT_OK
    for name in ("runs.csv", "claims.csv", "hourly.csv", "districts.csv", "samples.csv", "map.csv", "diagnostics.csv",
                 "steps.csv", "warnings.csv", "replay.csv"):
        assert (dask / name).read_bytes() == (serial / name).read_bytes(), name


def test_unreachable_scheduler_is_an_input_error(scenario_file, write_yaml, tmp_path):
    """A --scheduler nobody listens on is a clear error (exit 2), not a traceback."""
    pytest.importorskip("distributed")
    from citysim.cli import EXIT_BAD_INPUT

    write_yaml("smart.yaml", SMART)
    path = write_yaml("experiment.yaml", EXPERIMENT)
    code = main(["experiment", str(path), "--out", str(tmp_path / "x"), "--scheduler", "tcp://127.0.0.1:9"])
    assert code == EXIT_BAD_INPUT


def test_a_failing_run_is_reported_and_the_others_complete(scenario_file, write_yaml, tmp_path, monkeypatch):
    """A run that raises is listed in failures.csv with its situation, replication and seed; the rest finish.
    The store's unit is a replication pair (baseline and smart on the same numbers), so the pair goes."""
    import citysim.experiment.runs as unit_module
    from citysim.cli import EXIT_RUNS_FAILED

    original = unit_module.simulate_one

    def flaky(scenario, replication, seed=None):
        if replication == 1 and scenario.levers.command_centre is not None:
            raise RuntimeError("injected fault")
        return original(scenario, replication, seed)

    monkeypatch.setattr(unit_module, "simulate_one", flaky)
    write_yaml("smart.yaml", SMART)
    path = write_yaml("experiment.yaml", EXPERIMENT)
    out = tmp_path / "out"
    assert main(["experiment", str(path), "--out", str(out)]) == EXIT_RUNS_FAILED
    failures = (out / "failures.csv").read_text(encoding="utf-8")
    assert "ordinary,baseline+smart,1,77,RuntimeError: injected fault" in failures
    runs = (out / "runs.csv").read_text(encoding="utf-8")
    assert "ordinary,smart,0," in runs and "ordinary,smart,2," in runs and "ordinary,baseline,1," not in runs
    assert (out / "claims.csv").is_file() and (out / "manifest.json").is_file()


def test_attribution_is_the_same_on_one_or_two_workers(scenario_file, write_yaml, tmp_path):
    """Attribution's replications run in parallel with identical Shapley values."""
    write_yaml("smart.yaml", SMART.replace("command_centre: {strength: 0.34, location_share: 0.5}",
                                           "command_centre: {strength: 0.34, location_share: 0.5}\n"
                                           "  mobile_terminals: {strength: 0.2}"))
    path = write_yaml("attribution.yaml", textwrap.dedent("""\
        kind: attribution
        name: attr
        seed: 3
        situation: {name: small, scenario: scenario.yaml}
        smart_levers: smart.yaml
        groups: {centre: [command_centre], terminals: [mobile_terminals]}
        method: exact
        replications: 3
        metrics:
          - {name: arrival, start: t_call, end: t_arrive, claimed_reduction_pct: 20}
        """))
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(["experiment", str(path), "--out", str(one), "--workers", "1"]) == EXIT_OK
    assert main(["experiment", str(path), "--out", str(two), "--workers", "2"]) == EXIT_OK
    assert (two / "attribution.csv").read_bytes() == (one / "attribution.csv").read_bytes()


def test_sigterm_and_sigint_stop_cleanly_and_resume_completes(scenario_file, write_yaml, tmp_path):
    """SIGTERM or SIGINT part-way: exit 130 with a message and no traceback, no manifest; --resume finishes
    with the same tables as an uninterrupted run."""
    import signal
    import subprocess
    import sys
    import time

    write_yaml("smart.yaml", SMART)
    path = write_yaml("experiment.yaml", LONG)
    whole = tmp_path / "whole"
    assert main(["experiment", str(path), "--out", str(whole), "--workers", "1"]) == EXIT_OK
    for sig in (signal.SIGTERM, signal.SIGINT):
        cut = tmp_path / f"cut-{sig.name}"
        # SIGINT's default action restored in the child: a suite launched in the background (`cmd &` in a
        # script) would otherwise hand it an ignored SIGINT, and the interrupt would never arrive.
        process = subprocess.Popen([sys.executable, "-m", "citysim.cli", "experiment", str(path), "--out", str(cut),
                                    "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 120
        while _stored_runs(cut) < 10 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(sig)
        _, err = process.communicate(timeout=120)
        assert process.returncode == 130, (sig, process.returncode, err)
        assert "Interrupted" in err and "Traceback" not in err
        assert not (cut / "manifest.json").exists()
        assert main(["experiment", str(path), "--out", str(cut), "--resume", "--workers", "1"]) == EXIT_OK
        for name in ("runs.csv", "claims.csv", "hourly.csv"):
            assert (cut / name).read_bytes() == (whole / name).read_bytes(), (sig, name)


def _unit(key: tuple[str, str, int]) -> UnitResult:
    return UnitResult(key, [(*key, "arrival", "all", float(key[2]), 1)], pd.DataFrame(), pd.DataFrame(), None,
                      pd.DataFrame(), pd.DataFrame())


def _job(name: str, batches: int, log: list[str]) -> Job:
    """A job of `batches` batches of two runs; it returns the rows it was sent, in its own order."""
    rows: list[tuple[object, ...]] = []
    for batch in range(batches):
        calls = [Call((name, "x", 2 * batch + k), 0, _unit, ((name, "x", 2 * batch + k),)) for k in range(2)]
        done = yield calls
        log.append(name)
        rows += [row for call in calls for row in done[call.key].rows]
    return rows


def test_run_jobs_interleaves_jobs_and_gives_the_serial_outcomes(tmp_path):
    """On an executor the short job's runs are handed out before the long job's last batch (serially they
    wait for it), yet every job's outcome equals the serial run's; a batch the store already holds is
    answered without running."""
    from concurrent.futures import ThreadPoolExecutor

    serial_log: list[str] = []
    serial = run_jobs([_job("long", 3, serial_log), _job("short", 1, serial_log)], UnitStore(tmp_path / "a"),
                      None, [])
    assert serial_log == ["long", "long", "long", "short"]
    store = UnitStore(tmp_path / "b")
    for key in (("long", "x", 0), ("long", "x", 1)):
        store.put(_unit(key), Call(key, 0, _unit, (key,)).fingerprint)
    submitted: list[tuple[object, ...]] = []

    class Recording(ThreadPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            submitted.append(args[0])
            return super().submit(fn, *args, **kwargs)

    with Recording(max_workers=2) as pool:
        pooled = run_jobs([_job("long", 3, []), _job("short", 1, [])], store, pool, [])
    assert pooled == serial
    assert ("long", "x", 0) not in submitted  # held by the store
    assert submitted.index(("short", "x", 0)) < submitted.index(("long", "x", 4))

"""The result store and the results folder can be trusted: one writer at a time, units that are data and
checked, resumes tied to their inputs, names that cannot clash, and a clean start."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from citysim.cli import EXIT_BAD_INPUT, EXIT_OK, main
from citysim.experiment.batch import Call, run_stored
from citysim.experiment.runs import UnitResult
from citysim.experiment.store import UnitStore
from citysim.names import slug
from conftest import SMALL_SCENARIO_YAML

LONG_NAME = "a situation whose name is far too long for a file name " * 5  # 280 characters
SMART = "extends: scenario.yaml\nname: small-smart\nlevers:\n  command_centre: {strength: 0.34, location_share: 0.5}\n"
EXPERIMENT = textwrap.dedent(f"""\
    kind: claim_check
    name: store-check
    seed: 5
    smart_levers: smart.yaml
    situations:
      - {{name: "{LONG_NAME}", scenario: scenario.yaml}}
    metrics:
      - {{name: arrival, start: t_call, end: t_arrive, claimed_reduction_pct: 20}}
    replications: {{min: 3, max: 3, batch: 1, target_half_width_pct: 0.01}}
    confidence: 0.95
    by_priority: false
    """)
TABLES = ("runs.csv", "claims.csv", "hourly.csv", "districts.csv", "samples.csv")


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The experiment file and a folder it finished (serially), whose situation name is 280 characters."""
    folder = tmp_path_factory.mktemp("store")
    (folder / "scenario.yaml").write_text(SMALL_SCENARIO_YAML, encoding="utf-8")
    (folder / "smart.yaml").write_text(SMART, encoding="utf-8")
    (folder / "experiment.yaml").write_text(EXPERIMENT, encoding="utf-8")
    out = folder / "whole"
    assert main(["experiment", str(folder / "experiment.yaml"), "--out", str(out), "--workers", "1"]) == EXIT_OK
    return folder / "experiment.yaml", out


def _copy(out: Path, to: Path) -> Path:
    shutil.copytree(out, to)
    return to


def _resume(path: Path, out: Path) -> int:
    return main(["experiment", str(path), "--out", str(out), "--workers", "1", "--resume"])


def test_a_long_situation_name_gives_short_distinct_file_names(finished):
    _, out = finished
    names = [p.name for p in (out / "scenarios").iterdir()]
    assert len(names) == 2 and all(len(n) < 100 for n in names)
    assert slug(LONG_NAME) in names[0] and slug(LONG_NAME) != slug(LONG_NAME[:-1] + "!")


def test_non_ascii_names_get_distinct_slugs_never_unnamed():
    parts = {slug(name) for name in ("浦东", "静安", "徐汇区", "Pudong 浦东")}
    assert len(parts) == 4 and all(p and "unnamed" not in p for p in parts)
    assert slug("weekend night") == "weekend-night"  # plain names keep their readable slug


def test_situation_names_that_share_a_file_name_are_refused(finished, tmp_path, capsys):
    path, _ = finished
    text = path.read_text(encoding="utf-8").replace(
        f'  - {{name: "{LONG_NAME}", scenario: scenario.yaml}}\n',
        "  - {name: Rush hour, scenario: scenario.yaml}\n  - {name: rush-hour!, scenario: scenario.yaml}\n")
    clash = path.parent / "clash.yaml"
    clash.write_text(text, encoding="utf-8")
    assert main(["experiment", str(clash), "--out", str(tmp_path / "x")]) == EXIT_BAD_INPUT
    error = capsys.readouterr().err
    assert "'Rush hour' and 'rush-hour!'" in error and "situations" in error and "Traceback" not in error


def test_a_second_experiment_into_a_held_folder_is_refused(finished, tmp_path, capsys):
    """Another process holds the folder: the experiment is refused at once, naming that process."""
    path, _ = finished
    out = tmp_path / "held"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from citysim.output.folder import "
         "folder_lock\nwith folder_lock(Path(sys.argv[1]), 'citysim experiment other.yaml'):\n    print('held', "
         "flush=True); time.sleep(60)", str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        assert main(["experiment", str(path), "--out", str(out), "--workers", "1"]) == EXIT_BAD_INPUT
        assert time.monotonic() - started < 10  # refused up front, before any run
    finally:
        holder.kill()
        holder.wait()
    error = capsys.readouterr().err
    assert f"pid {holder.pid}" in error and "other.yaml" in error and "another citysim process" in error
    assert not (out / "units").exists()
    assert main(["experiment", str(path), "--out", str(out), "--workers", "1"]) == EXIT_OK  # its holder is gone


def test_resume_without_the_record_of_inputs_is_refused(finished, tmp_path, capsys):
    path, out = finished
    cut = _copy(out, tmp_path / "cut")
    (cut / "inputs.json").unlink()
    assert _resume(path, cut) == EXIT_BAD_INPUT
    assert "cannot resume" in capsys.readouterr().err
    for garbage in ("{not json", "[" * 200_000):  # unreadable, and nested too deep for any parser
        (cut / "inputs.json").write_text(garbage, encoding="utf-8")
        assert _resume(path, cut) == EXIT_BAD_INPUT
        error = capsys.readouterr().err
        assert "inputs.json" in error and "cannot be read" in error and "Traceback" not in error


class _Hostile:
    """A pickle that, if ever unpickled, would create a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.marker,))


def test_damaged_and_hostile_units_are_named_run_again_and_run_no_code(finished, tmp_path, capsys):
    """A unit that is a hostile pickle, cut short, garbage, empty or another run's: each is named, none is
    executed, their runs are made again, and the tables equal the uninterrupted run's."""
    path, out = finished
    cut = _copy(out, tmp_path / "cut")
    units = sorted((cut / "units").glob("*.unit.json"))
    assert len(units) == 3
    marker = tmp_path / "code-ran"
    hostile, truncated, foreign = units
    foreign_bytes = truncated.read_bytes()
    hostile.write_bytes(pickle.dumps(_Hostile(marker)))
    truncated.write_bytes(truncated.read_bytes()[:-50])
    foreign.write_bytes(foreign_bytes)
    for name in TABLES:
        (cut / name).unlink()
    assert _resume(path, cut) == EXIT_OK
    error = capsys.readouterr().err
    assert not marker.exists()
    assert "Traceback" not in error
    for unit, why in ((hostile, "not a citysim unit file"), (truncated, "checksum"), (foreign, "another run")):
        assert f"stored run {unit} " in error and why in error, unit
    for name in TABLES:
        assert (cut / name).read_bytes() == (out / name).read_bytes(), name
    body = b'{"rows": [[1, 2, 3, 4, 5, 6, 7]], "hourly": {}, "districts": {}, "samples": null}'
    forged = json.dumps({"format": "citysim-unit/1", "key": json.loads(units[0].read_bytes().partition(b"\n")[0])[
        "key"], "fingerprint": "x", "sha256": hashlib.sha256(body).hexdigest()}).encode() + b"\n" + body
    # empty, garbage, nested too deep, a forged header with rows of the wrong types; then a symlink to a device
    for damage in (b"", b"garbage\n{}", b"[" * 200_000 + b"\n", forged):
        units[0].write_bytes(damage)
        assert _resume(path, cut) == EXIT_OK
        error = capsys.readouterr().err
        assert f"stored run {units[0]} " in error and "Traceback" not in error
        assert (cut / "runs.csv").read_bytes() == (out / "runs.csv").read_bytes()
    units[0].unlink()
    units[0].symlink_to("/dev/zero")  # read as it is, it would never end
    assert _resume(path, cut) == EXIT_OK
    assert f"stored run {units[0]} " in capsys.readouterr().err
    assert (cut / "runs.csv").read_bytes() == (out / "runs.csv").read_bytes()


def _unit(key: tuple[str, str, int], delay: float, interrupt: bool) -> UnitResult:
    if interrupt:
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C arrives while this run is in progress
    time.sleep(delay)
    return UnitResult(key, [(*key, "arrival", "all", 1.0, 1)], pd.DataFrame(), pd.DataFrame(), None, pd.DataFrame(),
                      pd.DataFrame())


def test_an_interrupt_keeps_the_finished_runs_of_the_batch(tmp_path):
    """Ctrl-C while a batch runs: the run that had finished is stored, the one in progress is not, and the
    one not started is cancelled."""
    store = UnitStore(tmp_path)
    keys = [("s", "c", k) for k in range(3)]
    calls = [Call(keys[0], 0, _unit, (keys[0], 0.2, False)), Call(keys[1], 0, _unit, (keys[1], 0.5, True)),
             Call(keys[2], 0, _unit, (keys[2], 0.0, False))]
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # a test worker may ignore SIGINT
    try:
        with pytest.raises(KeyboardInterrupt), ThreadPoolExecutor(max_workers=1) as pool:
            run_stored(calls, store, pool, [])
    finally:
        signal.signal(signal.SIGINT, previous)
    stored = [store.get(call.key, call.fingerprint) is not None for call in calls]
    assert stored == [True, False, False]


def test_the_manifest_records_the_inputs_as_loaded(finished, tmp_path, monkeypatch, capsys):
    """An input edited while the runs go on: the manifest keeps the hash of the file as it was loaded, and
    a warning names the file."""
    import citysim.experiment.claim_check as claim_check

    path, _ = finished
    copy = tmp_path / "inputs"
    shutil.copytree(path.parent, copy, ignore=shutil.ignore_patterns("whole"))
    smart = copy / "smart.yaml"
    loaded = hashlib.sha256(smart.read_bytes()).hexdigest()
    original = claim_check.run_claim_check

    def edited_midway(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = original(*args, **kwargs)
        smart.write_text(SMART + "# edited\n", encoding="utf-8")
        return result

    monkeypatch.setattr(claim_check, "run_claim_check", edited_midway)
    out = tmp_path / "out"
    assert main(["experiment", str(copy / "experiment.yaml"), "--out", str(out), "--workers", "1"]) == EXIT_OK
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["input_sha256"][str(smart.resolve())] == loaded
    assert f"{smart} changed while the experiment ran" in capsys.readouterr().err


def test_a_rerun_starts_clean_and_a_users_folder_keeps_its_files(finished, tmp_path):
    """A new experiment into an experiment's folder removes what the last one derived (its claims, report,
    failures, charts, cut-off writes); a folder citysim did not write keeps every file."""
    from citysim.output.folder import clear_outputs

    _, out = finished
    folder = _copy(out, tmp_path / "again")
    (folder / "failures.csv").write_text("stale\n", encoding="utf-8")
    (folder / ".samples.csv.abc123.tmp").write_text("cut off", encoding="utf-8")
    clear_outputs(folder)
    left = sorted(p.name for p in folder.iterdir())
    assert left == [".citysim.lock", "inputs.json", "manifest.json", "units"]
    own = tmp_path / "mine"
    (own / "scenarios").mkdir(parents=True)
    (own / "report.md").write_text("my notes", encoding="utf-8")
    (own / "inputs.json").write_text('{"my": "own file"}', encoding="utf-8")  # not citysim's record
    (own / "scenarios" / "mine.yaml").write_text("name: mine\n", encoding="utf-8")
    clear_outputs(own)
    assert (own / "report.md").read_text(encoding="utf-8") == "my notes"
    (folder / "figures").mkdir()
    (folder / "figures" / "notes.txt").write_text("mine", encoding="utf-8")  # an experiment's folder, a user file
    (folder / "scenarios").mkdir()
    (folder / "scenarios" / "mine.yaml").write_text("name: mine\n", encoding="utf-8")
    clear_outputs(folder)
    assert (folder / "figures" / "notes.txt").is_file() and (folder / "scenarios" / "mine.yaml").is_file()


def test_planted_links_in_a_results_folder_are_refused(finished, tmp_path, capsys):
    """A lock file or a store that is a symbolic link: exit 2, and the link's target is left alone."""
    path, out = finished
    target = tmp_path / "precious.txt"
    target.write_text("keep me", encoding="utf-8")
    held = tmp_path / "lock"
    held.mkdir()
    (held / ".citysim.lock").symlink_to(target)
    assert main(["experiment", str(path), "--out", str(held), "--workers", "1"]) == EXIT_BAD_INPUT
    assert "symbolic link" in capsys.readouterr().err and target.read_text(encoding="utf-8") == "keep me"
    linked = _copy(out, tmp_path / "linked")
    shutil.move(linked / "units", tmp_path / "elsewhere")
    (linked / "units").symlink_to(tmp_path / "elsewhere")
    assert _resume(path, linked) == EXIT_BAD_INPUT
    assert "symbolic link" in capsys.readouterr().err
    assert len(list((tmp_path / "elsewhere").glob("*.unit.json"))) == 3  # nothing deleted through the link


def test_plot_warns_about_an_unfinished_folder(finished, tmp_path, capsys):
    _, out = finished
    cut = _copy(out, tmp_path / "cut")
    (cut / "manifest.json").unlink()
    assert main(["plot", str(cut)]) == EXIT_OK
    assert "no manifest.json" in capsys.readouterr().err


def test_an_interrupted_run_resumes_to_the_same_folder(scenario_file, tmp_path, monkeypatch, capsys):
    """`citysim run` keeps each replication as it ends: Ctrl-C in the third loses only that one, a damaged
    stored replication is named and run again, and --resume writes the files of an uninterrupted run."""
    import citysim.simulation.replications as replications

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(["run", str(scenario_file), "--replications", "3", "--out", str(whole)]) == EXIT_OK
    original, made = replications.simulate_one, []

    def interrupted_at_2(scenario, replication, *args):  # type: ignore[no-untyped-def]
        if replication == 2:
            raise KeyboardInterrupt
        return original(scenario, replication, *args)

    monkeypatch.setattr(replications, "simulate_one", interrupted_at_2)
    assert main(["run", str(scenario_file), "--replications", "3", "--out", str(cut)]) == 130
    assert "--resume" in capsys.readouterr().err
    stored = sorted(cut.glob("replications/*/*/unit.json"))
    assert len(stored) == 2 and not (cut / "manifest.json").exists()
    damaged = stored[1].parent / "incidents.arrow"
    damaged.write_bytes(damaged.read_bytes()[:-10])

    def counted(scenario, replication, *args):  # type: ignore[no-untyped-def]
        made.append(replication)
        return original(scenario, replication, *args)

    monkeypatch.setattr(replications, "simulate_one", counted)
    assert main(["run", str(scenario_file), "--replications", "3", "--out", str(cut), "--resume"]) == EXIT_OK
    assert made == [1, 2]  # replication 0 was read back; 1 was damaged
    assert f"stored replication {stored[1].parent} is not used" in capsys.readouterr().err
    for name in ("incidents.parquet", "units.parquet", "traffic.parquet", "kpis.csv", "summary.csv"):
        assert (cut / name).read_bytes() == (whole / name).read_bytes(), name
    assert not (cut / "replications").exists()


def test_an_interrupt_while_run_jobs_stores_a_run_keeps_every_finished_run(tmp_path):
    """Ctrl-C arriving while `run_jobs` stores one finished run (not while it waits): that run and every
    other finished one are stored, and the run not started is cancelled. Deterministic: the futures are
    settled by hand."""
    from concurrent.futures import Executor, Future

    from citysim.experiment.batch import run_jobs

    class Settled(Executor):
        """Runs `b1` never; every other call at once, at submission."""

        def __init__(self) -> None:
            self.futures: dict[tuple[str, str, int], Future[UnitResult]] = {}

        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            future: Future[UnitResult] = Future()
            if args[0] != ("b", "c", 1):
                future.set_result(fn(*args))
            self.futures[args[0]] = future
            return future

    class Interrupted(UnitStore):
        """The first attempt to store `a0` is interrupted."""

        def put(self, unit: UnitResult, fingerprint: str) -> None:
            if unit.key == ("a", "c", 0) and not getattr(self, "tripped", False):
                self.tripped = True
                raise KeyboardInterrupt
            super().put(unit, fingerprint)

    def job(name: str, runs: int):  # type: ignore[no-untyped-def]
        calls = [Call((name, "c", k), 0, _unit, ((name, "c", k), 0.0, False)) for k in range(runs)]
        yield calls
        return None

    store, pool = Interrupted(tmp_path), Settled()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_jobs([job("a", 1), job("b", 2)], store, pool, [])
    finally:
        signal.signal(signal.SIGINT, previous)
    fingerprints = {key: Call(key, 0, _unit, (key, 0.0, False)).fingerprint for key in pool.futures}
    kept = {key: store.get(key, fingerprints[key]) is not None for key in pool.futures}
    assert kept == {("a", "c", 0): True, ("b", "c", 0): True, ("b", "c", 1): False}
    assert pool.futures[("b", "c", 1)].cancelled()

"""Processes, disk and command-line conventions: no worker outlives the command, a full disk or a bad
--out is one paragraph and exit 2 before any work, and the options that do not apply are refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from test_parallel import LONG, SMART, _stored_runs

SRC = str(REPO_ROOT / "src")


def _citysim(*args: str, **popen: object) -> subprocess.Popen[str]:
    """`python -m citysim ARGS` in a new session (so its whole process tree can be found)."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen([sys.executable, "-m", "citysim", *args], env=env, start_new_session=True, text=True,
                            **popen)  # type: ignore[call-overload]


def _session_members(sid: int) -> list[int]:
    """Live (not zombie) processes of session `sid`, read from /proc/*/stat."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            members.append(int(stat.parent.name))
    return members


@pytest.mark.parametrize("executor", ["local", "dask"])
def test_sigkill_of_the_main_process_leaves_no_worker(scenario_file, write_yaml, tmp_path, executor):
    """SIGKILL of `citysim experiment X --workers 2` while its workers run (a process pool, or a Dask
    LocalCluster's nanny and worker processes): within 5 s none is alive."""
    if executor == "dask":
        pytest.importorskip("distributed")
    write_yaml("smart.yaml", SMART)
    path = write_yaml("experiment.yaml", LONG)
    out = tmp_path / "out"
    process = _citysim("experiment", str(path), "--out", str(out), "--workers", "2", "--executor", executor,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while (len(_session_members(process.pid)) < 3 or _stored_runs(out) < 1) and time.monotonic() < deadline:
            assert process.poll() is None, "the experiment ended before it could be killed"
            time.sleep(0.05)
        assert len(_session_members(process.pid)) >= 3, "the two workers never started"
        process.kill()
        process.wait()
        killed = time.monotonic()
        while _session_members(process.pid) and time.monotonic() < killed + 5:
            time.sleep(0.05)
        assert _session_members(process.pid) == []
    finally:
        for pid in _session_members(process.pid):
            os.kill(pid, signal.SIGKILL)


def test_ctrl_c_reaches_only_the_main_process(scenario_file, write_yaml, tmp_path):
    """Ctrl-C (SIGINT to the whole process group) with 2 workers: exit 130, one message, no traceback from
    any worker, and no worker left."""
    write_yaml("smart.yaml", SMART)
    path = write_yaml("experiment.yaml", LONG)
    out = tmp_path / "out"
    process = _citysim("experiment", str(path), "--out", str(out), "--workers", "2", stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while _stored_runs(out) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 130, err
        assert "Traceback" not in err and err.count("Interrupted") == 1, err
        assert _session_members(process.pid) == []
    finally:
        for pid in _session_members(process.pid):
            os.kill(pid, signal.SIGKILL)


def test_a_failed_write_is_exit_2_with_one_paragraph_and_the_finished_replications_kept(scenario_file, tmp_path):
    """A write that fails (here a file-size limit, EFBIG, as a full disk gives ENOSPC) ends `citysim run` with
    exit 2 and one paragraph naming the file, no traceback; each replication's logs were stored as it ended."""
    import resource

    limit = 48_000  # above the probe and one replication's stored logs, below the two replications' incidents log

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    out = tmp_path / "out"
    process = _citysim("-q", "run", str(scenario_file), "--replications", "2", "--out", str(out),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limited)  # -q: no progress lines
    _, err = process.communicate(timeout=120)
    assert process.returncode == 2, err
    errors = [line for line in err.splitlines() if not line.startswith("Warning")]
    assert len(errors) == 1 and errors[0].startswith(f"Error in {out / 'incidents.parquet'}: "), err
    assert "File too large" in errors[0] and "Traceback" not in err
    assert not (out / "manifest.json").exists()
    for replication in (0, 1):  # kept, with the record that makes them count (`run --resume` reuses them)
        assert len(list(out.glob(f"replications/*/{replication}/unit.json"))) == 1


def test_too_little_free_space_is_refused_before_any_work(scenario_file, tmp_path, monkeypatch, capsys):
    """An estimate of what a command writes above the disk's free space is exit 2 before simulating."""
    import shutil

    from citysim.cli import EXIT_BAD_INPUT, main
    from citysim.errors import InputError
    from citysim.experiment import scenario_run
    from citysim.output.files import check_free_space, prepare_output_folder

    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(InputError, match="free some space"):
        prepare_output_folder(tmp_path / "a", needed_bytes=free + 2**40)
    prepare_output_folder(tmp_path / "b", needed_bytes=1)
    with pytest.raises(InputError, match=r"has 1\.0 MB free and this command writes about 2\.0 MB"):
        check_free_space(tmp_path, 2 * 2**20, free_bytes=2**20)

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("simulated before the free-space check")

    monkeypatch.setattr(scenario_run, "BYTES_PER_CALL", free)  # about `free` bytes a call: far too much
    monkeypatch.setattr(scenario_run, "simulate", never)
    assert main(["run", str(scenario_file), "--out", str(tmp_path / "c")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "free some space" in err and "Traceback" not in err


def _out_targets(tmp_path: Path) -> dict[str, Path]:
    """--out values that cannot be written: an existing folder, a place nobody may create files in (even
    root), a read-only folder (not for root), a name over NAME_MAX (255 bytes), a path over PATH_MAX (4096)."""
    (tmp_path / "folder").mkdir()
    targets = {"folder": tmp_path / "folder", "unwritable": Path("/proc/citysim-none/page.md"),
               "long name": tmp_path / ("x" * 256 + ".md"), "long path": tmp_path.joinpath(*["d" * 200] * 21, "p.md")}
    if os.geteuid() != 0:  # root writes through file modes
        (tmp_path / "read-only").mkdir(mode=0o555)
        targets["read-only"] = tmp_path / "read-only" / "page.md"
    return targets


@pytest.mark.parametrize("command", ["levers", "errors", "calibrate"])
def test_an_unusable_out_is_exit_2_before_any_work(command, scenario_file, tmp_path, monkeypatch, capsys):
    """`levers|errors|calibrate --out BAD` exits 2 with one paragraph, checked before the page is made."""
    import citysim.analysis.calibration as calibration
    import citysim.config.levers as levers
    import citysim.output.error_catalogue as catalogue
    from citysim.cli import EXIT_BAD_INPUT, main

    def never(*args: object, **kwargs: object) -> str:
        raise AssertionError("the page was made before --out was checked")

    monkeypatch.setattr(calibration, "calibration_page", never)
    monkeypatch.setattr(levers, "levers_markdown", never)
    monkeypatch.setattr(catalogue, "errors_markdown", never)
    head = ["calibrate", str(scenario_file)] if command == "calibrate" else [command]
    for name, out in _out_targets(tmp_path).items():
        assert main([*head, "--out", str(out)]) == EXIT_BAD_INPUT, name
        err = capsys.readouterr().err
        assert err.startswith("Error in ") and err.count("\n") == 1 and "Traceback" not in err, (name, err)


def test_version_help_and_python_dash_m(capsys):
    """`citysim --version` prints the installed version, `--help` lists every exit status, and
    `python -m citysim` is the same command."""
    from importlib.metadata import version

    from citysim.cli import EXIT_CODES, main

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"citysim {version('citysim')}"
    for argv in (["--help"], ["run", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        printed = capsys.readouterr().out
        assert "exit status:" in printed and all(f"  {s.code:<4} {s.meaning}" in printed for s in EXIT_CODES)
    process = _citysim("--version", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and out.strip() == f"citysim {version('citysim')}", err


def test_options_that_do_not_apply_are_refused(tmp_path, write_yaml, scenario_file, capsys):
    """--update-readme on a kind other than a claim check is exit 2 naming the kind, before any run
    (--samples on a non-uncertainty kind: tests/test_uncertainty.py)."""
    from citysim.cli import EXIT_BAD_INPUT, main

    write_yaml("smart.yaml", SMART)
    path = write_yaml("attribution.yaml", "kind: attribution\nname: attr\nseed: 3\n"
                      "situation: {name: small, scenario: scenario.yaml}\nsmart_levers: smart.yaml\n"
                      "groups: {centre: [command_centre]}\nmethod: exact\nreplications: 2\n"
                      "metrics:\n  - {name: arrival, start: t_call, end: t_arrive, claimed_reduction_pct: 20}\n")
    readme = write_yaml("README.md", "nothing to update\n")
    out = tmp_path / "never"
    assert main(["experiment", str(path), "--out", str(out), "--update-readme", str(readme)]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "--update-readme applies to claim checks" in err and "attribution" in err
    assert not out.exists() and readme.read_text() == "nothing to update\n"


@pytest.mark.parametrize("command", ["validate", "run", "compare", "experiment", "plot", "calibrate"])
def test_the_interrupt_message_gives_each_command_its_advice(command, monkeypatch, capsys):
    """Ctrl-C is exit 130 with advice for that command: only those that resume (`experiment`, `run`,
    `calibrate`) offer --resume."""
    import argparse

    import citysim.cli as cli

    def interrupted(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    for function in ("_validate", "_run", "_compare", "_experiment", "_plot", "_calibrate"):
        monkeypatch.setattr(cli, function, interrupted)
    args = argparse.Namespace(command=command, files=[], scenario=None, replications=1, seed=None, out=None,
                              a=None, b=None, metric=[], claims=False, experiment=None, update_readme=None, workers=1,
                              resume=False, executor="local", scheduler=None, samples=None, folder=None, include=[],
                              quiet=False)
    assert cli._dispatch(args) == cli.EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert err.startswith("Interrupted: ") and err.count("\n") == 1
    assert ("--resume" in err) == (command in ("experiment", "run", "calibrate")), err

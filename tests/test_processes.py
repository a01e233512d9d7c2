"""Processes, disk and command-line conventions: no worker outlives the command, a full disk or a bad
--out is one paragraph and exit 2 before any work, and the options that do not apply are refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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


def test_sigkill_of_the_main_process_leaves_no_worker(scenario_file, write_yaml, tmp_path):
    """SIGKILL of `citysim experiment X --workers 2` while its workers run: within 5 s none is alive."""
    write_yaml("smart.yaml", SMART)
    path = write_yaml("experiment.yaml", LONG)
    out = tmp_path / "out"
    process = _citysim("experiment", str(path), "--out", str(out), "--workers", "2",
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

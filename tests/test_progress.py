"""Progress on stderr: a bar on a terminal, a few plain lines elsewhere, nothing with -q; never in the results."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from citysim.cli import EXIT_OK, main
from citysim.progress import SILENT, Reporter
from conftest import SMALL_SMART_YAML


class _Clock:
    """A clock the test moves by hand (the plain lines are rate-limited in time)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _lines_reporter() -> tuple[Reporter, io.StringIO, _Clock]:
    stream, clock = io.StringIO(), _Clock()
    return Reporter(stream=stream, clock=clock), stream, clock


def test_plain_lines_come_each_tenth_but_not_more_often_than_every_30_s():
    """Off a terminal: a line when another 10 % is done and 30 s have passed since the last, with the time left
    from the rate so far; then the total and the time taken."""
    reporter, stream, clock = _lines_reporter()
    with reporter.counter("claim check", 20, "pair") as progress:
        for _ in range(4):  # 20 % done within 8 s: too soon for a line
            clock.now += 2.0
            progress.advance()
        clock.now = 40.0
        progress.advance()  # 5/20 at 40 s: 8 s a pair, 15 left
        clock.now = 41.0
        progress.advance(5)  # 10/20, but 1 s after the last line
    assert stream.getvalue().splitlines() == ["claim check: 5/20 pairs, 02:00 left",
                                              "claim check: 10 pairs done in 00:41"]


def test_plain_lines_silent_on_an_interrupt_and_shrunk_total():
    """An adaptive rule that stops early takes the unneeded runs off the total; an interrupted counter says
    nothing more (the command's interrupt message follows)."""
    reporter, stream, clock = _lines_reporter()
    with reporter.counter("study", 100) as progress:
        progress.shrink(60)
        clock.now = 31.0
        progress.advance(10)
    assert stream.getvalue() == "study: 10/40 runs, 01:33 left\nstudy: 10 runs done in 00:31\n"
    stream.truncate(0)
    stream.seek(0)
    with pytest.raises(KeyboardInterrupt), reporter.counter("study", 10) as progress:
        progress.advance()
        raise KeyboardInterrupt
    assert stream.getvalue() == ""


def test_quiet_reporter_is_silent():
    """-q: no counter and no notes."""
    stream = io.StringIO()
    quiet = Reporter(quiet=True, stream=stream)
    assert quiet.counter("run", 3) is SILENT
    quiet.note("situation weekday")
    assert stream.getvalue() == ""


@pytest.fixture
def short_scenario(write_yaml, small_yaml) -> Path:
    """The small scenario cut to 3 h (it warns of overload: a warning -q must keep)."""
    write_yaml("parent.yaml", small_yaml)
    return write_yaml("short.yaml", "extends: parent.yaml\nname: short\nrun: {duration_min: 180, warmup_min: 30}\n")


def _stderr_on_a_terminal(args: list[str]) -> str:
    """Run `python -m citysim ARGS` with stderr on a new pseudo-terminal (no window size, like `script`),
    and return what it wrote there."""
    leader, follower = pty.openpty()
    with subprocess.Popen([sys.executable, "-m", "citysim", *args], stdout=subprocess.DEVNULL, stderr=follower,
                          stdin=subprocess.DEVNULL) as process:
        os.close(follower)
        chunks = []
        while True:  # read while it runs: a full pty would block it
            ready, _, _ = select.select([leader], [], [], 60)
            if not ready:
                break
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the process closed its end
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=60) == EXIT_OK
    os.close(leader)
    return b"".join(chunks).decode("utf-8", errors="replace")


def test_run_on_a_terminal_draws_a_bar(short_scenario, tmp_path):
    """On a terminal `citysim run` draws a tqdm bar of replications done / total with the time left, even where
    the terminal reports no size."""
    err = _stderr_on_a_terminal(["run", str(short_scenario), "--replications", "3", "--out", str(tmp_path / "r")])
    assert "run short:" in err and "0/3 replications" in err and "3/3 replications" in err
    assert "%|" in err and "\r" in err  # a bar redrawn in place


def test_run_in_a_log_writes_plain_lines(short_scenario, tmp_path):
    """Off a terminal (a pipe): plain lines only, no bar, no carriage returns."""
    process = subprocess.run([sys.executable, "-m", "citysim", "run", str(short_scenario), "--replications", "2",
                              "--out", str(tmp_path / "r")], capture_output=True, text=True, timeout=120)
    assert process.returncode == EXIT_OK
    assert "run short: 2 replications done in " in process.stderr
    assert "\r" not in process.stderr and "%|" not in process.stderr


def _progress_lines(err: str) -> list[str]:
    """stderr without its warnings (a warning's own lines after the first are indented)."""
    lines, in_warning = [], False
    for line in err.splitlines():
        in_warning = line.startswith("Warning:") or (in_warning and line.startswith("  "))
        if not in_warning:
            lines.append(line)
    return lines


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_run_keeps_warnings_and_prints_the_same_table(short_scenario, tmp_path, capsys, where):
    """`citysim -q run` (or `run ... -q`): nothing on stderr but the warnings; stdout byte-identical to a run
    without -q into the same folder."""
    args = ["run", str(short_scenario), "--replications", "2", "--out", str(tmp_path / "r")]
    assert main(args) == EXIT_OK
    loud = capsys.readouterr()
    assert [line[:34] for line in _progress_lines(loud.err)] == ["run short: 2 replications done in "]
    assert main(["-q", *args] if where == "before" else [*args, "-q"]) == EXIT_OK
    quiet = capsys.readouterr()
    assert quiet.out == loud.out
    assert "Warning:" in quiet.err and _progress_lines(quiet.err) == []


CLAIM_CHECK = """\
kind: claim_check
name: quiet-claim
seed: 4242
smart_levers: smart.yaml
situations:
  - {name: ordinary, scenario: short.yaml}
metrics:
  - {name: arrival, start: t_call, end: t_arrive, claimed_reduction_pct: 20}
replications: {min: 2, max: 4, batch: 1, target_half_width_pct: 100}
confidence: 0.95
by_priority: false
"""


def test_quiet_claim_check_writes_the_same_tables(short_scenario, write_yaml, tmp_path, capsys):
    """A claim check with and without -q: the same stdout and claims.csv, byte for byte; without -q the
    per-situation lines and a count of pairs that ends at the pairs run (the rule stopped below its maximum)."""
    write_yaml("smart.yaml", SMALL_SMART_YAML.replace("scenario.yaml", "short.yaml"))
    experiment = write_yaml("claim.yaml", CLAIM_CHECK)
    folders = {}
    for quiet in (False, True):
        out = tmp_path / "claims"
        args = ["experiment", str(experiment), "--out", str(out), "--workers", "1"]
        assert main(["-q", *args] if quiet else args) == EXIT_OK
        folders[quiet] = (capsys.readouterr(), (out / "claims.csv").read_bytes())
    (loud, loud_claims), (quiet, quiet_claims) = folders[False], folders[True]
    assert quiet.out == loud.out and quiet_claims == loud_claims
    lines = _progress_lines(loud.err)
    assert "situation ordinary: baseline short vs smart levers" in lines
    assert any(line.startswith("claim check: 2 pairs done in ") for line in lines), lines
    assert _progress_lines(quiet.err) == []

"""Shared fixtures: a small valid scenario (as YAML text, as data, as a file) and YAML writers."""

from __future__ import annotations

import copy
import os
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
SHANGHAI_BASELINE = REPO_ROOT / "scenarios" / "shanghai" / "baseline.yaml"
MMC_VERIFICATION = REPO_ROOT / "scenarios" / "verification" / "mmc.yaml"

#: A small, valid scenario: 2 districts, 7 units, 2 categories, staffed call centre, 10 h of city time.
#: Hand-written (not dumped) so that tests can find the line of any key in it.
SMALL_SCENARIO_YAML = textwrap.dedent("""\
    name: small-test
    description: two districts, two categories, ten hours
    run:
      seed: 12345
      start_clock_h: 6
      duration_min: 600
      warmup_min: 60
    districts:
      - name: North
        population: 100000
        area_km2: 30.0
        lat: 31.20
        lon: 121.40
        call_share: 0.6
        stations: 2
        units: 4
      - name: South
        population: 80000
        area_km2: 50.0
        lat: 31.25
        lon: 121.50
        call_share: 0.4
        stations: 1
        units: 3
    demand:
      calls_per_day: 400
      hourly_profile: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
      categories:
        urgent:
          share: 0.3
          priority: 1
          units_needed: 2
          phone_resolution_prob: 0.1
          diversion_prob: 0.0
          report_delay: {dist: exponential, mean_min: 2}
          talk: {dist: lognormal, mean_min: 1.5, cv: 0.5}
          scene: {dist: lognormal, mean_min: 30, cv: 0.8}
        routine:
          share: 0.7
          priority: 3
          units_needed: 1
          phone_resolution_prob: 0.3
          diversion_prob: 0.1
          report_delay: {dist: exponential, mean_min: 5}
          talk: {dist: lognormal, mean_min: 1.0, cv: 0.5}
          scene: {dist: lognormal, mean_min: 20, cv: 0.8}
    call_centre:
      kind: staffed
      call_takers_by_hour: [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]
    dispatch:
      policy: home_district
      decision_delay: {dist: lognormal, mean_min: 0.6, cv: 0.5}
    fleet:
      on_duty_fraction_by_hour: [0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 1, 1, 1, 1, 1,
                                 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
      idle_at: station
    travel:
      kind: straight_line
      circuity: 1.3
      speed_kmh_by_hour: [30, 30, 30, 30, 30, 30, 25, 20, 20, 25, 25, 25,
                          25, 25, 25, 25, 25, 20, 20, 25, 30, 30, 30, 30]
      turnout: {dist: lognormal, mean_min: 2.0, cv: 0.5}
      noise_cv: 0.3
    """)

_SMALL_SCENARIO_DATA: dict[str, Any] = yaml.safe_load(SMALL_SCENARIO_YAML)

#: Every process the suite starts inherits this variable, so the end of the session can find any left alive.
SUITE_MARKER = "CITYSIM_TEST_SUITE"
os.environ[SUITE_MARKER] = str(os.getpid())
#: Interpreter helpers that exit with the interpreter itself, not leftovers of a test.
_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def suite_processes(marker: str) -> list[int]:
    """Live processes (not zombies, not this one) whose environment carries SUITE_MARKER=marker (Linux /proc)."""
    needle = f"{SUITE_MARKER}={marker}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        pid = int(proc.name)
        try:
            if pid == os.getpid() or needle not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (proc / "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if state not in ("Z", "X") and not any(helper.encode() in command for helper in _HELPERS):
            found.append(pid)
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Fail the session if a process the suite started is still alive at its end (allowing 5 s to exit);
    the leftovers are named and killed, so they do not outlive the suite."""
    import signal

    if not Path("/proc/self/environ").exists() or os.environ.get(SUITE_MARKER) != str(os.getpid()):
        return  # no /proc, or a worker of a distributed run (the controller checks)
    deadline = time.monotonic() + 5
    while (left := suite_processes(str(os.getpid()))) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not left:
        return
    commands = []
    for pid in left:
        try:
            commands.append(f"{pid}: " + (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ")
                            .decode(errors="replace")[:120])
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = "processes started by the test suite were still alive at its end (now killed):\n" + "\n".join(commands)
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(message, red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _line_of(text: str, needle: str, start: int = 1) -> int:
    """1-based number of the first line at or after `start` that contains `needle`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= start and needle in line:
            return number
    raise AssertionError(f"{needle!r} not found in the text")


@pytest.fixture(scope="session")
def line_of() -> Callable[..., int]:
    """`line_of(text, needle, start=1)`: the 1-based line of the first occurrence of `needle`."""
    return _line_of


@pytest.fixture(scope="session")
def scenario_data() -> Callable[[], dict[str, Any]]:
    """A factory of fresh (deep-copied) small-scenario dicts; session-scoped so hypothesis can use it."""
    return lambda: copy.deepcopy(_SMALL_SCENARIO_DATA)


@pytest.fixture
def small_scenario_data(scenario_data: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The small scenario as a plain dict, free to modify."""
    return scenario_data()


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[[str, str | dict[str, Any]], Path]:
    """Write YAML into tmp_path: text is written as is (dedented), a dict is dumped in key order."""

    def write(name: str, content: str | dict[str, Any]) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            text = textwrap.dedent(content)
        else:
            text = yaml.safe_dump(content, sort_keys=False, allow_unicode=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    """The small scenario written to tmp_path/scenario.yaml."""
    path = tmp_path / "scenario.yaml"
    path.write_text(SMALL_SCENARIO_YAML, encoding="utf-8")
    return path


#: An operations block for the small scenario (appended to it by `ops_scenario_file`): radio look-ups through a
#: one-desk back office, 15 min reports (half filed at the station), a little other work.
SMALL_OPERATIONS_YAML = textwrap.dedent("""\
    operations:
      other_work:
        - {name: patrol, starts_per_hour: 0.3, duration: {dist: lognormal, mean_min: 20, cv: 0.5},
           on_dispatch: interrupt, interrupt_delay: {dist: fixed, value_min: 1}, deferrable: false}
      lookups:
        back_office:
          staff_by_hour: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
          service: {dist: exponential, mean_min: 2}
        terminal: {dist: fixed, value_min: 0.5}
      case_closure: {station_trip_share: 0.5, terminal_report_factor: 1.0}
      by_category:
        urgent: {lookups_mean: 2.0, report: {dist: fixed, value_min: 15}}
        routine: {lookups_mean: 2.0, report: {dist: fixed, value_min: 15}}
      driving:
        lights_and_siren_priorities: [1]
        signals: {arterial_per_km: 2.0, local_per_km: 1.0, delay_min: 0.35, lights_siren_share: 0.7}
    """)


#: The small scenario's smart twin (two levers) and a busier situation, for experiment files beside it.
SMALL_SMART_YAML = textwrap.dedent("""\
    extends: scenario.yaml
    name: small-smart
    levers:
      command_centre: {strength: 0.34, location_share: 0.5}
      mobile_terminals: {strength: 0.8}
    """)
SMALL_BUSY_YAML = "extends: scenario.yaml\nname: small-busy\ndemand:\n  calls_per_day: 480\n"


#: The small scenario with an operations block and twice the units (operations take unit time, and the
#: small scenario is already heavily loaded).
SMALL_OPS_SCENARIO_YAML = SMALL_SCENARIO_YAML.replace("units: 4", "units: 8").replace("units: 3", "units: 6") + \
    SMALL_OPERATIONS_YAML


@pytest.fixture
def ops_scenario_file(scenario_file: Path) -> Path:
    """SMALL_OPS_SCENARIO_YAML written to tmp_path/scenario.yaml."""
    scenario_file.write_text(SMALL_OPS_SCENARIO_YAML, encoding="utf-8")
    return scenario_file


@pytest.fixture
def small_yaml() -> str:
    """The small scenario's YAML text (to look up line numbers or patch)."""
    return SMALL_SCENARIO_YAML


@pytest.fixture(scope="session")
def shanghai_path() -> Path:
    """The Shanghai baseline scenario shipped with the repository."""
    return SHANGHAI_BASELINE


@pytest.fixture(scope="session")
def shipped_scenarios() -> list[Path]:
    """Every scenario file under scenarios/ (sorted; priors files, which hold distributions, are not scenarios)."""
    return sorted(p for p in (REPO_ROOT / "scenarios").rglob("*.yaml") if p.name != "priors.yaml")


@pytest.fixture(scope="session")
def mmc_path() -> Path:
    """The M/M/c verification scenario shipped with the repository."""
    return MMC_VERIFICATION


#: A claim check of the small scenario whose names must stay text in the reports: a situation called
#: <script>, an HTML description (tests/test_plots.py, tests/test_browser.py).
PLOT_CHECK_YAML = textwrap.dedent("""\
    kind: claim_check
    name: plot-check
    description: "<b>bold</b> & friends"
    seed: 5
    smart_levers: smart.yaml
    situations:
      - {name: "<script>alert(1)</script>", scenario: scenario.yaml}
    metrics:
      - {name: arrival, start: t_call, end: t_arrive, claimed_reduction_pct: 20}
      - {name: handling, start: t_arrive, end: t_clear, claimed_reduction_pct: 35}
    replications: {min: 2, max: 2, batch: 1, target_half_width_pct: 50}
    confidence: 0.95
    by_priority: false
    """)
PLOT_CHECK_SMART_YAML = "extends: scenario.yaml\nname: small-smart\nlevers:\n  mobile_terminals: {strength: 0.2}\n"


def run_plot_check(folder: Path) -> Path:
    """Write the small scenario, its smart twin and PLOT_CHECK_YAML into `folder`, run the claim check; its
    results folder."""
    from citysim.cli import EXIT_OK, main

    (folder / "scenario.yaml").write_text(SMALL_SCENARIO_YAML, encoding="utf-8")
    (folder / "smart.yaml").write_text(PLOT_CHECK_SMART_YAML, encoding="utf-8")
    (folder / "experiment.yaml").write_text(PLOT_CHECK_YAML, encoding="utf-8")
    out = folder / "results"
    assert main(["experiment", str(folder / "experiment.yaml"), "--out", str(out)]) == EXIT_OK
    return out

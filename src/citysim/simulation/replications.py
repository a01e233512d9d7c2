"""Run a scenario for several replications and collect logs, KPIs and their summary."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd

from citysim.city.loading import load_scenario
from citysim.config import Scenario
from citysim.police.dispatch import DispatchPolicy
from citysim.progress import SILENT, Progress
from citysim.simulation.kpis import run_kpis, summarise
from citysim.simulation.logs import RunLogs
from citysim.simulation.model import simulate_one


class ReplicationStore(Protocol):
    """Where finished replications are kept as each ends, and read back instead of run again."""

    def reuse(self, replication: int) -> tuple[RunLogs, pd.DataFrame] | None:
        """The replication's logs and KPI rows, if it finished before with the same inputs."""

    def keep(self, replication: int, logs: RunLogs, kpis: pd.DataFrame) -> None:
        """Store a replication that just finished."""


@dataclass(frozen=True)
class Simulation:
    """Replications 0..n-1 of one scenario with root seed `seed`."""

    scenario: Scenario
    seed: int
    replications: int
    logs: RunLogs
    kpis: pd.DataFrame
    summary: pd.DataFrame
    wall_seconds: float


def simulate(scenario: Scenario | str | Path, replications: int = 1, seed: int | None = None,
             policy: DispatchPolicy | None = None, store: ReplicationStore | None = None,
             progress: Progress = SILENT) -> Simulation:
    """Simulate replications of a scenario (a `Scenario` or a YAML path); seed defaults to `run.seed`, the
    dispatch policy to the scenario's `dispatch.policy`. A `store` keeps each replication as it ends
    (`citysim run` and `calibrate`, so a failure later loses none) and gives back those it already holds;
    `progress` counts the replications as they are done."""
    if replications < 1:
        raise ValueError("replications must be at least 1")
    if store is not None and policy is not None:
        raise ValueError("a replication store knows runs by their scenario; give the policy as dispatch.policy")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    root_seed = scenario.run.seed if seed is None else seed
    started = time.perf_counter()
    parts, kpi_frames = [], []
    for replication in range(replications):
        held = store.reuse(replication) if store is not None else None
        if held is None:
            result = simulate_one(scenario, replication, root_seed, policy)
            logs = result.logs
            kpi_rows = run_kpis(logs, result.monitors, replication, scenario.run.warmup_min,
                                scenario.run.duration_min, scenario.run.start_clock_h)
            if store is not None:
                store.keep(replication, logs, kpi_rows)
        else:
            logs, kpi_rows = held
        parts.append(logs)
        kpi_frames.append(kpi_rows)
        progress.advance()
    kpis = pd.concat(kpi_frames, ignore_index=True)
    return Simulation(
        scenario=scenario,
        seed=root_seed,
        replications=replications,
        logs=RunLogs.concat(parts),
        kpis=kpis,
        summary=summarise(kpis),
        wall_seconds=time.perf_counter() - started,
    )

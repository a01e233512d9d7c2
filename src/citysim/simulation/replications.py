"""Run a scenario for several replications and collect logs, KPIs and their summary."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from citysim.city.loading import load_scenario
from citysim.config import Scenario
from citysim.police.dispatch import DispatchPolicy
from citysim.simulation.kpis import run_kpis, summarise
from citysim.simulation.logs import RunLogs
from citysim.simulation.model import simulate_one


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
             policy: DispatchPolicy | None = None,
             on_replication: Callable[[int, RunLogs], None] | None = None) -> Simulation:
    """Simulate replications of a scenario (a `Scenario` or a YAML path); seed defaults to `run.seed`, the
    dispatch policy to the scenario's `dispatch.policy`. `on_replication(k, logs)` sees each replication's
    logs as it ends (`citysim run` stores them at once, so a failure later loses none of them)."""
    if replications < 1:
        raise ValueError("replications must be at least 1")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    root_seed = scenario.run.seed if seed is None else seed
    started = time.perf_counter()
    parts, kpi_frames = [], []
    for replication in range(replications):
        result = simulate_one(scenario, replication, root_seed, policy)
        parts.append(result.logs)
        if on_replication is not None:
            on_replication(replication, result.logs)
        kpi_frames.append(run_kpis(result.logs, result.monitors, replication, scenario.run.warmup_min,
                                   scenario.run.duration_min, scenario.run.start_clock_h))
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

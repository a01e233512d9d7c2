"""Run a batch of runs through the result store: runs the store holds are read back, the others run
here or on the executor, and each is stored the moment it finishes, so an interruption loses only the
runs still in progress. A run that raises becomes a `Failure`; the others complete."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, as_completed
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import pandas as pd

from citysim.experiment.runs import Key, UnitResult
from citysim.experiment.store import UnitStore


@dataclass(frozen=True)
class Failure:
    """A run that raised: which one, with what seed, and why."""

    situation: str
    config: str
    replication: int
    seed: int
    error: str


@dataclass(frozen=True)
class Call:
    """One run to make: its store key, its seed (for the failure report) and the call that makes it."""

    key: Key
    seed: int
    function: Callable[..., UnitResult]
    args: tuple[Any, ...]


def run_stored(calls: list[Call], store: UnitStore, executor: Executor | None,
               failures: list[Failure]) -> dict[Key, UnitResult]:
    """Every call's result by key, from the store or freshly run (and then stored)."""
    results: dict[Key, UnitResult] = {}
    todo = []
    for call in calls:
        unit = store.get(call.key)
        if unit is None:
            todo.append(call)
        else:
            results[call.key] = unit

    def finished(call: Call, run: Callable[[], UnitResult]) -> None:
        try:
            unit = run()
        except Exception as exc:
            situation, config, replication = call.key
            failures.append(Failure(situation, config, replication, call.seed, f"{type(exc).__name__}: {exc}"))
            return
        store.put(unit)
        results[call.key] = unit

    if executor is None:
        for call in todo:
            finished(call, partial(call.function, *call.args))
    else:
        futures = {executor.submit(call.function, *call.args): call for call in todo}
        for future in as_completed(futures):
            finished(futures[future], future.result)
    return results


def failures_frame(failures: list[Failure]) -> pd.DataFrame:
    """failures.csv: one row per run that raised."""
    return pd.DataFrame([asdict(f) for f in failures], columns=["situation", "config", "replication", "seed", "error"])

"""Run a batch of runs through the result store: runs the store holds are read back, the others run
here or on the executor, and each is stored the moment it finishes. On an interrupt every run already
finished is stored before the interrupt goes on, and the runs not yet started are cancelled, so an
interruption loses only the runs in progress. A run that raises becomes a `Failure`; the others
complete."""

from __future__ import annotations

from collections.abc import Callable, Container, Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, as_completed, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cached_property, partial
from typing import Any

import pandas as pd

from citysim.experiment.fingerprint import run_fingerprint
from citysim.experiment.runs import Key, UnitResult
from citysim.experiment.store import UnitStore
from citysim.progress import SILENT, Progress


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

    @cached_property
    def fingerprint(self) -> str:
        """What the run is made from: a stored run is reused only under the same fingerprint."""
        return run_fingerprint(self.function, self.args)


#: A job that runs in batches: it yields the calls of its next batch, is sent their results by key, and
#: returns its outcome once it needs no more (an adaptive replication rule, say).
Job = Generator[list[Call], dict[Key, UnitResult], Any]


def _finish(call: Call, run: Callable[[], UnitResult], store: UnitStore, results: dict[Key, UnitResult],
            failures: list[Failure], progress: Progress = SILENT) -> None:
    """Collect one run: stored the moment it is done, or recorded as a failure if it raised; counted
    either way."""
    try:
        unit = run()
    except Exception as exc:
        situation, config, replication = call.key
        failures.append(Failure(situation, config, replication, call.seed, f"{type(exc).__name__}: {exc}"))
        return
    finally:
        progress.advance()
    store.put(unit, call.fingerprint)
    results[call.key] = unit


def _split(calls: list[Call], store: UnitStore, progress: Progress) -> tuple[dict[Key, UnitResult], list[Call]]:
    """The calls' results the store already holds (counted as done), and the calls still to run."""
    held: dict[Key, UnitResult] = {}
    todo = []
    for call in calls:
        unit = store.get(call.key, call.fingerprint)
        if unit is None:
            todo.append(call)
        else:
            held[call.key] = unit
    progress.advance(len(held))
    return held, todo


def run_stored(calls: list[Call], store: UnitStore, executor: Executor | None, failures: list[Failure],
               progress: Progress = SILENT) -> dict[Key, UnitResult]:
    """Every call's result by key, from the store or freshly run (and then stored); `progress` counts
    each call as it is done."""
    results, todo = _split(calls, store, progress)
    if executor is None:
        for call in todo:
            _finish(call, partial(call.function, *call.args), store, results, failures, progress)
    else:
        futures = {executor.submit(call.function, *call.args): call for call in todo}
        with _keeping_finished(futures.items, store, results, failures):
            for future in as_completed(futures):
                _finish(futures[future], future.result, store, results, failures, progress)
    return results


@contextmanager
def _keeping_finished(pending: Callable[[], Iterable[tuple[Future[UnitResult], Call]]], store: UnitStore,
                      collected: Container[Key], failures: list[Failure]) -> Iterator[None]:
    """On an interrupt (or any error) in the block: store every run of `pending()` that has finished but is
    not yet `collected`, cancel the runs not started, then let the interrupt go on."""
    try:
        yield
    except BaseException:
        for future, call in list(pending()):
            if future.cancel() or call.key in collected:
                continue
            if future.done() and future.exception() is None:
                _finish(call, future.result, store, {}, failures)
        raise


def run_jobs(jobs: list[Job], store: UnitStore, executor: Executor | None, failures: list[Failure],
             progress: Progress = SILENT) -> list[Any]:
    """Drive several batched jobs at once and return their outcomes, in job order; `progress` counts
    each call as it is done.

    Serially each job runs to its end in turn. On an executor every job's next batch is submitted the
    moment its previous batch is done, so that the workers never wait for one job's last run while
    another job has work. A job decides only from its own results, so the outcomes do not depend on
    which run finished first."""
    outcomes: list[Any] = [None] * len(jobs)
    if executor is None:
        for index, job in enumerate(jobs):
            try:
                calls = next(job)
                while True:
                    calls = job.send(run_stored(calls, store, None, failures, progress))
            except StopIteration as stop:
                outcomes[index] = stop.value
        return outcomes
    running: dict[Future[UnitResult], tuple[int, Call]] = {}
    batches: dict[int, tuple[dict[Key, UnitResult], list[int]]] = {}  # job -> (results, [runs left])

    def start(index: int, step: Callable[[], list[Call]]) -> None:
        while True:  # a batch the store holds whole is answered at once
            try:
                calls = step()
            except StopIteration as stop:
                outcomes[index] = stop.value
                return
            held, todo = _split(calls, store, progress)
            if todo:
                batches[index] = (held, [len(todo)])
                running.update({executor.submit(call.function, *call.args): (index, call) for call in todo})
                return
            step = partial(jobs[index].send, held)

    collected: set[Key] = set()

    def pending() -> Iterator[tuple[Future[UnitResult], Call]]:
        return ((future, call) for future, (_, call) in running.items())

    with _keeping_finished(pending, store, collected, failures):
        for index, job in enumerate(jobs):
            start(index, partial(next, job))
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index, call = running[future]
                results, left = batches[index]
                _finish(call, future.result, store, results, failures, progress)
                collected.add(call.key)
                del running[future]
                left[0] -= 1
                if not left[0]:
                    del batches[index]
                    start(index, partial(jobs[index].send, results))
    return outcomes


def failures_frame(failures: list[Failure]) -> pd.DataFrame:
    """failures.csv: one row per run that raised."""
    return pd.DataFrame([asdict(f) for f in failures], columns=["situation", "config", "replication", "seed", "error"])

"""Where an experiment's runs execute: here (serial), in a local process pool, or on a Dask cluster.

Every experiment kind takes a `concurrent.futures.Executor` or None (serial), so one choice serves
them all. Seeds are fixed before a run is handed out and results are gathered in submission order,
so the tables are identical whichever executor ran them.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Literal

from citysim.errors import InputError

ExecutorKind = Literal["local", "dask"]


@contextmanager
def open_executor(kind: ExecutorKind, workers: int, scheduler: str | None = None) -> Iterator[Executor | None]:
    """`local`: None (serial) for one worker, else a process pool of `workers`; `dask`: the cluster at
    `scheduler`, or a LocalCluster of `workers` single-threaded processes. Closed on exit."""
    if kind == "dask" or scheduler is not None:
        with _dask_executor(workers, scheduler) as executor:
            yield executor
    elif workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            yield pool
    else:
        yield None


@contextmanager
def _dask_executor(workers: int, scheduler: str | None) -> Iterator[Executor]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError(None, "the Dask executor needs the optional extra: pip install 'citysim[dask]'.") from None
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise InputError(None, f"cannot reach the Dask scheduler at {scheduler} ({exc}).") from None
        with client:
            yield client.get_executor()
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client.get_executor()

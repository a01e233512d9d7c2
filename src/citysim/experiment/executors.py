"""Where an experiment's runs execute: here (serial), in a local process pool, or on a Dask cluster.

Every experiment kind takes a `concurrent.futures.Executor` or None (serial), so one choice serves
them all. Seeds are fixed before a run is handed out and results are gathered in submission order,
so the tables are identical whichever executor ran them.

Workers never outlive the command. A local pool's workers ask Linux to kill them when the main process
dies (the parent-death signal; elsewhere a thread watches the parent), so even a SIGKILL of the main
process leaves none behind; they ignore Ctrl-C, which only the main process handles; and an interrupt
cancels the queued runs and stops the running ones at once instead of waiting for them. A Dask
LocalCluster's worker processes already exit when the main process dies (distributed watches its
parent through a pipe); they ignore Ctrl-C too (a preload), and the cluster is closed on an interrupt.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager, suppress
from typing import Literal

from citysim.errors import InputError

ExecutorKind = Literal["local", "dask"]

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_WATCH_SECONDS = 0.5  # how often a worker without the parent-death signal checks its parent


@contextmanager
def open_executor(kind: ExecutorKind, workers: int, scheduler: str | None = None) -> Iterator[Executor | None]:
    """`local`: None (serial) for one worker, else a process pool of `workers`; `dask`: the cluster at
    `scheduler`, or a LocalCluster of `workers` single-threaded processes. Closed on exit."""
    if kind == "dask" or scheduler is not None:
        with _dask_executor(workers, scheduler) as executor:
            yield executor
    elif workers > 1:
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_worker_started, initargs=(os.getpid(),))
        try:
            yield pool
        except BaseException:
            _stop_now(pool)  # an interrupt (or a failure) does not wait for the runs still going
            raise
        pool.shutdown(wait=True)
    else:
        yield None


def _worker_started(main_pid: int) -> None:
    """A pool worker's set-up: die with the main process, leave Ctrl-C to it, and stop quietly on SIGTERM.

    The main process's SIGTERM handler (which raises KeyboardInterrupt) is inherited by a forked worker;
    it is reset, so stopping a worker never prints a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if not _set_parent_death_signal():
        threading.Thread(target=_watch_parent, args=(os.getppid(),), name="watch-parent", daemon=True).start()
    if not _alive(main_pid):
        os._exit(1)  # the main process died before the signal was armed


def _set_parent_death_signal() -> bool:
    """Ask Linux to SIGKILL this process when its parent dies; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    """Exit this process once its parent is gone (it is then re-parented, so getppid changes)."""
    while os.getppid() == parent:
        time.sleep(_WATCH_SECONDS)
    os._exit(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued runs and kill the workers still running one (they hold nothing to save)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.kill()
    for process in processes:
        process.join(timeout=5)


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
                      dashboard_address=None, preload=[__name__]) as cluster, Client(cluster) as client:
        yield client.get_executor()


def dask_setup(worker: object) -> None:
    """A LocalCluster worker's preload (this module): leave Ctrl-C to the main process, as pool workers do,
    so an interrupt prints one message and no worker traceback."""
    with suppress(ValueError):  # not the worker process's main thread: nothing to change
        signal.signal(signal.SIGINT, signal.SIG_IGN)

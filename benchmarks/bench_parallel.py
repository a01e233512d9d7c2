"""Parallel benchmark: a whole claim check (runs, tables, charts and reports) on 1 and 2 local workers
and on a 2-worker Dask LocalCluster, each in a fresh process; the peak memory of the main process and
of its largest worker as replications grow; and the per-task overhead of the process pool and of Dask.

The experiment is the default claim check cut to two situations (weekday, heavy rain) and a fixed
4 replication pairs each, so every run does the same 16 simulations and draws the same charts.
Run: python benchmarks/bench_parallel.py   (Dask comes with pip install -e '.[dask]')
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

import yaml

from citysim.machine import machine_line

ROOT = Path(__file__).resolve().parents[1]
TASKS = 200


def _nothing(value: int) -> int:
    return value


def overhead_ms(executor: Executor) -> float:
    """Mean wall milliseconds per trivial task submitted and collected."""
    list(executor.map(_nothing, range(10)))  # warm up
    start = time.perf_counter()
    for future in [executor.submit(_nothing, i) for i in range(TASKS)]:
        future.result()
    return 1000.0 * (time.perf_counter() - start) / TASKS


def experiment_file(folder: Path, pairs: int = 4, situations: tuple[str, ...] = ("weekday", "heavy rain")) -> Path:
    spec = yaml.safe_load((ROOT / "experiments" / "claim_check.yaml").read_text(encoding="utf-8"))
    spec["situations"] = [s for s in spec["situations"] if s["name"] in situations]
    for situation in spec["situations"]:
        situation["scenario"] = str((ROOT / "experiments" / situation["scenario"]).resolve())
    spec["smart_levers"] = str((ROOT / "experiments" / spec["smart_levers"]).resolve())
    spec["replications"] = {"min": pairs, "max": pairs, "batch": 1, "target_half_width_pct": 100.0}
    path = folder / f"bench-{pairs}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return path


def run_experiment(path: Path, out: Path, *options: str) -> tuple[float, float, float]:
    """`citysim experiment` in a fresh process: wall seconds, and the peak resident MiB of that process
    and of its largest worker (0 when serial)."""
    code = ("import resource, sys; from citysim.cli import main; "
            f"code = main(['experiment', {str(path)!r}, '--out', {str(out)!r}, *{list(options)!r}]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(code)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    main_kib, worker_kib = done.stderr.strip().splitlines()[-1].split()
    return seconds, int(main_kib) / 1024.0, int(worker_kib) / 1024.0  # ru_maxrss is in KiB on Linux


def main() -> None:
    try:
        import distributed  # noqa: F401

        have_dask = True
    except ImportError:
        have_dask = False
    print(f"claim check, 2 situations x 4 pairs (16 simulations, 11 charts); {machine_line()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = experiment_file(folder)
        cases: dict[str, tuple[str, ...]] = {"1 worker": ("--workers", "1"),
                                             "2 workers (process pool)": ("--workers", "2")}
        if have_dask:
            cases["2 workers (Dask LocalCluster)"] = ("--workers", "2", "--executor", "dask")
        measured = {}
        for index, (name, options) in enumerate(cases.items()):
            measured[name] = run_experiment(path, folder / f"out{index}", *options)
        reference = (folder / "out0" / "runs.csv").read_bytes()
        identical = all((folder / f"out{i}" / "runs.csv").read_bytes() == reference for i in range(len(cases)))
        serial = measured["1 worker"][0]
        for name, (seconds, main_mib, worker_mib) in measured.items():
            # Serially there is no worker (RUSAGE_CHILDREN then sees only short-lived forks such as git).
            worker = f", largest worker {worker_mib:.0f} MiB" if name != "1 worker" else ""
            print(f"{name:<31}{seconds:>7.1f} s  speed-up {serial / seconds:.2f}x  peak memory: main "
                  f"{main_mib:.0f} MiB{worker}")
        print(f"target: 2 workers >= 1.9x; runs.csv identical in all: {identical}")
    with tempfile.TemporaryDirectory() as tmp:
        memory = {pairs: run_experiment(experiment_file(Path(tmp), pairs, ("weekday",)), Path(tmp) / f"m{pairs}",
                                        "--workers", "2") for pairs in (2, 8)}
    print("peak memory as replications grow (1 situation, 2 workers): "
          + ", ".join(f"{pairs} pairs: main {m:.0f} MiB, worker {w:.0f} MiB" for pairs, (_s, m, w) in memory.items())
          + f" (worker ratio {memory[8][2] / memory[2][2]:.2f}; bounded if near 1)")
    with ProcessPoolExecutor(max_workers=2) as pool:
        print(f"per-task overhead, process pool: {overhead_ms(pool):.2f} ms")
    if not have_dask:
        print("Dask not installed (pip install -e '.[dask]'): Dask overhead skipped")
        return
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        print(f"per-task overhead, Dask LocalCluster: {overhead_ms(client.get_executor()):.2f} ms")


if __name__ == "__main__":
    main()

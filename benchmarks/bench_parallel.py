"""Parallel benchmark: a claim check with 1 and 2 local workers, the per-task overhead of the
process pool and of a Dask LocalCluster (if installed), and the claim check's peak memory as the
number of replications grows (each in a fresh process, serial), measured in one run.

The experiment is the default claim check cut to two situations (weekday, heavy rain) and a fixed
4 replication pairs each, so both runs do the same 16 simulations.
Run: python benchmarks/bench_parallel.py
"""

from __future__ import annotations

import tempfile
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

import yaml

from citysim.config.experiment import load_experiment
from citysim.experiment.claim_check import run_claim_check
from citysim.experiment.executors import open_executor
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


def peak_rss_mib(path: Path, out: Path) -> float:
    """Peak resident memory of `citysim experiment` run serially in a fresh child process, in MiB."""
    import subprocess
    import sys

    code = ("import resource, sys; from citysim.cli import main; "
            f"main(['experiment', {str(path)!r}, '--out', {str(out)!r}, '--workers', '1']); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(done.stderr.strip().splitlines()[-1]) / 1024.0  # ru_maxrss is in KiB on Linux


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


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = experiment_file(folder)
        experiment, _ = load_experiment(path)
        seconds = {}
        for workers in (1, 2):
            out = folder / f"w{workers}"
            out.mkdir()
            start = time.perf_counter()
            with open_executor("local", workers) as executor:
                run_claim_check(experiment, path, out, progress=lambda _m: None, executor=executor)
            seconds[workers] = time.perf_counter() - start
        identical = (folder / "w1" / "runs.csv").read_bytes() == (folder / "w2" / "runs.csv").read_bytes()
    print(f"claim check, 2 situations x 4 pairs (16 simulations); {machine_line()}")
    print(f"1 worker {seconds[1]:.1f} s, 2 workers {seconds[2]:.1f} s: speed-up {seconds[1] / seconds[2]:.2f}x "
          f"(target >= 1.8x); results identical: {identical}")
    with tempfile.TemporaryDirectory() as tmp:
        memory = {pairs: peak_rss_mib(experiment_file(Path(tmp), pairs, ("weekday",)), Path(tmp) / f"m{pairs}")
                  for pairs in (2, 8)}
    print(f"peak memory, claim check of 1 situation: 2 pairs {memory[2]:.0f} MiB, 8 pairs {memory[8]:.0f} MiB "
          f"(ratio {memory[8] / memory[2]:.2f}; bounded if near 1)")
    with ProcessPoolExecutor(max_workers=2) as pool:
        print(f"per-task overhead, process pool: {overhead_ms(pool):.2f} ms")
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("Dask not installed (pip install -e '.[dask]'): Dask overhead skipped")
        return
    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster, \
            Client(cluster) as client:
        print(f"per-task overhead, Dask LocalCluster: {overhead_ms(client.get_executor()):.2f} ms")


if __name__ == "__main__":
    main()

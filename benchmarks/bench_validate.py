"""Validation benchmark: what `citysim validate` costs on the largest inputs the limits allow and on hostile
ones they refuse (docs/limits.md quotes these figures).

Each case is a fresh `python -m citysim.cli validate FILE` process (imports included), timed by the wall
clock and measured by its peak resident memory (getrusage of the child); the median of --rounds runs is
reported, with the ratio to validating the Shanghai baseline measured alternately in the same loop.
Run: python benchmarks/bench_validate.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from citysim.machine import machine_line
from citysim.output.error_catalogue import BASE

REPO = Path(__file__).resolve().parents[1]
SHANGHAI = REPO / "scenarios" / "shanghai" / "baseline.yaml"


def _small(change: dict[str, object], district: dict[str, object] | None = None) -> str:
    """The error catalogue's small valid scenario with top-level keys changed, and `district` its only
    district's changes (the second one is dropped, so a large first one overlaps nothing)."""
    data = yaml.safe_load(BASE)
    data.update(change)
    data["districts"] = [{**data["districts"][0], "call_share": 1.0, **(district or {})}]
    return yaml.safe_dump(data, sort_keys=False)


def _shanghai_child(body: str) -> str:
    return f"extends: {SHANGHAI}\nname: hostile\n{body}"


#: (name, file text, expected exit status).
CASES = [
    ("largest valid demand surface (one district of 78,000 km2, about 400,000 cells)",
     _small({}, {"area_km2": 78_000.0}), 0),
    ("a large valid road network (Shanghai with a 1 km inner and 3 km outer lattice)",
     _shanghai_child("network:\n  grid: {inner_radius_km: 16, inner_spacing_km: 1.0, outer_spacing_km: 3.0, "
                     "lanes: 2}\n"), 0),
    ("hostile: lattice spacing 1e-9 km", _shanghai_child(
        "network:\n  grid: {inner_radius_km: 16, inner_spacing_km: 1.0e-9, outer_spacing_km: 1.0e-9, lanes: 2}\n"), 2),
    ("hostile: 1e8 crashes a day", _shanghai_child("crashes:\n  crashes_per_day: 1.0e8\n"), 2),
    ("hostile: duration 1e12 min", _small({"run": {"seed": 1, "start_clock_h": 0, "duration_min": 1e12,
                                                   "warmup_min": 60}}), 2),
    ("hostile: district area 1e9 km2", _small({}, {"area_km2": 1e9}), 2),
]


def _validate(path: Path) -> tuple[float, float, int]:
    """(wall seconds, peak resident MiB, exit status) of one `citysim validate` process."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "citysim.cli", "validate", str(path)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, process.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    print(machine_line())
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for index, (_, text, _) in enumerate(CASES):
            files.append(Path(tmp) / f"case{index}.yaml")
            files[-1].write_text(text, encoding="utf-8")
        print(f"{'case':<80} {'exit':>4} {'s':>6} {'MiB':>6} {'x Shanghai':>10}")
        for (name, _, expected), path in zip(CASES, files, strict=True):
            measured, baseline = [], []
            for _ in range(rounds):
                baseline.append(_validate(SHANGHAI)[0])
                measured.append(_validate(path))
            seconds = statistics.median(m[0] for m in measured)
            peak = max(m[1] for m in measured)
            codes = {m[2] for m in measured}
            assert codes == {expected}, (name, codes)
            ratio = seconds / statistics.median(baseline)
            print(f"{name:<80} {expected:>4} {seconds:>6.2f} {peak:>6.0f} {ratio:>10.2f}")
        shanghai = [_validate(SHANGHAI) for _ in range(rounds)]
        print(f"{'Shanghai baseline (for the ratios)':<80} {0:>4} {statistics.median(s[0] for s in shanghai):>6.2f} "
              f"{max(s[1] for s in shanghai):>6.0f} {1.0:>10.2f}")


if __name__ == "__main__":
    main()

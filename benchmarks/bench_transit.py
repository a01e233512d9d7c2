"""Transit benchmark: the buses' cost against a plain city-day, as a ratio measured in one process.

Runs the Shanghai baseline as a plain 24-hour day (no warm-up, as in bench_city.py) and, alternately, the
buses of the same day (`simulate_transit`, given the day's police logs so the police run is not repeated),
and reports the median seconds of each over --rounds and their ratio (budget: buses at most ~10 % of a
city-day; all traffic services at most 30 %). The smart scenario (every transit lever on, pre-emption
conflict read from its police logs) is timed the same way.
Run: python benchmarks/bench_transit.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench_city import one_day
from citysim.city.loading import load_scenario
from citysim.machine import machine_line
from citysim.simulation.model import simulate_one
from citysim.simulation.transit import simulate_transit

SHANGHAI = Path(__file__).resolve().parents[1] / "scenarios" / "shanghai"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(machine_line())
    for name in ("baseline", "smart"):
        scenario = one_day(load_scenario(SHANGHAI / f"{name}.yaml"))
        simulate_transit(scenario, 0, simulate_one(scenario, 0).logs)  # warm the city cache and imports
        city, buses = [], []
        for _ in range(args.rounds):
            start = time.perf_counter()
            logs = simulate_one(scenario, 0).logs
            city.append(time.perf_counter() - start)
            start = time.perf_counter()
            simulate_transit(scenario, 0, logs)
            buses.append(time.perf_counter() - start)
        c, b = statistics.median(city), statistics.median(buses)
        print(f"{name}: city-day {c:.2f} s, buses {b:.3f} s, ratio {b / c:.3f} (median of {args.rounds})")


if __name__ == "__main__":
    main()

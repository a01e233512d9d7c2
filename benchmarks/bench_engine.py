"""Engine benchmark: citysim's M/M/c verification scenario against an idiomatic raw-SimPy M/M/c and
against Ciw (if installed: pip install -e '.[bench]').

All simulate the same queue (c = 10 units, 1/mu = 30 min, rho = 0.8) for the same simulated time in
the same process, alternating, several rounds; we report customers per second (median of rounds),
peak memory (tracemalloc) and the ratios. Ratios measured in one run are robust to a noisy machine.

Run: python benchmarks/bench_engine.py [--days 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import simpy

from citysim.city.loading import load_scenario
from citysim.machine import machine_line
from citysim.simulation.model import CityModel, simulate_one

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "verification" / "mmc.yaml"


def raw_simpy_mmc(days: float, servers: int, mean_service_min: float, arrivals_per_day: float, seed: int) -> int:
    """The textbook SimPy M/M/c: one process per customer, a simpy.Resource for the servers."""
    rng = random.Random(seed)
    env = simpy.Environment()
    servers_resource = simpy.Resource(env, capacity=servers)
    waits: list[float] = []
    mean_gap = 1440.0 / arrivals_per_day

    def customer(env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        arrived = env.now
        with servers_resource.request() as request:
            yield request
            waits.append(env.now - arrived)
            yield env.timeout(rng.expovariate(1.0 / mean_service_min))

    def source(env: simpy.Environment) -> Generator[simpy.Event, Any, None]:
        while True:
            yield env.timeout(rng.expovariate(1.0 / mean_gap))
            env.process(customer(env))

    env.process(source(env))
    env.run(until=days * 1440.0)
    return len(waits)


def ciw_mmc(days: float, servers: int, mean_service_min: float, arrivals_per_day: float, seed: int) -> int:
    """The same M/M/c in Ciw (exponential arrivals and service, one node)."""
    import ciw

    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=arrivals_per_day / 1440.0)],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / mean_service_min)],
        number_of_servers=[servers],
    )
    ciw.seed(seed)
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_time(days * 1440.0)
    return len(simulation.get_all_records())


def peak_mib(function: object, *args: object) -> float:
    """Peak traced memory of one call, in MiB."""
    import tracemalloc

    tracemalloc.start()
    function(*args)  # type: ignore[operator]
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=100.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    base = load_scenario(SCENARIO)
    run = base.run.model_copy(update={"duration_min": args.days * 1440.0, "warmup_min": 0.0})
    scenario = base.model_copy(update={"run": run})
    servers = scenario.districts[0].units
    mean_service = scenario.demand.categories["job"].scene.mean

    try:
        import ciw  # noqa: F401

        have_ciw = True
    except ImportError:
        have_ciw = False
    citysim_rates, engine_rates, raw_rates, ciw_rates = [], [], [], []
    for round_ in range(args.rounds):
        start = time.perf_counter()
        result = simulate_one(scenario, round_)
        customers = int((result.logs.incidents["t_dispatch"].notna()).sum())
        citysim_rates.append(customers / (time.perf_counter() - start))

        model = CityModel(scenario, round_)
        start = time.perf_counter()
        model.run()  # includes building the logs, but not drawing the incidents
        engine_rates.append(customers / (time.perf_counter() - start))

        start = time.perf_counter()
        served = raw_simpy_mmc(args.days, servers, mean_service, scenario.demand.calls_per_day, seed=round_)
        raw_rates.append(served / (time.perf_counter() - start))

        if have_ciw:
            start = time.perf_counter()
            served = ciw_mmc(args.days, servers, mean_service, scenario.demand.calls_per_day, seed=round_)
            ciw_rates.append(served / (time.perf_counter() - start))

    c, e, r = (statistics.median(x) for x in (citysim_rates, engine_rates, raw_rates))
    print(f"M/M/{servers}, rho 0.8, {args.days:g} simulated days, median of {args.rounds} rounds")
    print(f"machine: {machine_line()}, simpy {simpy.__version__}")
    print(f"{'model':<26}{'customers/s':>14}")
    print(f"{'citysim (full pipeline)':<26}{c:>14,.0f}")
    print(f"{'citysim (after draws)':<26}{e:>14,.0f}")
    print(f"{'raw SimPy (Resource)':<26}{r:>14,.0f}")
    print(f"ratio citysim / raw SimPy: {c / r:.2f} full pipeline, {e / r:.2f} after draws (target >= 1.0)")
    memory = {"citysim": peak_mib(simulate_one, scenario, 0),
              "raw SimPy": peak_mib(raw_simpy_mmc, args.days, servers, mean_service, scenario.demand.calls_per_day, 0)}
    if have_ciw:
        w = statistics.median(ciw_rates)
        print(f"{'Ciw':<26}{w:>14,.0f}")
        print(f"ratio citysim / Ciw: {c / w:.2f} full pipeline, {e / w:.2f} after draws (target >= 1.5)")
        memory["Ciw"] = peak_mib(ciw_mmc, args.days, servers, mean_service, scenario.demand.calls_per_day, 0)
    else:
        print("Ciw not installed (pip install -e '.[bench]'): peer comparison skipped")
    print("peak memory (MiB, tracemalloc): " + ", ".join(f"{k} {v:.1f}" for k, v in memory.items()))


if __name__ == "__main__":
    main()

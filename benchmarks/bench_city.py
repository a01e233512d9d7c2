"""City benchmark: one simulated Shanghai city-day against raw SimPy, and how its cost scales.

Runs the baseline (and the smart) scenario as a plain 24-hour day (no warm-up) and reports, each as the
median of --rounds runs measured in this one process:
  - seconds per city-day, and its ratio to an idiomatic raw-SimPy M/M/10 (rho 0.8) that serves the same
    number of calls, run alternately with it (target <= 2.5x);
  - the ratio for two days (linear: about 2x), for doubled units (nearly flat), for doubled call
    volume (which overloads the units and call-takers, so the work done is bounded by them) and for
    doubled calls with doubled units, call-takers and back office (the same load, twice the size:
    linear in calls, about 2x);
  - the time spent choosing units (dispatch), and its ratio when units double;
  - for the baseline and smart days, the time of the traffic services' metrics (buses, parking, traffic and
    incident management: `service_kpis`, measured after each replication), as a share of the city-day
    (budget: at most 0.30);
  - optionally (--profile) where the time goes, by function (cProfile).
Run: python benchmarks/bench_city.py [--rounds 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import math
import pstats
import statistics
import time
from pathlib import Path

import citysim.police.dispatch as dispatch_module
from bench_engine import raw_simpy_mmc
from citysim.city.loading import load_scenario
from citysim.config import Scenario
from citysim.config.schema import StaffedCallCentre
from citysim.machine import machine_line
from citysim.simulation.model import simulate_one
from citysim.simulation.services import service_kpis

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "shanghai" / "baseline.yaml"


class DispatchTimer:
    """Wraps the unit choice to add up the time spent in it."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._original = dispatch_module.nearest_available

    def __enter__(self) -> DispatchTimer:
        def timed(*args: object, **kwargs: object) -> object:
            start = time.perf_counter()
            try:
                return self._original(*args, **kwargs)  # type: ignore[arg-type]
            finally:
                self.seconds += time.perf_counter() - start

        dispatch_module.nearest_available = timed  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        dispatch_module.nearest_available = self._original


def one_day(base: Scenario, days: int = 1) -> Scenario:
    run = base.run.model_copy(update={"start_clock_h": 0.0, "duration_min": 1440.0 * days, "warmup_min": 0.0})
    return base.model_copy(update={"run": run})


def scaled(base: Scenario, calls: float = 1.0, units: int = 1, staff: int = 1) -> Scenario:
    """The scenario with `calls` x the calls and crashes, `units` x every district's units, and `staff` x
    the call-takers and the back office on every hour."""
    demand = base.demand.model_copy(update={"calls_per_day": base.demand.calls_per_day * calls})
    crashes = base.crashes.model_copy(update={"crashes_per_day": base.crashes.crashes_per_day * calls}) \
        if base.crashes is not None else None
    districts = [d.model_copy(update={"units": d.units * units}) for d in base.districts]
    update: dict[str, object] = {"demand": demand, "crashes": crashes, "districts": districts}
    centre = base.call_centre
    if isinstance(centre, StaffedCallCentre):
        update["call_centre"] = centre.model_copy(
            update={"call_takers_by_hour": [n * staff for n in centre.call_takers_by_hour]})
    ops = base.operations
    if ops is not None:
        office = ops.lookups.back_office.model_copy(
            update={"staff_by_hour": [n * staff for n in ops.lookups.back_office.staff_by_hour]})
        update["operations"] = ops.model_copy(
            update={"lookups": ops.lookups.model_copy(update={"back_office": office})})
    return base.model_copy(update=update)


def measure(scenario: Scenario, rounds: int, reference: bool = False) -> tuple[float, float, float, float]:
    """Median wall seconds of a replication, median seconds spent choosing units, and (if `reference`)
    the median seconds of raw SimPy serving the same number of calls and of the traffic services' metrics,
    each run after each replication."""
    service_kpis(scenario, simulate_one(scenario, 0))  # warm the city cache and imports
    totals, dispatch, raw, services = [], [], [], []
    for replication in range(rounds):
        with DispatchTimer() as timer:
            start = time.perf_counter()
            result = simulate_one(scenario, replication)
            totals.append(time.perf_counter() - start)
        dispatch.append(timer.seconds)
        if reference:
            calls = len(result.logs.incidents)
            start = time.perf_counter()
            raw_simpy_mmc(calls / ARRIVALS_PER_DAY, 10, 30.0, ARRIVALS_PER_DAY, replication)
            raw.append(time.perf_counter() - start)
            start = time.perf_counter()
            service_kpis(scenario, result)
            services.append(time.perf_counter() - start)
    return (statistics.median(totals), statistics.median(dispatch), statistics.median(raw) if raw else math.nan,
            statistics.median(services) if services else math.nan)


ARRIVALS_PER_DAY = 384.0  # the raw M/M/10 at rho = 0.8 with 30-min service: it runs calls / 384 days


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    base = load_scenario(SCENARIO)
    smart = load_scenario(SCENARIO.parent / "smart.yaml")
    cases = {
        "1 day": one_day(base),
        "2 days": one_day(base, days=2),
        "1 day, 2x calls": scaled(one_day(base), calls=2.0),
        "1 day, 2x units": scaled(one_day(base), units=2),
        "2x calls, units, staff": scaled(one_day(base), calls=2.0, units=2, staff=2),
        "smart, 1 day": one_day(smart),
    }
    results = {name: measure(scenario, args.rounds, reference=name in ("1 day", "smart, 1 day"))
               for name, scenario in cases.items()}
    day, day_dispatch, _, _ = results["1 day"]
    print(f"Shanghai as a 24 h day, median of {args.rounds} replications; {machine_line()}")
    print(f"{'case':<24}{'seconds':>9}{'ratio':>8}{'dispatch s':>12}{'dispatch ratio':>16}{'raw SimPy s':>13}"
          f"{'vs raw':>8}{'services s':>12}{'services share':>16}")
    for name, (seconds, dispatch, raw, services) in results.items():
        measured = raw == raw
        extra = f"{raw:>13.3f}{seconds / raw:>8.2f}{services:>12.3f}{services / seconds:>16.3f}" if measured else ""
        print(f"{name:<24}{seconds:>9.2f}{seconds / day:>8.2f}{dispatch:>12.3f}{dispatch / day_dispatch:>16.2f}"
              f"{extra}")
    print("targets: a day <= 2.5x raw SimPy serving the same calls; 2 days and 2x calls, units, staff about 2x; "
          "2x units nearly flat; traffic services <= 0.30 of a city-day")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(simulate_one, cases["1 day"], 0)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main()

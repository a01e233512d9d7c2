"""What each traffic-service lever alone does to the services table's metrics, Shanghai weekday.

For every lever that is not a policing one (`citysim.config.levers.LEVERS`, service != policing): the
baseline with that lever alone at its default, against the baseline, on common random numbers over
--replications; then the smart scenario (every lever). Prints each metric's mean reduction (%) as a
Markdown table, so one can see which lever moves which metric, and by how much of the smart total.
A public-transport lever cannot change the police run, so its buses are given the baseline's police logs.
Run: python benchmarks/service_levers.py [--replications 2]   (about 2 min a replication on 2 cores)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from citysim.city.loading import load_scenario
from citysim.config.levers import LEVERS, POLICING, Lever
from citysim.config.schema import Scenario
from citysim.simulation.model import RunResult, simulate_one
from citysim.simulation.services import metric_label, service_kpis

SHANGHAI = Path(__file__).resolve().parents[1] / "scenarios" / "shanghai"


def with_lever(base: Scenario, name: str, strength: float) -> Scenario:
    return base.model_copy(update={"levers": base.levers.model_copy(update={name: Lever(strength=strength)})})


def values(scenario: Scenario, police: RunResult) -> pd.Series:
    return service_kpis(scenario, police).set_index("metric")["value"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=2)
    args = parser.parse_args()
    baseline = load_scenario(SHANGHAI / "baseline.yaml")
    smart = load_scenario(SHANGHAI / "smart.yaml")
    configs = {f"{name} {info.default:g}": (with_lever(baseline, name, info.default), info.reaches_police)
               for name, info in LEVERS.items() if info.service != POLICING}
    configs["smart"] = (smart, True)
    sums: dict[str, pd.Series] = {}
    for replication in range(args.replications):
        police = simulate_one(baseline, replication)
        sums["baseline"] = sums.get("baseline", 0) + values(baseline, police)
        for column, (scenario, reaches) in configs.items():
            run = simulate_one(scenario, replication) if reaches else police
            sums[column] = sums.get(column, 0) + values(scenario, run)
    base = sums.pop("baseline")
    table = pd.DataFrame({column: 100.0 * (1.0 - total / base) for column, total in sums.items()})
    table.index = [metric_label(m) for m in table.index]
    print(f"Reduction (%) against the baseline, mean of {args.replications} replications (negative: worse)\n")
    print("| metric | " + " | ".join(table.columns) + " |")
    print("|---|" + "---:|" * len(table.columns))
    for label, row in table.iterrows():
        print(f"| {label} | " + " | ".join(f"{v:.1f}" for v in row) + " |")


if __name__ == "__main__":
    main()

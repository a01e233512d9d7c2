"""Transit KPIs of one Shanghai replication: the baseline, each transit lever alone at its default, and the
smart scenario (all transit levers, plus the police levers, whose pre-emption meets bus priority).

Run: python benchmarks/transit_table.py   (about 30 s: one police replication of smart.yaml)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from citysim.city.loading import load_scenario
from citysim.config.levers import LEVERS, PUBLIC_TRANSPORT, Lever
from citysim.config.schema import Scenario
from citysim.simulation.model import simulate_one
from citysim.simulation.transit import transit_kpis

SHANGHAI = Path(__file__).resolve().parents[1] / "scenarios" / "shanghai"


def with_lever(base: Scenario, name: str, strength: float) -> Scenario:
    return base.model_copy(update={"levers": base.levers.model_copy(update={name: Lever(strength=strength)})})


def main() -> None:
    baseline = load_scenario(SHANGHAI / "baseline.yaml")
    smart = load_scenario(SHANGHAI / "smart.yaml")
    columns = {"baseline": transit_kpis(baseline)}
    for name, info in LEVERS.items():
        if info.service != PUBLIC_TRANSPORT:
            continue
        columns[f"{name} {info.default:g}"] = transit_kpis(with_lever(baseline, name, info.default))
    columns["smart"] = transit_kpis(smart, 0, simulate_one(smart, 0).logs)
    table = pd.DataFrame({k: v.set_index("metric")["value"] for k, v in columns.items()})
    pd.set_option("display.width", 250)
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()

"""The services table: each traffic service's metrics, baseline against smart, from a claim check's paired
replications (services.csv), with its report section and chart."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from citysim.cli import main
from citysim.experiment.contract import EXIT_OK
from citysim.experiment.services_table import SERVICES_COLUMNS, services_table
from citysim.analysis.stats import paired_reduction
from citysim.output.plots import services_chart
from test_levers import CRASH_CATEGORY, CRASHES
from test_transit import _data

EXPERIMENT = textwrap.dedent("""\
    kind: claim_check
    name: services-check
    description: buses and traffic services on the tiny network
    seed: 11
    smart_levers: smart.yaml
    situations:
      - {name: tiny day, scenario: scenario.yaml}
      - {name: tiny day again, scenario: scenario.yaml}
    metrics:
      - {name: arrival, start: t_call, end: t_arrive, claimed_reduction_pct: 20}
    replications: {min: 3, max: 3, batch: 1, target_half_width_pct: 50}
    confidence: 0.95
    by_priority: false
    """)
SMART = textwrap.dedent("""\
    extends: scenario.yaml
    name: tiny-smart
    levers:
      bus_signal_priority: {strength: 0.33}
      bus_lanes: {strength: 0.9}
      bus_realtime_info: {strength: 0.3}
      bus_holding: {strength: 0.3}
      parking_guidance: {strength: 0.17}
      fast_crash_handling: {strength: 0.4}
    """)


def _runs() -> pd.DataFrame:
    rows = []
    for situation, shift in (("a", 0.0), ("b", 1.0)):
        for replication, value in enumerate([10.0, 12.0, 11.0]):
            for metric, service, smart in (("headway_cv", "public transport", 0.5), ("bus_run_time_peak_min",
                                                                                    "public transport", 0.9)):
                rows.append((situation, "baseline", replication, service, metric, value + shift))
                rows.append((situation, "smart", replication, service, metric, smart * value + replication))
    return pd.DataFrame(rows, columns=["situation", "config", "replication", "service", "metric", "value"])


def test_services_table_pairs_the_replications():
    """Each row is the claims' paired reduction of that situation's metric, in the registry's metric order."""
    runs = _runs()
    table = services_table(runs, 0.95)
    assert list(table.columns) == SERVICES_COLUMNS
    assert list(table["metric"]) == ["bus_run_time_peak_min", "headway_cv"] * 2  # registry order, not input order
    for row in table.to_dict("records"):
        part = runs[(runs["situation"] == row["situation"]) & (runs["metric"] == row["metric"])]
        b, s = (part[part["config"] == c].sort_values("replication")["value"].to_numpy() for c in ("baseline", "smart"))
        expected = paired_reduction(b, s, 0.95)
        assert row["reduction_pct"] == expected.reduction_pct and row["ci_low_pct"] == expected.ci_low_pct
        assert row["baseline"] == pytest.approx(b.mean()) and row["smart"] == pytest.approx(s.mean())


def test_services_chart_draws_every_service():
    table = services_table(_runs(), 0.95)
    figure = services_chart(table, {"headway_cv": "headway CV"})
    assert [axis.get_title() for axis in figure.axes] == ["public transport"]
    assert "headway CV" in [tick.get_text() for tick in figure.axes[0].get_yticklabels()]


@pytest.fixture(scope="module")
def services_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("services")
    data = _data()  # the tiny road network with its parking districts, one bus line, and crashes
    data["demand"]["categories"]["crash"] = CRASH_CATEGORY
    data["crashes"] = CRASHES
    data["operations"]["by_category"]["crash"] = {"lookups_mean": 2.0, "report": {"dist": "fixed", "value_min": 15}}
    (root / "scenario.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    (root / "smart.yaml").write_text(SMART, encoding="utf-8")
    (root / "experiment.yaml").write_text(EXPERIMENT, encoding="utf-8")
    out = root / "results"
    assert main(["experiment", str(root / "experiment.yaml"), "--out", str(out)]) == EXIT_OK
    return out


def test_claim_check_writes_the_services_table(services_folder):
    """services.csv has the issue's columns and every service's metrics in every situation; each smart lever
    shows in its own service's metric."""
    table = pd.read_csv(services_folder / "services.csv")
    assert list(table.columns) == SERVICES_COLUMNS
    for _situation, rows in table.groupby("situation"):
        assert set(rows["service"]) == {"traffic", "public transport", "parking", "incident management"}
        assert len(rows) >= 5
    weekday = table[table["situation"] == "tiny day"].set_index("metric")
    assert weekday.loc["excess_wait_min", "reduction_pct"] > 0  # holding
    assert weekday.loc["bus_run_time_peak_min", "reduction_pct"] > 0  # priority and lanes
    assert weekday.loc["cruising_vehicle_h", "reduction_pct"] == pytest.approx(17.0)  # Little's law: search -17 %
    assert weekday.loc["crash_blockage_min", "reduction_pct"] > 0  # drivers clear minor crashes sooner
    runs = pd.read_csv(services_folder / "service_runs.csv")
    assert set(runs["replication"]) == {0, 1, 2} and set(runs["config"]) == {"baseline", "smart"}
    assert np.isfinite(table[["baseline", "smart", "reduction_pct"]].to_numpy()).all()


def test_report_and_chart_show_the_services(services_folder):
    report = (services_folder / "report.md").read_text(encoding="utf-8")
    assert "## Traffic services" in report and "excess waiting time" in report
    assert "public transport: `bus_signal_priority`" in report
    assert "traffic: no lever of its own" in report  # AI signal timing acts on police trips only
    assert (services_folder / "figures" / "services.png").is_file()
    assert 'id="services"' in (services_folder / "report.html").read_text(encoding="utf-8")

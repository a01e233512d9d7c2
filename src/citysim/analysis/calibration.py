"""The calibration table: the Shanghai baseline's outputs against published targets.

Each row names a target, the band accepted, its source, and the model's value as a mean over
replications with a 95 % t-interval. `citysim calibrate SCENARIO --out docs/calibration.md` writes it;
nothing in the table is typed by hand.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from citysim.analysis.geography_audit import barrier_trips, incident_placement
from citysim.city.context import city_context
from citysim.city.geography import DistrictGrid
from citysim.city.loading import load_scenario
from citysim.city.surface import demand_surface
from citysim.config.schema import Scenario
from citysim.errors import InputError
from citysim.machine import machine_line
from citysim.progress import QUIET, Reporter
from citysim.simulation.kpis import in_window, overlap_minutes, t_interval
from citysim.simulation.logs import LOG_NAMES, RunLogs
from citysim.simulation.replications import ReplicationStore, Simulation, simulate
from citysim.simulation.traffic_services import network_delays

#: The seven districts of the central city (中心城区).
CENTRAL_DISTRICTS = ("Huangpu", "Xuhui", "Changning", "Jing'an", "Putuo", "Hongkou", "Yangpu")
#: Ankang (Shaanxi) weekly report, time to turn out: share of orders by minutes (CALIBRATION.md).
ANKANG_BINS = [(0, 5, 0.618), (5, 10, 0.127), (10, 15, 0.055), (15, 30, 0.076), (30, math.inf, 0.124)]
MIN_CIRCUITY_KM = 10.0


@dataclass(frozen=True)
class Target:
    quantity: str
    target: str
    low: float
    high: float
    source: str
    year: str  # when the target was measured: the baseline is "before" (2015-2016) wherever figures exist


TARGETS = {
    "calls_per_day": Target("110 calls per day", "about 35,000 (+-5 %)", 33_250, 36_750,
                            "Shanghai Daily, 2016 (12.6 M calls a year)", "2016"),
    "units_sent_per_day": Target("incidents sent a unit per day", "about 13,000 (+-10 %)", 11_700, 14_300,
                                 "Shanghai Daily, 2016", "2016"),
    "committed_share": Target("share of unit time committed to 110 work and reports", "<= 0.6 ('rule of 60')",
                              0.0, 0.6, "CPSM/ICMA patrol staffing guidance (US, 2010s)", "2010s"),
    "station_paperwork_share": Target("share of unit time on reports and administration", "about 0.18 (0.1-0.25)",
                                      0.10, 0.25, "England & Wales officer diaries: 41 % of 43 % in-station time "
                                      "on paperwork (Knox & McDonald, Home Office PRS 149, 2001)", "2001"),
    "expressway_kmh_am_peak": Target("expressway speed 07-09 h (km/h)", "40.7 (+-15 %)", 34.6, 46.8,
                                     "2019 Shanghai Comprehensive Transportation Operation Annual Report (Puxi)",
                                     "2019 (no earlier series found)"),
    "expressway_kmh_pm_peak": Target("expressway speed 17-19 h (km/h)", "43.5 (+-15 %)", 37.0, 50.0,
                                     "same report", "2019"),
    "travel_time_index_peak_hour": Target("peak-hour travel time index", "1.9-2.2", 1.9, 2.2,
                                          "AutoNavi delay index 1.94 (Q1 2015), 2.17 (Q4 2014)", "2014-2015"),
    "crashes_per_day": Target("traffic crashes per day", "1,000-1,400", 1_000, 1_400,
                              "Shanghai traffic police, simple-procedure crashes 2017-2019 (~1,200 on holidays)",
                              "2017-2019"),
    "network_circuity": Target("network circuity (node pairs > 10 km apart)", "1.324 (1.2-1.45)", 1.2, 1.45,
                               "25 Chinese cities, Annals of GIS 2021", "2021 (road geometry)"),
    "crash_congestion_per_blockage_min": Target("congestion minutes per minute of lane blockage", "4-5",
                                                3.5, 6.0, "ITE Journal 1992, via MnDOT", "1992"),
    "incident_delay_share": Target("crash delay / all network delay (recurrent BPR + crash queues and detours)",
                                   "about 0.25 (0.10-0.40)", 0.10, 0.40,
                                   "FHWA, Traffic Congestion and Reliability (FHWA-HOP-05-004): incidents 25 % of "
                                   "congestion; prior 10-40 % (docs/traffic_services_sources.md 6.1)", "2004"),
    "arrival_central_mean": Target("mean arrival time, central districts (min)", "<= 8 (target)", 0.0, 8.0,
                                   "Shanghai emergency centre target, c. 2004 (date unverified)", "c. 2004"),
    "arrival_other_mean": Target("mean arrival time, other districts (min)", "<= 15 (target)", 0.0, 15.0,
                                 "same", "c. 2004"),
    "crash_call_to_clear_mean": Target("crash report to clearance, with police (min)", "about 59 (range 30-120)",
                                       30.0, 120.0, "Pudong minor crashes after 2021 measures (SHINE, Jun 2021)",
                                       "2021 (after the platform)"),
}


def network_circuity(simulation: Simulation) -> float:
    """Mean shortest road km / straight-line km over node pairs more than 10 km apart."""
    scenario = simulation.scenario
    network = city_context(scenario, DistrictGrid.from_scenario(scenario)).network
    n = network.n_nodes
    graph = csr_matrix((network.arc_km, (network.arc_from, network.arc_to)), shape=(n, n))
    road = dijkstra(graph, directed=True)
    straight = np.hypot(network.node_x[:, None] - network.node_x[None, :],
                        network.node_y[:, None] - network.node_y[None, :])
    far = straight > MIN_CIRCUITY_KM
    return float((road[far] / straight[far]).mean())


def _per_replication(simulation: Simulation) -> pd.DataFrame:
    """One row per replication with every calibrated quantity that comes from the logs."""
    run = simulation.scenario.run
    days = (run.duration_min - run.warmup_min) / 1440.0
    kpis = simulation.kpis[simulation.kpis["priority"] == "all"].pivot(index="replication", columns="kpi",
                                                                          values="value")
    incidents = in_window(simulation.logs.incidents)
    arrival = incidents["t_arrive"] - incidents["t_call"]
    central = incidents["district"].isin(CENTRAL_DISTRICTS)
    crash = (incidents["crash"] >= 0) & incidents["t_clear"].notna() & (incidents["n_units"] > 0)
    by_rep = incidents.groupby("replication")
    frame = pd.DataFrame({
        "calls_per_day": kpis["calls_per_day"],
        "units_sent_per_day": by_rep["n_units"].apply(lambda s: (s > 0).sum()) / days,
        "arrival_central_mean": arrival[central].groupby(incidents["replication"]).mean(),
        "arrival_other_mean": arrival[~central].groupby(incidents["replication"]).mean(),
        "crash_call_to_clear_mean": (incidents["t_clear"] - incidents["t_call"])[crash]
        .groupby(incidents["replication"]).mean(),
        "committed_share": kpis["unit_utilisation"],
        "station_paperwork_share": kpis["report_share_of_duty"] + _task_share(simulation, "administration"),
    })
    for kpi in ("expressway_kmh_am_peak", "expressway_kmh_pm_peak", "travel_time_index_peak_hour",
                "crashes_per_day", "crash_congestion_per_blockage_min"):
        frame[kpi] = kpis.get(kpi, np.nan)
    frame["incident_delay_share"] = _incident_delay_share(simulation)
    return frame


def _incident_delay_share(simulation: Simulation) -> pd.Series:
    """Per replication: crash delay / (recurrent + crash delay) on the network in the KPI window."""
    shares = {}
    for replication in range(simulation.replications):
        recurrent, crash = network_delays(_replication_logs(simulation, replication), simulation.scenario)
        shares[replication] = crash / (recurrent + crash) if recurrent + crash > 0 else np.nan
    return pd.Series(shares, dtype=np.float64)


def _replication_logs(simulation: Simulation, replication: int) -> RunLogs:
    """The logs of one of the simulation's replications."""
    return RunLogs(*(frame[frame["replication"] == replication] for frame in (
        getattr(simulation.logs, name) for name in LOG_NAMES)))


def _task_share(simulation: Simulation, task: str) -> pd.Series:
    """Per replication: the share of on-duty time spent on one kind of other work in the KPI window."""
    run = simulation.scenario.run
    tasks, duty = simulation.logs.tasks, simulation.logs.duty
    rows = {}
    for replication, spells in tasks[tasks["task"].astype(str) == task].groupby("replication"):
        shifts = duty[duty["replication"] == replication]
        on_duty = overlap_minutes(shifts["t_start"], shifts["t_end"], run.warmup_min, run.duration_min)
        rows[replication] = overlap_minutes(spells["t_start"], spells["t_end"], run.warmup_min,
                                            run.duration_min) / on_duty
    return pd.Series(rows, dtype=np.float64).reindex(range(simulation.replications), fill_value=0.0)


def calibration_table(simulation: Simulation) -> pd.DataFrame:
    """Target, band, source and the model's mean with 95 % CI, and whether the mean is in the band."""
    values = _per_replication(simulation)
    rows = []
    for key, target in TARGETS.items():
        if key == "network_circuity":
            mean = low = high = network_circuity(simulation)
        else:
            mean, _std, low, high = t_interval(values[key].to_numpy(dtype=np.float64))
        rows.append({
            "quantity": target.quantity, "target": target.target, "source": target.source, "year": target.year,
            "model_mean": mean, "ci_low": low, "ci_high": high,
            "within": bool(target.low <= mean <= target.high),
        })
    return pd.DataFrame(rows)


def arrival_distribution(simulation: Simulation) -> pd.DataFrame:
    """Share of arrivals (call to first unit on scene) by Ankang's bins, model against Ankang."""
    incidents = in_window(simulation.logs.incidents)
    arrival = (incidents["t_arrive"] - incidents["t_call"]).dropna()
    rows = []
    for low, high, share in ANKANG_BINS:
        model = float(((arrival >= low) & (arrival < high)).mean())
        label = f"{low}-{high} min" if math.isfinite(high) else f"> {low} min"
        rows.append({"bin": label, "ankang_turn_out_share": share, "model_arrival_share": model})
    return pd.DataFrame(rows)


def density_fit(scenario: Scenario) -> pd.DataFrame:
    """Census density (population / land km2) of each district against the density surface's, the
    surface scaled so that the log ratios average zero; and each district's land against the Yearbook."""
    grid = DistrictGrid.from_scenario(scenario)
    surface = demand_surface(scenario, grid)
    area = np.bincount(surface.district, surface.area, len(grid.names))
    geography = scenario.geography
    if geography is not None and geography.density is not None:
        px, py = grid.projection.to_km(*geography.density.centre)
        decay = np.exp(-np.hypot(surface.centroid_x - px, surface.centroid_y - py) / geography.density.decay_km)
        shape = np.bincount(surface.district, surface.area * decay, len(grid.names)) / area
    else:
        shape = np.ones(len(grid.names))
    census = np.array([d.population for d in scenario.districts]) / area
    log_ratio = np.log(shape) - np.log(census)
    model = shape / np.exp(log_ratio.mean())
    return pd.DataFrame({"district": grid.names, "land_km2": area,
                         "yearbook_km2": [d.area_km2 for d in scenario.districts], "census_per_km2": census,
                         "model_per_km2": model, "ratio": model / census})


def geography_rows(simulation: Simulation) -> pd.DataFrame:
    """Per replication: incidents off land and outside their district, and bank-to-bank trips without
    a crossing or shorter than the detour through one (all measured from the logs)."""
    rows = []
    for replication in simulation.logs.incidents["replication"].unique():
        logs = _replication_logs(simulation, replication)
        placement = incident_placement(simulation.scenario, logs)
        trips = barrier_trips(simulation.scenario, logs)
        rows.append({"replication": replication, **placement,
                     "trips": int(trips["trips"].iloc[0] + trips["to_crash_on_crossing"].iloc[0]),
                     "to_crash_on_crossing": int(trips["to_crash_on_crossing"].iloc[0]),
                     "bank_to_bank_trips": int(trips["trips_across"].sum()),
                     "without_crossing": int(trips["across_without_crossing"].sum()),
                     "shorter_than_detour": int(trips["shorter_than_detour"].sum())})
    return pd.DataFrame(rows)


def arrival_by_area(simulation: Simulation) -> dict[str, float]:
    """Mean arrival (call to first unit) in the central and the other districts, over all replications."""
    values = _per_replication(simulation)
    return {"central": float(values["arrival_central_mean"].mean()),
            "other": float(values["arrival_other_mean"].mean())}


def _number(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def calibration_markdown(simulation: Simulation, command: str, machine: str,
                         at_stations: Simulation | None = None) -> str:
    """The whole docs/calibration.md page (`at_stations`: the same scenario with idle units at stations)."""
    table = calibration_table(simulation)
    lines = [
        "# Calibration of the Shanghai baseline",
        "",
        f"<!-- Generated by `{command}`; do not edit by hand. -->",
        "",
        f"Scenario `{simulation.scenario.name}`, {simulation.replications} replications (seed "
        f"{simulation.seed}), one simulated day each after a {simulation.scenario.run.warmup_min:g}-minute "
        f"warm-up; {simulation.wall_seconds:.0f} s on {machine}. Model values are means over replications "
        "with 95 % t-intervals; 'within' says whether the mean lies in the accepted band.",
        "",
        "| quantity | target | model mean [95 % CI] | within | source | year measured |",
        "|---|---|---|---|---|---|",
    ]
    for row in table.to_dict("records"):
        low, high, mean = float(row["ci_low"]), float(row["ci_high"]), float(row["model_mean"])
        deterministic = abs(high - low) <= 1e-9 * max(1.0, abs(mean))  # no run-to-run variation
        interval = "" if deterministic else f" [{_number(low)}, {_number(high)}]"
        lines.append(f"| {row['quantity']} | {row['target']} | {_number(mean)}{interval} | "
                     f"{'yes' if row['within'] else '**no**'} | {row['source']} | {row['year']} |")
    lines += [
        "",
        "## Arrival-time distribution against Ankang",
        "",
        "Ankang's weekly report gives the time to turn out (its definition is not stated; CALIBRATION.md); the",
        "model's column is call to first unit on scene. Different city and definition: a plausibility check only.",
        "",
        "| minutes | Ankang | model |",
        "|---|---|---|",
    ]
    for row in arrival_distribution(simulation).to_dict("records"):
        lines.append(f"| {row['bin']} | {row['ankang_turn_out_share']:.1%} | {row['model_arrival_share']:.1%} |")
    lines += _geography_markdown(simulation, at_stations)
    lines += [
        "",
        "## Notes",
        "",
        "- Crash delay is a deterministic queue stored on its link and the links behind it (queue_storage_links,",
        "  calibrated to the incident share of delay); arrivals beyond the storage divert and pay a detour.",
        "- Rows marked **no** are reported, not tuned away: see the scenario file's comments for what each",
        "  assumption would need to change.",
        "",
    ]
    return "\n".join(lines)


def _geography_markdown(simulation: Simulation, at_stations: Simulation | None) -> list[str]:
    audit = geography_rows(simulation)
    lines = [
        "",
        "## Geography",
        "",
        "Measured from the logs (incident lon/lat, trip origins) against the district polygons and barrier lines:",
        "",
        "| replication | incidents | off land | outside own district | trips | to a crash on a bridge or tunnel "
        "| bank-to-bank | without a crossing | shorter than the detour via a crossing |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in audit.to_dict("records"):
        lines.append(f"| {row['replication']} | {row['incidents']:,.0f} | {row['off_land_share']:.2%} | "
                     f"{row['outside_own_district_share']:.2%} | {row['trips']:,} | {row['to_crash_on_crossing']} | "
                     f"{row['bank_to_bank_trips']:,} | "
                     f"{row['without_crossing']} | {row['shorter_than_detour']} |")
    fit = density_fit(simulation.scenario)
    misfit = float(np.sqrt((np.log(fit["ratio"]) ** 2).mean()))
    lines += [
        "",
        f"Residential density: the surface's district means against the 2020 census (log-RMS misfit {misfit:.2f});",
        "land area: the polygons against the Statistical Yearbook (coastal districts include reclaimed land).",
        "",
        "| district | land km2 | Yearbook km2 | census per km2 | model per km2 | model / census |",
        "|---|---|---|---|---|---|",
    ]
    for row in fit.to_dict("records"):
        lines.append(f"| {row['district']} | {row['land_km2']:,.0f} | {row['yearbook_km2']:,.0f} | "
                     f"{row['census_per_km2']:,.0f} | {row['model_per_km2']:,.0f} | {row['ratio']:.2f} |")
    if at_stations is not None:
        posts, stations = arrival_by_area(simulation), arrival_by_area(at_stations)
        lines += [
            "",
            "Where idle units wait (the claim must not hinge on it): mean arrival, minutes, same replications.",
            "",
            "| idle units wait at | central districts | other districts |",
            "|---|---|---|",
            f"| {simulation.scenario.fleet.idle_at} (the baseline) | {posts['central']:.2f} | {posts['other']:.2f} |",
            f"| {at_stations.scenario.fleet.idle_at} | {stations['central']:.2f} | {stations['other']:.2f} |",
        ]
    return lines


def calibration_page(scenario_path: Path, replications: int, seed: int | None, command: str,
                     stores: Callable[[Scenario, int], ReplicationStore] | None = None,
                     reporter: Reporter = QUIET) -> str:
    """`citysim calibrate`: simulate the scenario and compare its outputs with the targets (a Markdown page),
    with the same replications of the scenario with idle units at their stations. `stores(scenario, seed)`
    gives where each scenario's replications are kept as they end (and read back on a resume); `reporter`
    shows the replications done (of both)."""
    scenario = load_scenario(scenario_path)
    if scenario.network is None or scenario.crashes is None:
        raise InputError(scenario_path, "the calibration compares traffic and crash figures too; expected a "
                         "scenario with network, traffic and crashes blocks (like scenarios/shanghai/baseline.yaml).")
    root_seed = scenario.run.seed if seed is None else seed
    other = "station" if scenario.fleet.idle_at != "station" else "posts"
    variant = scenario.model_copy(update={"fleet": scenario.fleet.model_copy(update={"idle_at": other})})
    with reporter.counter("calibrate", 2 * replications, "replication") as progress:
        simulation, at_stations = (
            simulate(s, replications=replications, seed=root_seed, store=stores(s, root_seed) if stores else None,
                     progress=progress) for s in (scenario, variant))
    return calibration_markdown(simulation, command, machine_line(), at_stations)

"""The traffic services' outcomes of one replication: one row per (service, metric), for the services table
that a claim check compares between baseline and smart (`SERVICE_METRICS` names them, in table order).

Every metric is lower-is-better, so a positive reduction is an improvement (one exception in reading:
detection to clearance grows when detection comes earlier and clearance does not move as much). Each comes
from the process that produces it, never from a lever's strength: the buses' departure times (public
transport), the traffic state's link times (traffic), the crash queues and their clearance (incident
management) and the cruising for parking (parking).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from citysim.config.levers import INCIDENTS, PARKING, PUBLIC_TRANSPORT, TRAFFIC
from citysim.config.schema import Scenario
from citysim.simulation.model import RunResult
from citysim.simulation.parking_kpis import parking_kpis
from citysim.simulation.traffic_services import incident_kpis, traffic_kpis
from citysim.simulation.transit import transit_kpis

SERVICE_COLUMNS = ["service", "metric", "value"]


@dataclass(frozen=True)
class ServiceMetric:
    """One row of the services table: the service, what is measured, and its unit."""

    service: str
    label: str
    unit: str


SERVICE_METRICS: dict[str, ServiceMetric] = {
    "peak_travel_time_index": ServiceMetric(TRAFFIC, "peak travel time index (07-09, 17-19 h)", "-"),
    "arterial_peak_min_per_km": ServiceMetric(TRAFFIC, "arterial pace at peak", "min/km"),
    "recurrent_delay_vehicle_h_per_day": ServiceMetric(TRAFFIC, "recurrent congestion delay", "veh-h/day"),
    "crash_delay_vehicle_h_per_day": ServiceMetric(INCIDENTS, "crash-induced delay", "veh-h/day"),
    "incident_delay_share": ServiceMetric(INCIDENTS, "incidents' share of all delay", "-"),
    "detection_min": ServiceMetric(INCIDENTS, "crash to detection", "min"),
    "detection_to_clearance_min": ServiceMetric(INCIDENTS, "detection to clearance", "min"),
    "crash_blockage_min": ServiceMetric(INCIDENTS, "lane blockage per crash", "min"),
    "cruising_vehicle_h": ServiceMetric(PARKING, "cruising for parking", "veh-h/day"),
    "local_street_tti_peak": ServiceMetric(PARKING, "local-street travel time index at peak, parking districts", "-"),
    "police_trip_min": ServiceMetric(PARKING, "police trip into the parking districts (every lever)", "min"),
    "bus_run_time_peak_min": ServiceMetric(PUBLIC_TRANSPORT, "bus run time, terminal to terminal, peak", "min"),
    "excess_wait_min": ServiceMetric(PUBLIC_TRANSPORT, "excess waiting time (irregular headways)", "min"),
    "actual_wait_min": ServiceMetric(PUBLIC_TRANSPORT, "passengers' actual wait", "min"),
    "perceived_wait_min": ServiceMetric(PUBLIC_TRANSPORT, "passengers' perceived wait", "min"),
    "headway_cv": ServiceMetric(PUBLIC_TRANSPORT, "headway coefficient of variation", "-"),
    "bunching_factor": ServiceMetric(PUBLIC_TRANSPORT, "bunching factor (actual / scheduled wait - 1)", "-"),
}


def metric_label(metric: str) -> str:
    """A services-table metric in words, with its unit."""
    info = SERVICE_METRICS.get(metric)
    if info is None:
        return metric
    return info.label if info.unit == "-" else f"{info.label} ({info.unit})"


def service_kpis(scenario: Scenario, result: RunResult) -> pd.DataFrame:
    """The services table's metrics of one replication of `scenario` (as given, levers not yet applied: the
    result's own scenario has them applied); a service the scenario does not model has no rows."""
    frames = [traffic_kpis(result), incident_kpis(result), parking_kpis(result)]
    if scenario.transit is not None:
        frames.append(transit_kpis(scenario, result.replication, result.logs, result.seed))
    values = pd.concat(frames, ignore_index=True).set_index("metric")["value"]
    rows = [(info.service, metric, float(values[metric])) for metric, info in SERVICE_METRICS.items()
            if metric in values.index]
    return pd.DataFrame(rows, columns=SERVICE_COLUMNS)

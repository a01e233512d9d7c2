"""Traffic-service KPIs of one replication: network congestion, and crash incident management.

Both tables have the columns `metric` and `value`, over the KPI window [warmup_min, duration_min) (crashes
that occur in it; traffic refreshes in it), and are empty for a scenario without a road network (traffic)
or without crashes (incidents). Lower is better for every metric.

- Recurrent delay: the traffic log's rate sum(volume x (BPR time - free-flow time)) held until the next
  refresh, integrated over the window (the same piecewise-constant link times the police drive on).
- Crash delay: each crash's queue integral plus its diverted vehicles x the detour (`Blockage.summary`).
- The incident share of delay is crash / (recurrent + crash): 25 % in FHWA 2004 (docs/calibration.md).
- Detection is when the 110 centre learned of the crash (its incident's t_call, by a call or by video);
  detection to clearance is until the blockage ended, 0 for a crash its drivers cleared before it was
  reported. Crashes not reported by the end of the run are left out of both.
- The peak travel time index is the mean over the clock hours 07-09 and 17-19 of each hour's mean index,
  AutoNavi's peak definition; the calibration table's peak-hour index is the largest of those hours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from citysim.config.schema import Scenario
from citysim.simulation.kpis import PEAKS, between, metric_frame
from citysim.simulation.logs import RunLogs
from citysim.simulation.model import RunResult


def _window_days(scenario: Scenario) -> float:
    return (scenario.run.duration_min - scenario.run.warmup_min) / 1440.0


def _in_window(frame: pd.DataFrame, column: str, scenario: Scenario) -> pd.DataFrame:
    return between(frame, column, scenario.run.warmup_min, scenario.run.duration_min)


def network_delays(logs: RunLogs, scenario: Scenario) -> tuple[float, float]:
    """(recurrent, crash) delay in vehicle-hours per day over the KPI window of one replication's logs."""
    if scenario.traffic is None:
        return 0.0, 0.0
    traffic = _in_window(logs.traffic, "t_min", scenario)
    recurrent = float(traffic["recurrent_delay_veh_h_per_h"].sum()) * scenario.traffic.refresh_min / 60.0
    crashes = _in_window(logs.crashes, "t_occur", scenario)
    crash = float(crashes["delay_vehicle_h"].sum())
    days = _window_days(scenario)
    return recurrent / days, crash / days


def traffic_kpis(result: RunResult) -> pd.DataFrame:
    """Peak travel time index, peak arterial pace and recurrent delay of one replication."""
    scenario = result.scenario
    traffic = _in_window(result.logs.traffic, "t_min", scenario)
    if scenario.traffic is None or traffic.empty:
        return metric_frame({})
    hourly = traffic.groupby(traffic["clock_h"].astype(int))[["travel_time_index", "arterial_kmh"]].mean()
    peak = hourly[np.logical_or.reduce([(hourly.index >= start) & (hourly.index < end) for start, end in PEAKS])]
    recurrent, _crash = network_delays(result.logs, scenario)
    return metric_frame({
        "peak_travel_time_index": float(peak["travel_time_index"].mean()),
        "arterial_peak_min_per_km": float((60.0 / peak["arterial_kmh"]).mean()),
        "recurrent_delay_vehicle_h_per_day": recurrent,
    })


def incident_kpis(result: RunResult) -> pd.DataFrame:
    """Crash delay and its share of all delay, detection, detection to clearance and blockage of one replication."""
    scenario = result.scenario
    if scenario.crashes is None or scenario.traffic is None:
        return metric_frame({})
    crashes = _in_window(result.logs.crashes, "t_occur", scenario)
    if crashes.empty:
        return metric_frame({})
    recurrent, crash = network_delays(result.logs, scenario)
    detected = crashes[crashes["t_detect"].notna()]
    to_clearance = (detected["t_block_end"] - detected["t_detect"]).clip(lower=0.0)
    return metric_frame({
        "crash_delay_vehicle_h_per_day": crash,
        "incident_delay_share": crash / (recurrent + crash) if recurrent + crash > 0 else 0.0,
        "detection_min": float((detected["t_detect"] - detected["t_occur"]).mean()),
        "detection_to_clearance_min": float(to_clearance.mean()),
        "crash_blockage_min": float(crashes["blockage_min"].mean()),
    })

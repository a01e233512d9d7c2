"""Small tidy tables from each claim-check run, for the charts: by clock hour, by district, crash
blockage by hour, and (replication 0 only) every police case's claimed times.

The result store writes them next to `runs.csv`, so `citysim plot` can redraw every chart from the
results folder alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from citysim.clock import clock_hour
from citysim.config.experiment import Metric
from citysim.simulation.kpis import overlap_minutes, police_cases
from citysim.simulation.model import RunResult

KEYS = ["situation", "config", "replication"]
HOURLY_COLUMNS = [*KEYS, "hour", "arrival_min", "unit_utilisation", "call_taker_utilisation", "expressway_kmh",
                  "crash_blockage_min", "crash_delay_vehicle_h"]
DISTRICT_COLUMNS = [*KEYS, "district", "arrival_min", "incidents"]
SAMPLE_COLUMNS = ["situation", "config", "metric", "value_min"]


def hourly_table(result: RunResult, keys: tuple[str, str, int]) -> pd.DataFrame:
    """Mean arrival, unit utilisation, expressway speed and crash blockage by clock hour."""
    run = result.scenario.run
    cases = police_cases(result.logs.incidents)
    hour_of = (run.start_clock_h + cases["t_call"] / 60.0).astype(int) % 24
    arrival = (cases["t_arrive"] - cases["t_call"]).groupby(hour_of).mean()

    busy, duty, talking, staffed = np.zeros(24), np.zeros(24), np.zeros(24), np.zeros(24)
    starts = np.arange(run.warmup_min, run.duration_min, 60.0)
    units, shifts, calls = result.logs.units, result.logs.duty, result.logs.incidents
    roster = getattr(result.scenario.call_centre, "call_takers_by_hour", None)
    for start in starts:
        end = min(start + 60.0, run.duration_min)
        hour = int(clock_hour(run.start_clock_h, start))
        busy[hour] += overlap_minutes(units["t_dispatch"], units["t_free"].fillna(run.duration_min), start, end)
        duty[hour] += overlap_minutes(shifts["t_start"], shifts["t_end"], start, end)
        talking[hour] += overlap_minutes(calls["t_answer"], calls["t_talk_end"], start, end)
        staffed[hour] += roster[hour] * (end - start) if roster is not None else 0.0

    traffic = result.logs.traffic
    traffic = traffic[(traffic["t_min"] >= run.warmup_min) & (traffic["t_min"] < run.duration_min)]
    speed = traffic.groupby(traffic["clock_h"].astype(int))["expressway_kmh"].mean() if len(traffic) else None
    crashes = result.logs.crashes
    crashes = crashes[crashes["t_occur"] >= run.warmup_min]
    crash_hour = (run.start_clock_h + crashes["t_occur"] / 60.0).astype(int) % 24
    blockage = crashes["blockage_min"].groupby(crash_hour).sum()
    delay = crashes["delay_vehicle_h"].groupby(crash_hour).sum()
    hours = np.arange(24)
    frame = pd.DataFrame({
        "hour": hours,
        "arrival_min": arrival.reindex(hours).to_numpy(),
        "unit_utilisation": np.divide(busy, duty, out=np.full(24, np.nan), where=duty > 0),
        "call_taker_utilisation": np.divide(talking, staffed, out=np.full(24, np.nan), where=staffed > 0),
        "expressway_kmh": speed.reindex(hours).to_numpy() if speed is not None else np.nan,
        "crash_blockage_min": blockage.reindex(hours, fill_value=0.0).to_numpy(),
        "crash_delay_vehicle_h": delay.reindex(hours, fill_value=0.0).to_numpy(),
    })
    return frame.assign(situation=keys[0], config=keys[1], replication=keys[2])


def district_table(result: RunResult, keys: tuple[str, str, int]) -> pd.DataFrame:
    """Mean arrival time and count of police cases by district."""
    cases = police_cases(result.logs.incidents)
    arrival = cases["t_arrive"] - cases["t_call"]
    grouped = arrival.groupby(cases["district"], observed=False)
    frame = pd.DataFrame({"district": grouped.mean().index.astype(str), "arrival_min": grouped.mean().to_numpy(),
                          "incidents": grouped.size().to_numpy()})
    return frame.assign(situation=keys[0], config=keys[1], replication=keys[2])


def sample_table(result: RunResult, metrics: list[Metric], situation: str, config: str) -> pd.DataFrame:
    """Every police case's value of every claimed metric (for distribution charts)."""
    cases = police_cases(result.logs.incidents)
    parts = []
    for metric in metrics:
        values = (cases[metric.end] - cases[metric.start]).dropna().to_numpy()
        parts.append(pd.DataFrame({"metric": metric.name, "value_min": values}))
    frame = pd.concat(parts, ignore_index=True)
    return frame.assign(situation=situation, config=config)

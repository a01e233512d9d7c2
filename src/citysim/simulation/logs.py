"""The record schemas of a run and their conversion to tidy pandas DataFrames.

Incident log (one row per incident the 110 centre learned of during the run), in minutes from the
start of the run; times that did not happen are NaN:

=============== =====================================================================
replication     replication number
incident_id     index in call order within the replication
draw_id         the incident's identity across configurations: its index among all incidents drawn
                (before prevention), so a baseline and its smart twin share it (matched-incident estimator)
category        incident category (scenario key)
priority        1 = emergency .. larger = less urgent
district        district name
x_km, y_km      location on the district grid (km east / north of the projection's centre)
lon, lat        the same location in WGS84 degrees
t_occur         when the event happened
t_call          when the 110 centre learned of it
t_answer        when a call-taker took it
t_talk_end      when the call-taker finished with it (= t_answer without a call centre)
t_queue         when it entered the dispatch queue (after call-taking and decision)
t_dispatch      when the first unit was assigned
t_arrive        when the first unit reached the scene
t_clear         when the scene was cleared: the work done and every unit arrived (phone/diverted: end
                of the call)
t_closed        when its report was filed (= t_clear for phone/diverted calls, and without an
                ``operations`` block); NaN if still open at the end of the run
lookups         look-ups made on scene
lookup_min      minutes on scene spent on them (waits for the back office included)
units_needed    units the category asks for
n_units         units actually assigned
first_unit      id of the first unit assigned (<NA> if none)
resolution      dispatched, phone, diverted, or open (not closed when the run ended)
warmup          True if t_call falls in the warm-up period (excluded from KPIs)
drain           True if t_call falls in the drain after the KPI window (run.drain_min; excluded too)
crash           the crash (crash log crash_id) this incident reports, -1 for ordinary calls
call_hour       the clock hour of day (0-23) of t_call
=============== =====================================================================

Every log has one such clock-hour column, the whole hour of day (0-23, from `run.start_clock_h`;
`clock.clock_hours`) of its main time, named after that time: `call_hour` (incidents, of t_call),
`dispatch_hour` (units, of t_dispatch), `start_hour` (duty and tasks, of t_start), `refresh_hour`
(traffic, of t_min) and `occur_hour` (crashes, of t_occur). It is the last column, and it is derived:
the times stay the record.

Unit log (one row per unit assignment): replication, unit, unit_district, incident_id,
incident_district, t_dispatch, t_arrive, t_clear, travel_km, travel_min, and where the trip started:
from_x_km, from_y_km (grid km) and from_lon, from_lat (WGS84), crossing (the bridge or tunnel over a
barrier the trip used; missing if it crossed none), and t_free (when the unit was free again: t_clear,
or after the report for the unit that filed it), dispatch_hour.

Task log (one row per spell of other work, `operations.other_work`): replication, unit, unit_district,
task, t_start, t_end (ended by the task's end, a call, going off duty, or the end of the run), start_hour.

Duty log (one row per on-duty interval of a unit): replication, unit, unit_district, t_start, t_end,
start_hour.

Traffic log (one row per traffic refresh; empty without a road network): replication, t_min, clock_h
(the fractional clock hour), expressway_kmh and arterial_kmh (length-weighted mean speed = total km /
total minutes of the class's links, crash queues excluded), travel_time_index (volume-weighted congested /
free-flow link time), blockages (crash blockages in force), recurrent_delay_veh_h_per_h (sum over links of
volume x (BPR time - free-flow time): the rate of recurrent congestion delay until the next refresh, crash
queues excluded), refresh_hour.

Crash log (one row per crash; empty without crashes): replication, crash_id, incident_id (the 110
incident it raised, <NA> if reported after the run), arc, severity, district, x_km, y_km, t_occur,
t_detect (when the 110 centre learned of it: its incident's t_call, by a call or by video; NaN if after
the run), t_block_end (when it was cleared off the road), blockage_min, queue_dissolve_min (time for the
queue to clear after the blockage ends), peak_queue_veh (at most the link's storage), diverted_veh
(arrivals that diverted while the queue was full), queue_delay_vehicle_h (the queue's integral over
time), detour_delay_vehicle_h (diverted vehicles x the detour), delay_vehicle_h (their sum), occur_hour.
Blockages still in force at the end are cut there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from citysim.arrays import IntArray
from citysim.city.geography import DistrictGrid
from citysim.city.traffic import TRAFFIC_LOG_COLUMNS
from citysim.city.traffic_layer import CRASH_LOG_COLUMNS
from citysim.clock import clock_hours
from citysim.police.demand import IncidentPlan
from citysim.simulation.ledger import (
    RESOLUTION_DISPATCHED,
    RESOLUTION_DIVERTED,
    RESOLUTION_OPEN,
    RESOLUTION_PHONE,
    AssignmentLog,
    IncidentLedger,
)

INCIDENT_COLUMNS = [
    "replication", "incident_id", "draw_id", "category", "priority", "district", "x_km", "y_km", "lon", "lat",
    "t_occur", "t_call", "t_answer", "t_talk_end", "t_queue", "t_dispatch", "t_arrive", "t_clear", "t_closed",
    "lookups", "lookup_min", "units_needed", "n_units", "first_unit", "resolution", "warmup", "drain", "crash",
    "call_hour",
]
UNIT_COLUMNS = [
    "replication", "unit", "unit_district", "incident_id", "incident_district",
    "t_dispatch", "t_arrive", "t_clear", "travel_km", "travel_min",
    "from_x_km", "from_y_km", "from_lon", "from_lat", "crossing", "t_free", "dispatch_hour",
]
RESOLUTIONS = [RESOLUTION_DISPATCHED, RESOLUTION_PHONE, RESOLUTION_DIVERTED, RESOLUTION_OPEN]
LOG_NAMES = ("incidents", "units", "duty", "traffic", "crashes", "tasks")
#: Each log's clock-hour column and the time it is the hour of (see the module docstring).
CLOCK_HOUR_COLUMNS = {
    "incidents": ("call_hour", "t_call"), "units": ("dispatch_hour", "t_dispatch"), "duty": ("start_hour", "t_start"),
    "traffic": ("refresh_hour", "t_min"), "crashes": ("occur_hour", "t_occur"), "tasks": ("start_hour", "t_start"),
}


@dataclass(frozen=True)
class RunLogs:
    """The logs of one replication (or of several, concatenated)."""

    incidents: pd.DataFrame
    units: pd.DataFrame
    duty: pd.DataFrame
    traffic: pd.DataFrame
    crashes: pd.DataFrame
    tasks: pd.DataFrame

    @staticmethod
    def concat(parts: list[RunLogs]) -> RunLogs:
        return RunLogs(*(pd.concat([getattr(p, name) for p in parts], ignore_index=True) for name in LOG_NAMES))


def _categorical(codes: np.ndarray, categories: list[str]) -> pd.Categorical[str]:
    return pd.Categorical.from_codes(codes.astype(np.int64), categories=pd.Index(categories))


@dataclass(frozen=True)
class RunRecord:
    """What a finished replication recorded, as plain data: everything the logs are built from."""

    replication: int
    start_clock_h: float  # the clock hour at simulation time 0 (run.start_clock_h)
    end_min: float
    warmup_min: float
    window_end_min: float  # end of the KPI window (the drain follows)
    grid: DistrictGrid
    crossing_names: list[str]  # barrier crossings of the road network (the unit log's `crossing`)
    category_names: list[str]
    severity_names: list[str]
    plan: IncidentPlan
    ledger: IncidentLedger
    assignments: AssignmentLog
    unit_district: IntArray
    duty_intervals: list[tuple[int, float, float]]
    task_names: list[str]
    task_intervals: list[tuple[int, int, float, float]]
    traffic_rows: list[tuple[Any, ...]]
    crash_rows: list[tuple[Any, ...]]


def build_logs(record: RunRecord) -> RunLogs:
    """Turn a finished replication's record into the six logs."""
    plan, ledger = record.plan, record.ledger
    rep = record.replication
    known = plan.t_call < record.end_min  # incidents reported after the end are not part of the run
    names = list(record.grid.names)
    districts = _categorical(plan.district, categories=names)
    categories = _categorical(plan.category, categories=record.category_names)
    lat, lon = record.grid.projection.to_deg(plan.x_km, plan.y_km)
    first_unit = pd.array([a[0] if a else pd.NA for a in ledger.assigned], dtype="Int64")
    incidents = pd.DataFrame({
        "replication": np.full(plan.size, rep, dtype=np.int64),
        "incident_id": np.arange(plan.size, dtype=np.int64),
        "draw_id": plan.draw_id,
        "category": categories,
        "priority": plan.priority.astype(np.int64),
        "district": districts,
        "x_km": plan.x_km,
        "y_km": plan.y_km,
        "lon": lon,
        "lat": lat,
        "t_occur": plan.t_occur,
        "t_call": plan.t_call,
        "t_answer": np.array(ledger.t_answer),
        "t_talk_end": np.array(ledger.t_answer) + plan.talk_min,
        "t_queue": np.array(ledger.t_queue),
        "t_dispatch": np.array(ledger.t_dispatch),
        "t_arrive": np.array(ledger.t_arrive),
        "t_clear": np.array(ledger.t_clear),
        "t_closed": np.array(ledger.t_closed),
        "lookups": plan.lookups.astype(np.int64),
        "lookup_min": np.array(ledger.lookup_min),
        "units_needed": plan.units_needed.astype(np.int64),
        "n_units": np.array([len(a) for a in ledger.assigned], dtype=np.int64),
        "first_unit": first_unit,
        "resolution": pd.Categorical(ledger.resolution, categories=RESOLUTIONS),
        "warmup": plan.t_call < record.warmup_min,
        "drain": plan.t_call >= record.window_end_min,
        "crash": plan.crash.astype(np.int64),
    })[known].reset_index(drop=True)

    unit_rows = np.array(record.assignments.rows, dtype=np.float64).reshape(-1, 11)
    unit_ids = unit_rows[:, 0].astype(np.int64)
    incident_ids = unit_rows[:, 1].astype(np.int64)
    from_lat, from_lon = record.grid.projection.to_deg(unit_rows[:, 7], unit_rows[:, 8])
    crossing = unit_rows[:, 9].astype(np.int64)
    units = pd.DataFrame({
        "replication": np.full(unit_ids.size, rep, dtype=np.int64),
        "unit": unit_ids,
        "unit_district": _categorical(record.unit_district[unit_ids], categories=names),
        "incident_id": incident_ids,
        "incident_district": _categorical(plan.district[incident_ids], categories=names),
        "t_dispatch": unit_rows[:, 2],
        "t_arrive": unit_rows[:, 3],
        "t_clear": unit_rows[:, 4],
        "travel_km": unit_rows[:, 5],
        "travel_min": unit_rows[:, 6],
        "from_x_km": unit_rows[:, 7],
        "from_y_km": unit_rows[:, 8],
        "from_lon": from_lon,
        "from_lat": from_lat,
        "crossing": pd.Categorical.from_codes(crossing, categories=pd.Index(record.crossing_names)),
        "t_free": unit_rows[:, 10],
    })

    duty_rows = np.array(record.duty_intervals, dtype=np.float64).reshape(-1, 3)
    duty_units = duty_rows[:, 0].astype(np.int64)
    duty = pd.DataFrame({
        "replication": np.full(duty_units.size, rep, dtype=np.int64),
        "unit": duty_units,
        "unit_district": _categorical(record.unit_district[duty_units], categories=names),
        "t_start": duty_rows[:, 1],
        "t_end": duty_rows[:, 2],
    })
    task_rows = np.array([row[1:] for row in record.task_intervals], dtype=np.float64).reshape(-1, 3)
    task_units = np.array([row[0] for row in record.task_intervals], dtype=np.int64)
    tasks = pd.DataFrame({
        "replication": np.full(task_units.size, rep, dtype=np.int64),
        "unit": task_units,
        "unit_district": _categorical(record.unit_district[task_units], categories=names),
        "task": _categorical(task_rows[:, 0].astype(np.int64), record.task_names),
        "t_start": task_rows[:, 1],
        "t_end": task_rows[:, 2],
    })
    logs = {"incidents": incidents, "units": units, "duty": duty, "traffic": _traffic_log(record),
            "crashes": _crash_log(record, incidents), "tasks": tasks}
    for name, (column, time) in CLOCK_HOUR_COLUMNS.items():
        logs[name][column] = clock_hours(record.start_clock_h, logs[name][time].to_numpy(dtype=np.float64))
    return RunLogs(**logs)


def _traffic_log(record: RunRecord) -> pd.DataFrame:
    frame = pd.DataFrame(record.traffic_rows, columns=TRAFFIC_LOG_COLUMNS)
    frame.insert(0, "replication", np.full(len(frame), record.replication, dtype=np.int64))
    return frame


def _crash_log(record: RunRecord, incidents: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(record.crash_rows, columns=CRASH_LOG_COLUMNS)
    crash_incidents = incidents.loc[incidents["crash"] >= 0, ["crash", "incident_id", "t_call"]].set_index("crash")
    frame.insert(1, "incident_id", frame["crash_id"].map(crash_incidents["incident_id"]).astype("Int64"))
    frame.insert(list(frame.columns).index("t_occur") + 1, "t_detect",
                 frame["crash_id"].map(crash_incidents["t_call"]).astype(np.float64))
    names = list(record.grid.names)
    where = record.grid.district_of(frame["x_km"].to_numpy(dtype=np.float64), frame["y_km"].to_numpy(dtype=np.float64))
    frame.insert(4, "district", pd.Series(_categorical(where, names)))
    frame["severity"] = _categorical(frame["severity"].to_numpy(dtype=np.int64), record.severity_names)
    frame.insert(0, "replication", np.full(len(frame), record.replication, dtype=np.int64))
    return frame

"""The record schemas of a run and their conversion to tidy pandas DataFrames.

`LOG_SCHEMAS` defines every log table's columns in order, each with its pandas type and meaning: the one
place they are documented (docs/reference.md is generated from it, and tests/test_reference.py checks a
run's logs against it). Times are minutes from the start of the run; times that did not happen are NaN.

Every log ends with one clock-hour column, the whole hour of day (0-23, from `run.start_clock_h`;
`clock.clock_hours`) of its main time, named after that time (`CLOCK_HOUR_COLUMNS`): `call_hour`
(incidents, of t_call), `dispatch_hour` (units), `start_hour` (duty and tasks), `refresh_hour` (traffic)
and `occur_hour` (crashes). It is derived: the times stay the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from citysim.arrays import IntArray
from citysim.clock import clock_hours
from citysim.city.geography import DistrictGrid
from citysim.city.traffic import TRAFFIC_LOG_COLUMNS
from citysim.city.traffic_layer import CRASH_LOG_COLUMNS
from citysim.police.demand import IncidentPlan
from citysim.simulation.ledger import (
    RESOLUTION_DISPATCHED,
    RESOLUTION_DIVERTED,
    RESOLUTION_OPEN,
    RESOLUTION_PHONE,
    AssignmentLog,
    IncidentLedger,
)


@dataclass(frozen=True)
class Column:
    """One column of a log table: its name, pandas dtype and meaning."""

    name: str
    dtype: str
    meaning: str


@dataclass(frozen=True)
class LogSchema:
    """A log table: what one row is, and its columns in order."""

    description: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


_REPLICATION = Column("replication", "int64", "replication number k (its seed is child k of the root seed)")
_UNIT = Column("unit", "int64", "unit id (units are numbered district by district)")
_UNIT_DISTRICT = Column("unit_district", "category", "the unit's home district")
_FLOAT, _INT, _CATEGORY = "float64", "int64", "category"

LOG_SCHEMAS: dict[str, LogSchema] = {
    "incidents": LogSchema("One row per incident the 110 centre learned of during the run (calls, and crashes "
                           "reported before its end).", (
        _REPLICATION,
        Column("incident_id", _INT, "index in call order within the replication"),
        Column("draw_id", _INT, "the incident's identity across configurations: its index among all incidents "
               "drawn (before prevention), so a baseline and its smart twin share it (matched-incident estimator)"),
        Column("category", _CATEGORY, "incident category (a key of demand.categories)"),
        Column("priority", _INT, "1 = emergency .. larger = less urgent"),
        Column("district", _CATEGORY, "district name"),
        Column("x_km", _FLOAT, "location on the district grid, km east of the projection's centre"),
        Column("y_km", _FLOAT, "location on the district grid, km north of the projection's centre"),
        Column("lon", _FLOAT, "the same location's WGS84 longitude"),
        Column("lat", _FLOAT, "the same location's WGS84 latitude"),
        Column("t_occur", _FLOAT, "when the event happened"),
        Column("t_call", _FLOAT, "when the 110 centre learned of it"),
        Column("t_answer", _FLOAT, "when a call-taker took it"),
        Column("t_talk_end", _FLOAT, "when the call-taker finished with it (= t_answer without a call centre)"),
        Column("t_queue", _FLOAT, "when it entered the dispatch queue (after call-taking and decision)"),
        Column("t_dispatch", _FLOAT, "when the first unit was assigned"),
        Column("t_arrive", _FLOAT, "when the first unit reached the scene"),
        Column("t_clear", _FLOAT, "when the scene was cleared: the work done and every unit arrived (phone or "
               "diverted: the end of the call)"),
        Column("t_closed", _FLOAT, "when its report was filed (= t_clear for phone and diverted calls, and without "
               "an operations block); NaN if still open at the end of the run"),
        Column("lookups", _INT, "look-ups made on scene"),
        Column("lookup_min", _FLOAT, "minutes on scene spent on them (waits for the back office included)"),
        Column("units_needed", _INT, "units the category asks for"),
        Column("n_units", _INT, "units actually assigned by the end of the run (0: none was sent)"),
        Column("first_unit", "Int64", "id of the first unit assigned (<NA> if none)"),
        Column("resolution", _CATEGORY, "dispatched (units were sent and the scene cleared), phone, diverted, "
               "or open (not cleared when the run ended, whether or not a unit was sent)"),
        Column("warmup", "bool", "True if t_call < run.warmup_min (excluded from every KPI)"),
        Column("drain", "bool", "True if t_call >= run.duration_min, in the drain after the KPI window "
               "(run.drain_min; excluded too)"),
        Column("crash", _INT, "the crash (crash log crash_id) this incident reports, -1 for ordinary calls"),
        Column("call_hour", _INT, "the clock hour of day (0-23) of t_call"),
    )),
    "units": LogSchema("One row per unit assignment.", (
        _REPLICATION, _UNIT, _UNIT_DISTRICT,
        Column("incident_id", _INT, "the incident it was sent to (incident log incident_id)"),
        Column("incident_district", _CATEGORY, "that incident's district"),
        Column("t_dispatch", _FLOAT, "when this unit was assigned"),
        Column("t_arrive", _FLOAT, "when it reached the scene"),
        Column("t_clear", _FLOAT, "when the scene was cleared"),
        Column("travel_km", _FLOAT, "km driven to the scene"),
        Column("travel_min", _FLOAT, "minutes from assignment to arrival (turn-out, any interruption delay, driving)"),
        Column("from_x_km", _FLOAT, "where the trip started, km east on the district grid"),
        Column("from_y_km", _FLOAT, "where the trip started, km north on the district grid"),
        Column("from_lon", _FLOAT, "the trip's start, WGS84 longitude"),
        Column("from_lat", _FLOAT, "the trip's start, WGS84 latitude"),
        Column("crossing", _CATEGORY, "the bridge or tunnel over a barrier the trip used (missing if none)"),
        Column("t_free", _FLOAT, "when the unit was free again: t_clear, or after the report for the unit that "
               "filed it; NaN if still busy at the end"),
        Column("dispatch_hour", _INT, "the clock hour of day (0-23) of t_dispatch"),
    )),
    "duty": LogSchema("One row per on-duty interval of a unit (the hourly roster).", (
        _REPLICATION, _UNIT, _UNIT_DISTRICT,
        Column("t_start", _FLOAT, "when the unit came on duty"),
        Column("t_end", _FLOAT, "when it went off duty (or the end of the run)"),
        Column("start_hour", _INT, "the clock hour of day (0-23) of t_start"),
    )),
    "tasks": LogSchema("One row per spell of other work (operations.other_work).", (
        _REPLICATION, _UNIT, _UNIT_DISTRICT,
        Column("task", _CATEGORY, "the task's name (operations.other_work[].name)"),
        Column("t_start", _FLOAT, "when the spell started"),
        Column("t_end", _FLOAT, "when it ended: the task's end, a call, going off duty, or the end of the run"),
        Column("start_hour", _INT, "the clock hour of day (0-23) of t_start"),
    )),
    "traffic": LogSchema("One row per traffic refresh (traffic.refresh_min); empty without a road network.", (
        _REPLICATION,
        Column("t_min", _FLOAT, "time of the refresh"),
        Column("clock_h", _FLOAT, "its clock hour of day (fractional, 0 <= h < 24)"),
        Column("expressway_kmh", _FLOAT, "length-weighted mean expressway speed (total km / total minutes of the "
               "class's links, crash queues excluded)"),
        Column("arterial_kmh", _FLOAT, "the same for arterials"),
        Column("travel_time_index", _FLOAT, "volume-weighted congested / free-flow link time"),
        Column("blockages", _FLOAT, "crash blockages in force"),
        Column("recurrent_delay_veh_h_per_h", _FLOAT, "sum over links of volume x (BPR time - free-flow time): the "
               "rate of recurrent congestion delay until the next refresh, crash queues excluded"),
        Column("refresh_hour", _INT, "the clock hour of day (0-23) of t_min"),
    )),
    "crashes": LogSchema("One row per crash; empty without a crashes block. Blockages still in force at the end "
                         "are cut there.", (
        _REPLICATION,
        Column("crash_id", _INT, "the crash's index within the replication"),
        Column("incident_id", "Int64", "the 110 incident it raised (<NA> if reported after the run)"),
        Column("arc", _INT, "the road link (arc index of the network) it happened on"),
        Column("severity", _CATEGORY, "its severity (crashes.severities[].name)"),
        Column("district", _CATEGORY, "the district it happened in"),
        Column("x_km", _FLOAT, "location, km east on the district grid"),
        Column("y_km", _FLOAT, "location, km north on the district grid"),
        Column("t_occur", _FLOAT, "when it happened"),
        Column("t_detect", _FLOAT, "when the 110 centre learned of it: its incident's t_call, by a call or by "
               "video; NaN if after the run"),
        Column("t_block_end", _FLOAT, "when it was cleared off the road"),
        Column("blockage_min", _FLOAT, "minutes the link was blocked"),
        Column("queue_dissolve_min", _FLOAT, "minutes for the queue to clear after the blockage ended"),
        Column("peak_queue_veh", _FLOAT, "the longest queue (at most the link's storage)"),
        Column("diverted_veh", _FLOAT, "arrivals that diverted while the queue was full"),
        Column("queue_delay_vehicle_h", _FLOAT, "the queue's integral over time"),
        Column("detour_delay_vehicle_h", _FLOAT, "diverted vehicles x the detour (crashes.detour_min)"),
        Column("delay_vehicle_h", _FLOAT, "their sum: the crash-induced delay"),
        Column("occur_hour", _INT, "the clock hour of day (0-23) of t_occur"),
    )),
}
#: Each log's clock-hour column and the time it is the hour of (see the module docstring).
CLOCK_HOUR_COLUMNS = {
    "incidents": ("call_hour", "t_call"), "units": ("dispatch_hour", "t_dispatch"), "duty": ("start_hour", "t_start"),
    "traffic": ("refresh_hour", "t_min"), "crashes": ("occur_hour", "t_occur"), "tasks": ("start_hour", "t_start"),
}
INCIDENT_COLUMNS = LOG_SCHEMAS["incidents"].names
UNIT_COLUMNS = LOG_SCHEMAS["units"].names

RESOLUTIONS = [RESOLUTION_DISPATCHED, RESOLUTION_PHONE, RESOLUTION_DIVERTED, RESOLUTION_OPEN]
LOG_NAMES = ("incidents", "units", "duty", "traffic", "crashes", "tasks")


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

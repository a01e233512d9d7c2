"""A city-day replay as one tidy table: where the open incidents and the units are at each hour of one
replication, baseline and smart, so that the replay (an animated map) can be redrawn from a results folder.

The positions are derived from the run's logs, not tracked by the model, and are for display:

- an open incident (reported, `t_call`, and not yet cleared, `t_clear`) is at its place, in the state
  `waiting` (no unit assigned yet), `en route` (a unit assigned, none on scene) or `on scene`;
- a unit on an assignment (from `t_dispatch` to `t_free`) is `busy`: on its way it is drawn on the straight
  line from where it set off to the scene, at the share of the trip's minutes gone (the road it took is not
  logged), and from its arrival to `t_free` at the scene (its report too, wherever it files it);
- any other unit on duty is `free`, at its waiting place (post, station or forecast post), also while it
  drives back there.

Snapshots are taken on the hour mark of each hour of the KPI window (after the warm-up), at most 24.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from citysim.arrays import FloatArray
from citysim.clock import clock_hour
from citysim.config.schema import Scenario
from citysim.simulation.logs import RunLogs
from citysim.simulation.model import CityModel

REPLAY_COLUMNS = ["situation", "config", "frame", "clock_h", "kind", "state", "priority", "lon", "lat"]
INCIDENT_STATES = ("waiting", "en route", "on scene")
UNIT_STATES = ("busy", "free")
FRAMES = 24  # one city-day, an hour a frame
DEGREE_DIGITS = 5  # lon/lat rounded to about a metre: the table stays small, the map cannot tell


@dataclass(frozen=True)
class Homes:
    """Each unit's waiting place in WGS84 degrees, indexed by unit id."""

    lon: FloatArray
    lat: FloatArray


def snapshot_times(warmup_min: float, duration_min: float) -> FloatArray:
    """The hour marks from the end of the warm-up, before the end of the run (at most FRAMES)."""
    return np.arange(warmup_min, duration_min, 60.0)[:FRAMES]


def _open(incidents: pd.DataFrame, t: float) -> pd.DataFrame:
    """The incidents reported by `t` and not yet cleared, with their state."""
    cleared = incidents["t_clear"].fillna(np.inf)
    rows = incidents[(incidents["t_call"] <= t) & (cleared > t)]
    dispatched = rows["t_dispatch"].fillna(np.inf) <= t
    arrived = rows["t_arrive"].fillna(np.inf) <= t
    state = np.where(arrived, "on scene", np.where(dispatched, "en route", "waiting"))
    return pd.DataFrame({"kind": "incident", "state": state, "priority": rows["priority"].to_numpy(),
                         "lon": rows["lon"].to_numpy(), "lat": rows["lat"].to_numpy()})


def _units(logs: RunLogs, homes: Homes, t: float) -> pd.DataFrame:
    """Every unit on duty or on an assignment at `t`: busy ones on their trip or at the scene, free ones at home."""
    units = logs.units
    busy = units[(units["t_dispatch"] <= t) & (units["t_free"].fillna(np.inf) > t)]
    busy = busy.merge(logs.incidents[["incident_id", "lon", "lat"]], on="incident_id")
    trip = (busy["t_arrive"] - busy["t_dispatch"]).to_numpy()
    # The share of the trip gone; a unit that never arrived (no t_arrive) stays where it set off.
    share = np.clip(np.divide(t - busy["t_dispatch"].to_numpy(), trip, out=np.zeros(len(busy)), where=trip > 0),
                    0.0, 1.0)
    lon = busy["from_lon"].to_numpy() + share * (busy["lon"].to_numpy() - busy["from_lon"].to_numpy())
    lat = busy["from_lat"].to_numpy() + share * (busy["lat"].to_numpy() - busy["from_lat"].to_numpy())
    duty = logs.duty
    on_duty = duty.loc[(duty["t_start"] <= t) & (duty["t_end"] > t), "unit"].to_numpy(dtype=np.intp)
    free = np.setdiff1d(on_duty, busy["unit"].to_numpy(dtype=np.intp))
    return pd.concat([
        pd.DataFrame({"kind": "unit", "state": "busy", "lon": lon, "lat": lat}),
        pd.DataFrame({"kind": "unit", "state": "free", "lon": homes.lon[free], "lat": homes.lat[free]}),
    ], ignore_index=True)


def replay_frames(logs: RunLogs, homes: Homes, times: FloatArray, start_clock_h: float) -> pd.DataFrame:
    """The open incidents and the units at each of `times` (minutes from the run's start), one frame each."""
    frames = []
    for frame, t in enumerate(times):
        rows = pd.concat([_open(logs.incidents, float(t)), _units(logs, homes, float(t))], ignore_index=True)
        frames.append(rows.assign(frame=frame, clock_h=clock_hour(start_clock_h, float(t))))
    table = pd.concat(frames, ignore_index=True)
    table["priority"] = table["priority"].astype("Int64")
    table[["lon", "lat"]] = table[["lon", "lat"]].round(DEGREE_DIGITS)
    return table


def _run(scenario: Scenario, seed: int) -> tuple[RunLogs, Homes]:
    """Replication 0's logs and its units' waiting places."""
    model = CityModel(scenario, 0, seed)
    lat, lon = model.grid.projection.to_deg(model.fleet.home_x, model.fleet.home_y)
    return model.run().logs, Homes(np.asarray(lon), np.asarray(lat))


def replay_table(baseline: Scenario, smart: Scenario, situation: str, seed: int) -> pd.DataFrame:
    """Replication 0 of the situation, baseline and smart (the claim check's own replication 0: the same
    seed), as replay frames."""
    parts = []
    for config, scenario in (("baseline", baseline), ("smart", smart)):
        logs, homes = _run(scenario, seed)
        run = scenario.run
        frames = replay_frames(logs, homes, snapshot_times(run.warmup_min, run.duration_min), run.start_clock_h)
        parts.append(frames.assign(situation=situation, config=config))
    return pd.concat(parts, ignore_index=True)[REPLAY_COLUMNS]

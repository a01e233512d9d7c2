"""Checks of a run's geography from its logs alone: where incidents fell and how trips crossed barriers.

These are the audits issue 11 asks for, computed from the incident and unit logs (lon/lat and the trip
origins) against the scenario's district polygons and barrier lines, not from the sampler's own
bookkeeping, so that they can fail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from citysim.city.context import city_context
from citysim.city.geography import DistrictGrid
from citysim.city.geometry import segment_crossing_counts
from citysim.config.schema import Scenario
from citysim.simulation.logs import RunLogs


def incident_placement(scenario: Scenario, logs: RunLogs) -> dict[str, float]:
    """Share of incidents on no district's land, and outside their own district's polygon (crash
    reports excluded: they lie on road links, which may be bridges)."""
    grid = DistrictGrid.from_scenario(scenario)
    calls = logs.incidents[logs.incidents["crash"] < 0]
    points = grid.projection.lonlat_to_km(shapely.points(calls["lon"].to_numpy(), calls["lat"].to_numpy()))
    x, y = shapely.get_x(points), shapely.get_y(points)
    own = np.array([grid.names.index(str(d)) for d in calls["district"]], dtype=np.intp)
    inside_own = np.zeros(len(calls), dtype=bool)
    for index, polygon in enumerate(grid.polygons):
        mine = own == index
        inside_own[mine] = shapely.contains_xy(polygon, x[mine], y[mine])
    return {"incidents": float(len(calls)), "off_land_share": float((~grid.on_land(x, y)).mean()),
            "outside_own_district_share": float((~inside_own).mean())}


def _via(points: np.ndarray, ox: np.ndarray, oy: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Straight km from each origin through the nearest of `points` to its destination."""
    best = np.full(ox.size, np.inf)
    for cx, cy in points:
        best = np.minimum(best, np.hypot(ox - cx, oy - cy) + np.hypot(dx - cx, dy - cy))
    return best


def barrier_trips(scenario: Scenario, logs: RunLogs) -> pd.DataFrame:
    """Per barrier: trips from one bank to the other (their straight line crosses it an odd number of
    times; a line across a meander and back is a same-bank trip), how many recorded no crossing, and how
    many drove fewer km than the straight detour through the barrier's nearest crossing. A barrier line
    is open: a trip that drove at least the straight way round one of its ends (upstream of the last
    bridge, say) need not cross it, so only trips shorter than that way round can be faults. Trips to a
    crash on a bridge or tunnel itself are left out (they stop on the crossing) and counted apart."""
    assert scenario.network is not None
    grid = DistrictGrid.from_scenario(scenario)
    network = city_context(scenario, grid).network
    on_crossing = logs.crashes.loc[network.arc_crossing[logs.crashes["arc"].to_numpy(dtype=np.intp)] >= 0,
                                   ["replication", "incident_id"]].dropna()
    units = logs.units.merge(logs.incidents[["replication", "incident_id", "x_km", "y_km"]],
                             on=["replication", "incident_id"])
    to_crossing = units.set_index(["replication", "incident_id"]).index.isin(
        on_crossing.astype({"incident_id": np.int64}).set_index(["replication", "incident_id"]).index)
    units = units[~to_crossing]
    ox, oy = units["from_x_km"].to_numpy(), units["from_y_km"].to_numpy()
    dx, dy = units["x_km"].to_numpy(), units["y_km"].to_numpy()
    rows = []
    for barrier in scenario.network.barriers:
        line = np.array([grid.projection.to_km(lat, lon) for lat, lon in barrier.points])
        across = segment_crossing_counts(ox, oy, dx, dy, line) % 2 == 1  # ends on opposite banks
        crossings = np.array([grid.projection.to_km(c.lat, c.lon) for c in barrier.crossings]).reshape(-1, 2)
        ends = (ox[across], oy[across], dx[across], dy[across])
        detour, around = _via(crossings, *ends), _via(line[[0, -1]], *ends)
        km = units["travel_km"].to_numpy()[across]
        must_cross = km < around - 1e-9
        rows.append({
            "barrier": barrier.name, "trips": len(units), "to_crash_on_crossing": int(to_crossing.sum()),
            "trips_across": int(across.sum()),
            "across_without_crossing": int((units["crossing"][across].isna().to_numpy() & must_cross).sum()),
            "shorter_than_detour": int((must_cross & (km < detour - 1e-9)).sum()),
        })
    return pd.DataFrame(rows)

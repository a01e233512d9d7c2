"""Parking KPIs of one replication (all lower-is-better, each name carrying its unit).

- `cruising_vehicle_h`: vehicle-hours spent cruising for parking per day, over the KPI window
  [warmup_min, duration_min) (Little's law by district and clock hour, `citysim.city.parking`);
- `search_min_per_car`: the mean search time of a parking car (after parking guidance);
- `local_street_tti_peak`: the local-street travel time index (congested / free-flow time) in the parking
  districts over the peak clock hours 07-09 and 17-19, weighted by the districts' arterial km;
- `police_trip_min`: mean minutes from assignment to arrival of the unit trips to incidents in the parking
  districts assigned in the KPI window.

The first three follow from the scenario alone (the traffic profile), the last from the unit log.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from citysim.city.context import city_context
from citysim.city.geography import DistrictGrid
from citysim.simulation.kpis import PEAKS, between, metric_frame
from citysim.simulation.model import RunResult


def parking_kpis(result: RunResult) -> pd.DataFrame:
    """The parking KPIs of one replication; an empty frame when its scenario has no parking districts."""
    scenario = result.scenario
    if scenario.network is None or scenario.traffic is None or not scenario.traffic.parking.districts:
        return metric_frame({})
    profile = city_context(scenario, DistrictGrid.from_scenario(scenario)).profile
    run = scenario.run
    minutes = np.arange(run.warmup_min, run.duration_min) + 0.5
    hours = ((run.start_clock_h + minutes / 60.0) % 24.0).astype(int)
    cruising = profile.cruising.cruising.sum(axis=0)  # cars cruising, by clock hour
    per_day = float(cruising[hours].sum() / 60.0 * 1440.0 / max(minutes.size, 1))

    peak = np.concatenate([(np.arange(start * 60, end * 60) + 0.5) / 60 for start, end in PEAKS])
    km = profile.cruising.arterial_km
    factors = np.array([[profile.district_local_factor(float(t), slot) for t in peak]
                        for slot in range(1, km.size + 1)])
    tti = float((factors.mean(axis=1) * km).sum() / km.sum()) if km.sum() > 0 else float("nan")

    units = result.logs.units
    names = [d.name for d in scenario.districts]
    parked = [names[d] for d in profile.parking_districts]
    trips = between(units[units["incident_district"].isin(parked)], "t_dispatch", run.warmup_min, run.duration_min)
    trip_min = float(trips["travel_min"].mean()) if len(trips) else float("nan")
    search = float(scenario.traffic.parking.search_min)
    return metric_frame({"cruising_vehicle_h": per_day, "search_min_per_car": search, "local_street_tti_peak": tti,
                         "police_trip_min": trip_min})

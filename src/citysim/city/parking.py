"""Cruising for parking as a flow (Little's law), by parking district and clock hour.

The day's parked cars (`parked_cars_per_day`) are spread over the parking districts by their arterial
road km (a proxy for the kerb they can park on) and over the clock hours by the arterial demand profile
(ASSUMPTIONS). Cars cruising = cars parking per hour x search hours per car (L = lambda W); x the
cruising speed = cruising vehicle-km per hour; divided by the district's arterial vehicle-km per hour =
the share added to the volume of its surface streets (arterials and local streets; cruisers do not
search on expressways).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from citysim.arrays import FloatArray
from citysim.city.network import ARTERIAL, RoadNetwork
from citysim.config.schema import Parking


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    """numerator / denominator, 0 where the denominator is 0."""
    out = np.zeros(np.broadcast(numerator, denominator).shape)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


@dataclass(frozen=True)
class Cruising:
    """Cruising for parking in each parking district (rows, in the order given) at each clock hour (columns)."""

    parked_per_hour: FloatArray  # cars parking per hour (lambda)
    cruising: FloatArray  # cars cruising at a time (L = lambda W)
    vehicle_km_per_hour: FloatArray  # cruising vehicle-km per hour
    share: FloatArray  # cruising vehicle-km / the district's arterial vehicle-km
    arterial_km: FloatArray  # the district's arterial km (one entry per district)


def cruising_flow(network: RoadNetwork, parking: Parking, arterial_ratios: list[float],
                  districts: list[int]) -> Cruising:
    """Little's law for each parking district (`districts`: district indexes) and clock hour."""
    arterial = network.arc_class == ARTERIAL
    in_district = [arterial & (network.arc_district == d) for d in districts]
    km = np.array([network.arc_km[mask].sum() for mask in in_district], dtype=np.float64)
    capacity_km = np.array([(network.arc_capacity * network.arc_km)[mask].sum() for mask in in_district],
                           dtype=np.float64)
    hourly = np.asarray(arterial_ratios, dtype=np.float64)
    spread = _ratio(km, np.array(km.sum()))[:, None] * _ratio(hourly, np.array(hourly.sum()))[None, :]
    parked = parking.parked_cars_per_day * spread
    cruising = parked * (parking.search_min / 60.0)
    vehicle_km = cruising * parking.cruising_speed_kmh
    share = _ratio(vehicle_km, capacity_km[:, None] * hourly[None, :])
    return Cruising(parked, cruising, vehicle_km, share, km)

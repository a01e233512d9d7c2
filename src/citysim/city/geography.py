"""Projection of the scenario's districts onto a flat km grid, and sampling of incident locations.

A local equirectangular projection around the mean district centre is accurate to well under 1 %
over Shanghai's 120 km extent, which is far below the other approximations of the travel model.
Incident locations are uniform in a disc of the district's area around its centre, and a district's
stations are spread evenly over that disc on a sunflower (Vogel) spiral: both are assumptions until
the road-network issue brings population-weighted locations and real station sites.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from citysim.arrays import FloatArray, IntArray
from citysim.config.schema import District

KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_EQUATOR = 111.320
GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))


@dataclass(frozen=True)
class Projection:
    """Local equirectangular projection: km east (x) and north (y) of a reference point."""

    lat0: float
    lon0: float

    def to_km(self, lat: float, lon: float) -> tuple[float, float]:
        km_per_deg_lon = KM_PER_DEG_LON_EQUATOR * math.cos(math.radians(self.lat0))
        return (lon - self.lon0) * km_per_deg_lon, (lat - self.lat0) * KM_PER_DEG_LAT


@dataclass(frozen=True)
class DistrictGrid:
    """District centres in km east/north of a reference point, and their disc radii."""

    names: tuple[str, ...]
    x_km: FloatArray
    y_km: FloatArray
    radius_km: FloatArray
    projection: Projection

    @classmethod
    def from_districts(cls, districts: list[District]) -> DistrictGrid:
        projection = Projection(float(np.mean([d.lat for d in districts])), float(np.mean([d.lon for d in districts])))
        centres = [projection.to_km(d.lat, d.lon) for d in districts]
        return cls(
            names=tuple(d.name for d in districts),
            x_km=np.array([c[0] for c in centres]),
            y_km=np.array([c[1] for c in centres]),
            radius_km=np.array([math.sqrt(d.area_km2 / math.pi) for d in districts]),
            projection=projection,
        )

    def district_of(self, x: FloatArray, y: FloatArray) -> IntArray:
        """The district each point belongs to: the disc it lies deepest in (distance / radius smallest)."""
        relative = np.hypot(x[:, None] - self.x_km[None, :], y[:, None] - self.y_km[None, :]) / self.radius_km
        return np.asarray(relative.argmin(axis=1), dtype=np.intp)

    def sample_locations(
        self, district: IntArray, u_radius: FloatArray, u_angle: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Points uniform in each incident's district disc, from two uniforms each."""
        r = self.radius_km[district] * np.sqrt(u_radius)
        angle = 2 * math.pi * u_angle
        return self.x_km[district] + r * np.cos(angle), self.y_km[district] + r * np.sin(angle)

    def station_positions(self, district: int, count: int) -> tuple[FloatArray, FloatArray]:
        """`count` station sites covering the district disc evenly (station 0 nearest the centre)."""
        k = np.arange(count)
        r = self.radius_km[district] * np.sqrt((k + 0.5) / count) if count > 1 else np.zeros(1)
        angle = k * GOLDEN_ANGLE
        return self.x_km[district] + r * np.cos(angle), self.y_km[district] + r * np.sin(angle)

    def unit_homes(self, stations: list[int], units: list[int]) -> tuple[IntArray, FloatArray,
                                                                          FloatArray]:
        """Home district and station position of every unit; units are dealt round-robin to stations."""
        districts, xs, ys = [], [], []
        for district, (n_stations, n_units) in enumerate(zip(stations, units, strict=True)):
            sx, sy = self.station_positions(district, n_stations)
            station = np.arange(n_units) % n_stations
            districts.append(np.full(n_units, district, dtype=np.intp))
            xs.append(sx[station])
            ys.append(sy[station])
        return np.concatenate(districts), np.concatenate(xs), np.concatenate(ys)

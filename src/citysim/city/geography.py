"""Where the districts are: their land as polygons on a flat km grid.

A local equirectangular projection around the mean district centre is accurate to well under 1 %
over Shanghai's 120 km extent, which is far below the other approximations of the travel model.
A scenario with a `geography` block reads each district's land from a GeoJSON file (Shanghai: Amap
district boundaries cut to OpenStreetMap's land, scenarios/shanghai/geodata); without one, a district
is a disc of its area around its centre (synthetic cities and the verification scenarios), with or
without a density surface and hot spots.
Everything here is checked before any array is sized by it: coordinates must lie within REGION_KM
of the districts' centre, and districts may not overlap by more than OVERLAP_TOLERANCE.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from citysim.arrays import BoolArray, FloatArray, IntArray
from citysim.config.schema import Scenario
from citysim.earth import KM_PER_DEG_LAT, KM_PER_DEG_LON_EQUATOR, REGION_KM
from citysim.errors import InputError
from citysim.memo import ScenarioCache

#: Two districts may share at most this share of the smaller one's land.
OVERLAP_TOLERANCE = 0.01
DISC_SEGMENTS = 16  # quarter-circle segments of a disc district's polygon
POLYGONS_KEY = ("geography", "district_polygons")


@dataclass(frozen=True)
class Projection:
    """Local equirectangular projection: km east (x) and north (y) of a reference point."""

    lat0: float
    lon0: float

    @property
    def km_per_deg_lon(self) -> float:
        return KM_PER_DEG_LON_EQUATOR * math.cos(math.radians(self.lat0))

    def to_km(self, lat: float, lon: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.km_per_deg_lon, (lat - self.lat0) * KM_PER_DEG_LAT

    def to_deg(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(lat, lon) in WGS84 degrees of km points."""
        return self.lat0 + np.asarray(y) / KM_PER_DEG_LAT, self.lon0 + np.asarray(x) / self.km_per_deg_lon

    def lonlat_to_km(self, geometry: shapely.Geometry) -> shapely.Geometry:
        """A lon/lat geometry in km."""
        scale = np.array([self.km_per_deg_lon, KM_PER_DEG_LAT])
        return shapely.transform(geometry, lambda c: (c - np.array([self.lon0, self.lat0])) * scale)


@dataclass(frozen=True)
class DistrictGrid:
    """The districts' centres and land polygons in km east/north of the projection's reference point."""

    names: tuple[str, ...]
    x_km: FloatArray
    y_km: FloatArray
    polygons: tuple[shapely.Geometry, ...]
    projection: Projection

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> DistrictGrid:
        """The scenario's districts: polygons from its GeoJSON, else discs (raises InputError if broken)."""
        return _GRIDS.get(land_key(scenario), lambda: _build(scenario))

    @property
    def area_km2(self) -> FloatArray:
        return np.array([p.area for p in self.polygons])

    def district_of(self, x: FloatArray, y: FloatArray) -> IntArray:
        """The district each point lies in; a point on no district's land (a bridge) takes the nearest."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        result = np.full(x.size, -1, dtype=np.intp)
        for index, polygon in enumerate(self.polygons):
            pending = result < 0
            inside = shapely.contains_xy(polygon, x[pending], y[pending])
            result[np.flatnonzero(pending)[inside]] = index
        missing = np.flatnonzero(result < 0)
        if missing.size:
            points = shapely.points(x[missing], y[missing])
            distance = np.column_stack([shapely.distance(points, p) for p in self.polygons])
            result[missing] = distance.argmin(axis=1)
        return result

    def on_land(self, x: FloatArray, y: FloatArray) -> BoolArray:
        """Whether each point lies on some district's land."""
        inside = np.zeros(np.asarray(x).size, dtype=bool)
        for polygon in self.polygons:
            inside |= shapely.contains_xy(polygon, x, y)
        return inside

    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of all districts' land."""
        b = np.array([p.bounds for p in self.polygons])
        return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


_GRIDS: ScenarioCache[DistrictGrid] = ScenarioCache()


def land_key(scenario: Scenario) -> str:
    """What a scenario's district land depends on (the cache key of everything built on it)."""
    return scenario.model_dump_json(include={"districts", "geography"})


def projection_of(scenario: Scenario) -> Projection:
    """The projection every km coordinate of a scenario is on: around the mean district centre."""
    return Projection(float(np.mean([d.lat for d in scenario.districts])),
                      float(np.mean([d.lon for d in scenario.districts])))


def _build(scenario: Scenario) -> DistrictGrid:
    projection = projection_of(scenario)
    centres = [projection.to_km(d.lat, d.lon) for d in scenario.districts]
    geography = scenario.geography
    if geography is None or geography.district_polygons is None:
        polygons = tuple(shapely.Point(x, y).buffer(math.sqrt(d.area_km2 / math.pi), quad_segs=DISC_SEGMENTS)
                         for (x, y), d in zip(centres, scenario.districts, strict=True))
        where: tuple[str | int, ...] = ("districts",)
    else:
        polygons = _read_polygons(Path(geography.district_polygons), [d.name for d in scenario.districts], projection)
        where = POLYGONS_KEY
    _check_overlaps(polygons, [d.name for d in scenario.districts], where)
    return DistrictGrid(names=tuple(d.name for d in scenario.districts), x_km=np.array([c[0] for c in centres]),
                        y_km=np.array([c[1] for c in centres]), polygons=polygons, projection=projection)


def _read_polygons(path: Path, names: list[str], projection: Projection) -> tuple[shapely.Geometry, ...]:
    def fail(problem: str) -> InputError:
        return InputError(None, f"the district polygons file {path}: {problem}", POLYGONS_KEY)

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail(f"cannot be read ({exc.strerror or exc}); expected a GeoJSON file, its path relative to the "
                   "scenario file.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"is not valid JSON ({exc}); expected a GeoJSON FeatureCollection.") from None
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list):
        raise fail("has no 'features' list; expected a GeoJSON FeatureCollection.")
    by_name: dict[str, shapely.Geometry] = {}
    for number, feature in enumerate(features):
        name = (feature.get("properties") or {}).get("name") if isinstance(feature, dict) else None
        if name not in names:
            raise fail(f"feature {number} has properties.name {name!r}, which is not a district; expected one of: "
                       f"{', '.join(names)}.")
        if name in by_name:
            raise fail(f"district '{name}' appears twice; expected one feature per district.")
        try:
            geometry = shapely.geometry.shape(feature.get("geometry"))
        except (AttributeError, KeyError, TypeError, ValueError, shapely.errors.GEOSException):
            raise fail(f"the geometry of '{name}' is not a GeoJSON geometry.") from None
        if geometry.geom_type not in ("Polygon", "MultiPolygon") or geometry.is_empty:
            raise fail(f"the geometry of '{name}' is a {geometry.geom_type}; expected a Polygon or MultiPolygon.")
        coordinates = shapely.get_coordinates(geometry)
        lon, lat = coordinates[:, 0], coordinates[:, 1]
        if not (np.isfinite(coordinates).all() and (np.abs(lat) <= 90).all() and (np.abs(lon) <= 180).all()):
            raise fail(f"'{name}' has coordinates that are not [lon, lat] WGS84 degrees.")
        x, y = projection.to_km(lat, lon)
        far = float(np.hypot(x, y).max())
        if far > REGION_KM:
            raise fail(f"'{name}' reaches {far:,.0f} km from the districts' centre; expected every vertex within "
                       f"{REGION_KM:.0f} km (GeoJSON order is [lon, lat]: check for swapped or sign-flipped "
                       "values, and that the districts' lat/lon are right).")
        by_name[name] = shapely.make_valid(projection.lonlat_to_km(geometry))
    missing = [n for n in names if n not in by_name]
    if missing:
        raise fail(f"has no polygon for {', '.join(missing)}; expected one feature per district.")
    return tuple(by_name[n] for n in names)


def _check_overlaps(polygons: tuple[shapely.Geometry, ...], names: list[str], where: tuple[str | int, ...]) -> None:
    tree = shapely.STRtree(polygons)
    for i, j in zip(*tree.query(polygons, predicate="intersects"), strict=True):
        if i >= j:
            continue
        shared = polygons[i].intersection(polygons[j]).area
        smaller = min(polygons[i].area, polygons[j].area)
        if shared > OVERLAP_TOLERANCE * smaller:
            raise InputError(None, f"districts '{names[i]}' and '{names[j]}' overlap by {shared:.1f} km2 "
                             f"({shared / smaller:.0%} of the smaller); expected at most {OVERLAP_TOLERANCE:.0%}. "
                             "Check their lat/lon and area_km2 (a disc district has its area around its "
                             "centre), or their polygons.", where)

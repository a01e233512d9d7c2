"""Where police wait: stations and patrol posts placed on a district's demand.

Sites are the centres of a weighted k-means (Lloyd's algorithm, 25 iterations at most) over the demand
surface's cells, each snapped to the nearest triangle centroid so that it lies on the district's
land. Stations and the baseline's posts are placed on residential density (what a planner knows
without forecasting); the predictive-deployment lever's posts start from the baseline's and move to
the forecast demand (density and hot spots); on demand without hot spots they do not move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from citysim.arrays import BoolArray, FloatArray, IntArray
from citysim.city.geography import land_key
from citysim.city.surface import DemandSurface
from citysim.config.schema import Scenario
from citysim.memo import ScenarioCache

MAX_LLOYD_ITERATIONS = 25  # Lloyd creeps on large districts; sites snap to 0.5 km cells anyway
LLOYD_TOLERANCE_KM = 0.05  # stop when no centre moves further than this in an iteration


@dataclass(frozen=True)
class Sites:
    """Points (km) and the district of each."""

    x: FloatArray
    y: FloatArray
    district: IntArray


def weighted_kmeans(x: FloatArray, y: FloatArray, weight: FloatArray, start: FloatArray) -> FloatArray:
    """Lloyd's algorithm from the k x 2 `start` centres until no centre moves more than
    LLOYD_TOLERANCE_KM; a centre that loses all its points stays where it is."""
    points = np.column_stack([x, y])
    centres = start.copy()
    for _ in range(MAX_LLOYD_ITERATIONS):
        _, nearest = cKDTree(centres).query(points)
        total = np.bincount(nearest, weight, len(centres))
        moved = total > 0
        previous = centres.copy()
        for axis in (0, 1):
            centres[moved, axis] = np.bincount(nearest, weight * points[:, axis], len(centres))[moved] / total[moved]
        if np.abs(centres - previous).max() < LLOYD_TOLERANCE_KM:
            break
    return centres


def _initial(x: FloatArray, y: FloatArray, weight: FloatArray, k: int, cell: IntArray) -> FloatArray:
    """k starting centres spread over the district: triangles at equal steps of cumulative weight
    along a serpentine order of the cells (deterministic, no random draw)."""
    row = np.floor(y / max(np.ptp(y) / np.sqrt(max(k, 1)), 1e-9)).astype(np.intp)
    serpentine = np.where(row % 2 == 0, x, -x)
    order = np.lexsort((cell, serpentine, row))
    cumulative = np.cumsum(weight[order])
    picks = np.searchsorted(cumulative, (np.arange(k) + 0.5) / k * cumulative[-1])
    chosen = order[np.minimum(picks, order.size - 1)]
    return np.column_stack([x[chosen], y[chosen]])


def _snap(centres: FloatArray, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    _, index = cKDTree(np.column_stack([x, y])).query(centres)
    return x[index], y[index]


def place_sites(surface: DemandSurface, counts: list[int], weights: FloatArray,
                start: list[FloatArray] | None = None) -> tuple[Sites, list[FloatArray]]:
    """`counts[d]` sites in each district d on the given triangle weights (from `start` centres if given),
    and the unsnapped centres (the start of a later placement). The k-means runs on cells (the weighted
    centroids of their triangles): the same answer at the surface's resolution, at half the cost."""
    xs, ys, districts, centres_out = [], [], [], []
    cell_weight = np.asarray(np.bincount(surface.cell, weights), dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        cell_x = np.bincount(surface.cell, weights * surface.centroid_x) / cell_weight
        cell_y = np.bincount(surface.cell, weights * surface.centroid_y) / cell_weight
    cell_district = np.zeros(cell_weight.size, dtype=np.intp)
    cell_district[surface.cell] = surface.district
    for d, k in enumerate(counts):
        members = np.flatnonzero((cell_district == d) & (cell_weight > 0))
        if k == 0 or members.size == 0:
            centres_out.append(np.zeros((0, 2)))
            continue
        x, y, w = cell_x[members], cell_y[members], cell_weight[members]
        first = start[d] if start is not None else _initial(x, y, w, k, members)
        centres = weighted_kmeans(x, y, w, first)
        triangles = np.flatnonzero(surface.district == d)
        sx, sy = _snap(centres, surface.centroid_x[triangles], surface.centroid_y[triangles])
        xs.append(sx)
        ys.append(sy)
        districts.append(np.full(k, d, dtype=np.intp))
        centres_out.append(centres)
    if not xs:
        return Sites(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.intp)), centres_out
    return Sites(np.concatenate(xs), np.concatenate(ys), np.concatenate(districts)), centres_out


def forecast_hot_share(scenario: Scenario) -> float:
    """The share of incidents that need a unit which fall at hot spots: what a forecast of where
    units will be needed concentrates on."""
    categories = scenario.demand.categories.values()
    need = np.array([c.share * (1.0 - c.phone_resolution_prob - c.diversion_prob) for c in categories])
    hot = np.array([c.hot_spot_share for c in categories])
    return float((need * hot).sum() / need.sum()) if need.sum() > 0 else 0.0


@dataclass(frozen=True)
class Placement:
    """Stations, baseline posts (one per unit) and forecast posts (one per unit), district by district."""

    stations: Sites
    posts: Sites
    forecast_posts: Sites


_PLACEMENTS: ScenarioCache[Placement] = ScenarioCache()


def placement(scenario: Scenario, surface: DemandSurface) -> Placement:
    """Where the scenario's police wait; built once per process per land, fleet and forecast."""
    share = forecast_hot_share(scenario)
    return _PLACEMENTS.get(land_key(scenario) + repr(share), lambda: _place(scenario, surface, share))


def _place(scenario: Scenario, surface: DemandSurface, share: float) -> Placement:
    units = [d.units for d in scenario.districts]
    stations, _ = place_sites(surface, [d.stations for d in scenario.districts], surface.density)
    posts, centres = place_sites(surface, units, surface.density)
    # The forecast moves the baseline's posts to the forecast demand; where that is the residential
    # density itself (no hot spots, or no category at them) the forecast posts are the baseline's.
    forecast_weights = surface.weights(share)
    forecast = posts if forecast_weights is surface.density else place_sites(
        surface, units, forecast_weights, start=centres)[0]
    return Placement(stations, posts, forecast)


def unit_homes(scenario: Scenario, sites: Placement, follows_forecast: BoolArray) -> tuple[IntArray, FloatArray,
                                                                                             FloatArray]:
    """Home district and waiting place of every unit, numbered district by district: a forecast post for
    a unit that follows the forecast (predictive deployment), else its post or (dealt round-robin) its
    district's station, by `fleet.idle_at`."""
    districts, xs, ys = [], [], []
    first = 0
    for d, district in enumerate(scenario.districts):
        k = np.arange(district.units)
        if scenario.fleet.idle_at == "posts":
            own = np.flatnonzero(sites.posts.district == d)
            x, y = sites.posts.x[own], sites.posts.y[own]
        else:
            own = np.flatnonzero(sites.stations.district == d)
            x, y = sites.stations.x[own][k % own.size], sites.stations.y[own][k % own.size]
        forecast = np.flatnonzero(sites.forecast_posts.district == d)
        follows = follows_forecast[first + k]
        first += district.units
        xs.append(np.where(follows, sites.forecast_posts.x[forecast], x))
        ys.append(np.where(follows, sites.forecast_posts.y[forecast], y))
        districts.append(np.full(district.units, d, dtype=np.intp))
    return np.concatenate(districts), np.concatenate(xs), np.concatenate(ys)


def unit_stations(scenario: Scenario, sites: Placement) -> tuple[FloatArray, FloatArray]:
    """The station each unit belongs to (where it files reports without a terminal): its district's
    stations dealt round-robin, as under `idle_at: station`."""
    xs, ys = [], []
    for d, district in enumerate(scenario.districts):
        own = np.flatnonzero(sites.stations.district == d)
        k = np.arange(district.units) % own.size
        xs.append(sites.stations.x[own][k])
        ys.append(sites.stations.y[own][k])
    return np.concatenate(xs), np.concatenate(ys)

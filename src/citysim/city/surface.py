"""The demand surface: each district's land cut into square cells and then into triangles, each
weighted by residential density, some cells marked as crime hot spots.

Incidents are placed by inverse transform: one uniform picks a triangle in proportion to its weight
(within the incident's district), two more a point uniform in it. Every point therefore lies on its
district's land, exactly. Density is exp(-r / decay_km) at r km from the density centre (a
documented assumption calibrated to census district densities; uniform when absent). Hot spots are
`area_share` of each district's cells, drawn once from `hot_spots.seed` in proportion to density
(Gumbel top-k): they are a property of the city, the same in every replication, which is what
makes them forecastable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely

from citysim.arrays import BoolArray, FloatArray, IntArray
from citysim.city.geography import DistrictGrid, land_key
from citysim.config.limits import DISC_CELL_KM, MAX_DEMAND_CELLS
from citysim.config.schema import Geography, Scenario
from citysim.errors import InputError
from citysim.memo import ScenarioCache


@dataclass(frozen=True)
class DemandSurface:
    """Triangles (vertex a, edge vectors e = b - a and f = c - a) grouped by district, with weights."""

    ax: FloatArray
    ay: FloatArray
    ex: FloatArray
    ey: FloatArray
    fx: FloatArray
    fy: FloatArray
    district: IntArray
    cell: IntArray  # the land cell (one district's part of a square) each triangle belongs to
    density: FloatArray  # residential weight: density x area, normalised to sum 1 within each district
    hot: BoolArray
    n_districts: int

    @property
    def centroid_x(self) -> FloatArray:
        return self.ax + (self.ex + self.fx) / 3.0

    @property
    def centroid_y(self) -> FloatArray:
        return self.ay + (self.ey + self.fy) / 3.0

    @property
    def area(self) -> FloatArray:
        return np.abs(self.ex * self.fy - self.ey * self.fx) / 2.0

    def weights(self, hot_share: float) -> FloatArray:
        """Expected share of a district's incidents in each triangle when `hot_share` of them fall at
        hot spots (districts without hot spots keep their density weights)."""
        if hot_share == 0 or not self.hot.any():
            return self.density
        hot_weight = np.where(self.hot, self.density, 0.0)
        hot_total = np.bincount(self.district, hot_weight, self.n_districts)[self.district]
        concentrated = np.divide(hot_weight, hot_total, out=self.density.copy(), where=hot_total > 0)
        return (1.0 - hot_share) * self.density + hot_share * concentrated

    def sample(self, district: IntArray, at_hot_spot: BoolArray, u_pick: FloatArray, u_a: FloatArray,
               u_b: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Points on each incident's district land: at a hot spot where `at_hot_spot`, from uniforms."""
        index = np.where(at_hot_spot, self._pick(district, u_pick, True), self._pick(district, u_pick, False))
        # Uniform in a triangle: reflect (u_a, u_b) into the half square u_a + u_b <= 1.
        flip = u_a + u_b > 1.0
        s, t = np.where(flip, 1.0 - u_a, u_a), np.where(flip, 1.0 - u_b, u_b)
        x = self.ax[index] + s * self.ex[index] + t * self.fx[index]
        y = self.ay[index] + s * self.ey[index] + t * self.fy[index]
        return x, y

    def _pick(self, district: IntArray, u: FloatArray, hot: bool) -> IntArray:
        keys, members, last = self._tables[hot]
        chosen = np.minimum(np.searchsorted(keys, district + u, side="right"), last[district])
        return members[chosen]

    @cached_property
    def _tables(self) -> dict[bool, tuple[FloatArray, IntArray, IntArray]]:
        return {hot: self._table(hot) for hot in (False, True)}

    def _table(self, hot: bool) -> tuple[FloatArray, IntArray, IntArray]:
        """Monotone keys d + (cumulative weight share within district d) over the chosen triangles, the
        triangle each key belongs to, and each district's last key index. A district with no hot spots
        uses all its triangles for its hot-spot incidents."""
        has_hot = np.bincount(self.district, self.hot, self.n_districts) > 0
        use = self.hot | ~has_hot[self.district] if hot else np.ones(self.district.size, dtype=bool)
        members = np.flatnonzero(use)
        weight, district = self.density[members], self.district[members]
        total = np.bincount(district, weight, self.n_districts)
        cumulative = np.cumsum(weight) - np.concatenate([[0.0], np.cumsum(total)[:-1]])[district]
        keys = district + cumulative / total[district]
        last = np.searchsorted(district, np.arange(self.n_districts), side="right") - 1
        return keys, members, np.maximum(last, 0)


_SURFACES: ScenarioCache[DemandSurface] = ScenarioCache()


def demand_surface(scenario: Scenario, grid: DistrictGrid) -> DemandSurface:
    """The scenario's demand surface, built once per process (raises InputError if too fine)."""
    return _SURFACES.get(land_key(scenario), lambda: _build(scenario.geography, grid))


def _build(geography: Geography | None, grid: DistrictGrid) -> DemandSurface:
    cell = geography.cell_km if geography is not None else DISC_CELL_KM
    xmin, ymin, xmax, ymax = grid.bounds()
    n_cells = math.ceil((xmax - xmin) / cell + 1) * math.ceil((ymax - ymin) / cell + 1)
    if n_cells > MAX_DEMAND_CELLS:  # on the real land (config.limits estimated it from the file)
        raise InputError(None, f"a demand surface of {cell:g} km cells over the districts' "
                         f"{xmax - xmin:,.0f} x {ymax - ymin:,.0f} km would have {n_cells:,} cells, more than "
                         f"{MAX_DEMAND_CELLS:,}; expected a larger geography.cell_km (or districts of a city's size).",
                         ("geography", "cell_km"))
    parts = [_district_triangles(polygon, cell) for polygon in grid.polygons]
    counts = [p[0].shape[0] for p in parts]
    triangles = np.concatenate([p[0] for p in parts])
    cell_offsets = np.cumsum([0] + [int(p[1].max()) + 1 if p[1].size else 0 for p in parts])
    cells = np.concatenate([p[1] + cell_offsets[d] for d, p in enumerate(parts)])
    district = np.repeat(np.arange(len(parts)), counts)
    a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    area = np.abs((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])) / 2.0
    centroid = (a + b + c) / 3.0
    weight = area.copy()
    if geography is not None and geography.density is not None:
        px, py = grid.projection.to_km(*geography.density.centre)
        weight *= np.exp(-np.hypot(centroid[:, 0] - px, centroid[:, 1] - py) / geography.density.decay_km)
    total = np.bincount(district, weight, len(parts))
    density = weight / total[district]
    hot = np.zeros(district.size, dtype=bool)
    if geography is not None and geography.hot_spots is not None:
        hot = _hot_cells(cells, district, density, geography.hot_spots.area_share, geography.hot_spots.seed)
    return DemandSurface(ax=a[:, 0], ay=a[:, 1], ex=b[:, 0] - a[:, 0], ey=b[:, 1] - a[:, 1], fx=c[:, 0] - a[:, 0],
                         fy=c[:, 1] - a[:, 1], district=district, cell=cells, density=density, hot=hot,
                         n_districts=len(parts))


def _district_triangles(polygon: shapely.Geometry, cell: float) -> tuple[FloatArray, IntArray]:
    """Triangles (n x 3 x 2) covering a polygon exactly, and the cell index of each: squares wholly
    inside are split in two, squares on the edge are cut to the polygon and triangulated."""
    xmin, ymin, xmax, ymax = polygon.bounds
    i0, j0 = math.floor(xmin / cell), math.floor(ymin / cell)
    ii, jj = np.meshgrid(np.arange(i0, math.ceil(xmax / cell)), np.arange(j0, math.ceil(ymax / cell)))
    x0, y0 = ii.ravel() * cell, jj.ravel() * cell
    boxes = shapely.box(x0, y0, x0 + cell, y0 + cell)
    shapely.prepare(polygon)
    inside = shapely.contains(polygon, boxes)
    edge = np.flatnonzero(~inside & shapely.intersects(polygon, boxes))
    full = np.flatnonzero(inside)
    corners = np.stack([np.column_stack([x0, y0]), np.column_stack([x0 + cell, y0]),
                        np.column_stack([x0 + cell, y0 + cell]), np.column_stack([x0, y0 + cell])], axis=1)
    squares = corners[full]
    whole = np.concatenate([squares[:, [0, 1, 2]], squares[:, [0, 2, 3]]])
    whole_cell = np.concatenate([full, full])
    pieces = shapely.intersection(boxes[edge], polygon)
    triangulated = shapely.constrained_delaunay_triangles(pieces)
    parts, owner = shapely.get_parts(triangulated, return_index=True)
    keep = shapely.get_type_id(parts) == 3  # polygons (a cut can leave lines or points)
    parts, owner = parts[keep], owner[keep]
    rings = shapely.get_coordinates(shapely.get_exterior_ring(parts)).reshape(-1, 4, 2)[:, :3]
    triangles = np.concatenate([whole, rings])
    cells = np.concatenate([whole_cell, edge[owner]])
    e, f = triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]
    area = np.abs(e[:, 0] * f[:, 1] - e[:, 1] * f[:, 0]) / 2.0
    keep_area = area > 0
    order = np.argsort(cells[keep_area], kind="stable")
    _, dense = np.unique(cells[keep_area][order], return_inverse=True)
    return triangles[keep_area][order], dense.astype(np.intp)


def _hot_cells(cells: IntArray, district: IntArray, density: FloatArray, area_share: float, seed: int) -> BoolArray:
    """Mark `area_share` of each district's cells as hot, drawn without replacement in proportion to
    their density weight (Gumbel top-k, from a generator of the scenario's hot-spot seed)."""
    cell_weight = np.bincount(cells, density)
    cell_district = np.zeros(cell_weight.size, dtype=np.intp)
    cell_district[cells] = district
    hot_cell = np.zeros(cell_weight.size, dtype=bool)
    for d in range(int(district.max()) + 1):
        members = np.flatnonzero(cell_district == d)
        if members.size == 0:
            continue
        count = max(1, round(area_share * members.size))
        gumbel = -np.log(-np.log(np.random.default_rng([seed, d]).random(members.size)))
        with np.errstate(divide="ignore"):
            keys = np.log(cell_weight[members]) + gumbel
        hot_cell[members[np.argsort(-keys, kind="stable")[:count]]] = True
    return hot_cell[cells]

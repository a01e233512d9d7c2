"""Plane geometry on km coordinates: segment crossings, used for rivers and coasts."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def _orientation(ax: FloatArray, ay: FloatArray, bx: FloatArray, by: FloatArray,
                 cx: FloatArray, cy: FloatArray) -> FloatArray:
    return np.sign((bx - ax) * (cy - ay) - (by - ay) * (cx - ax))


def segments_cross_polyline(
    x0: FloatArray, y0: FloatArray, x1: FloatArray, y1: FloatArray, line: FloatArray
) -> NDArray[np.bool_]:
    """For each segment (x0, y0)-(x1, y1), whether it properly crosses the polyline `line` (k x 2)."""
    px, py = line[:-1, 0][None, :], line[:-1, 1][None, :]
    qx, qy = line[1:, 0][None, :], line[1:, 1][None, :]
    ax, ay, bx, by = x0[:, None], y0[:, None], x1[:, None], y1[:, None]
    o1 = _orientation(ax, ay, bx, by, px, py)
    o2 = _orientation(ax, ay, bx, by, qx, qy)
    o3 = _orientation(px, py, qx, qy, ax, ay)
    o4 = _orientation(px, py, qx, qy, bx, by)
    return np.asarray(((o1 * o2 < 0) & (o3 * o4 < 0)).any(axis=1))

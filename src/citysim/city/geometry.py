"""Plane geometry on km coordinates: segment crossings, used for rivers and coasts."""

from __future__ import annotations

import numpy as np

from citysim.arrays import BoolArray, FloatArray, IntArray


def _orientation(ax: FloatArray, ay: FloatArray, bx: FloatArray, by: FloatArray,
                 cx: FloatArray, cy: FloatArray) -> FloatArray:
    return np.sign((bx - ax) * (cy - ay) - (by - ay) * (cx - ax))


def segment_crossing_counts(
    x0: FloatArray, y0: FloatArray, x1: FloatArray, y1: FloatArray, line: FloatArray
) -> IntArray:
    """For each segment (x0, y0)-(x1, y1), how many segments of the polyline `line` (k x 2) it crosses:
    an odd count means its ends lie on opposite sides."""
    return np.asarray(_crossings(x0, y0, x1, y1, line).sum(axis=1), dtype=np.intp)


def segments_cross_polyline(
    x0: FloatArray, y0: FloatArray, x1: FloatArray, y1: FloatArray, line: FloatArray
) -> BoolArray:
    """For each segment (x0, y0)-(x1, y1), whether it properly crosses the polyline `line` (k x 2)."""
    return np.asarray(_crossings(x0, y0, x1, y1, line).any(axis=1))


def _crossings(
    x0: FloatArray, y0: FloatArray, x1: FloatArray, y1: FloatArray, line: FloatArray
) -> BoolArray:
    """Matrix: segment i properly crosses polyline segment j."""
    px, py = line[:-1, 0][None, :], line[:-1, 1][None, :]
    qx, qy = line[1:, 0][None, :], line[1:, 1][None, :]
    ax, ay, bx, by = x0[:, None], y0[:, None], x1[:, None], y1[:, None]
    o1 = _orientation(ax, ay, bx, by, px, py)
    o2 = _orientation(ax, ay, bx, by, qx, qy)
    o3 = _orientation(px, py, qx, qy, ax, ay)
    o4 = _orientation(px, py, qx, qy, bx, by)
    return np.asarray((o1 * o2 < 0) & (o3 * o4 < 0))

"""Plane geometry on km coordinates: segment crossings, used for rivers and coasts."""

from __future__ import annotations

import itertools

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
    """Matrix: segment i properly crosses polyline segment j. Only pairs whose bounding boxes meet can
    cross, so the orientations are computed for those pairs alone (most pairs, far apart, are not)."""
    px, py, qx, qy = line[:-1, 0], line[:-1, 1], line[1:, 0], line[1:, 1]
    ax, ay, bx, by = (np.asarray(v, dtype=np.float64).ravel() for v in (x0, y0, x1, y1))
    meet = ((np.minimum(ax, bx)[:, None] <= np.maximum(px, qx)[None, :])
            & (np.maximum(ax, bx)[:, None] >= np.minimum(px, qx)[None, :])
            & (np.minimum(ay, by)[:, None] <= np.maximum(py, qy)[None, :])
            & (np.maximum(ay, by)[:, None] >= np.minimum(py, qy)[None, :]))
    i, j = np.nonzero(meet)
    ax, ay, bx, by = ax[i], ay[i], bx[i], by[i]
    px, py, qx, qy = px[j], py[j], qx[j], qy[j]
    o1 = _orientation(ax, ay, bx, by, px, py)
    o2 = _orientation(ax, ay, bx, by, qx, qy)
    o3 = _orientation(px, py, qx, qy, ax, ay)
    o4 = _orientation(px, py, qx, qy, bx, by)
    crossing = np.zeros(meet.shape, dtype=bool)
    crossing[i, j] = (o1 * o2 < 0) & (o3 * o4 < 0)
    return crossing


class BarrierLines:
    """Rivers and coasts as polylines, for the question a trip asks many times: does the straight line
    between two points cross any of them? Scalar, in plain Python with bounding-box rejection, because
    it is asked once per trip and numpy's per-call overhead would dominate."""

    def __init__(self, lines: tuple[FloatArray, ...]) -> None:
        self._lines = []
        for line in lines:
            points = line.tolist()
            segments = [(p[0], p[1], q[0], q[1]) for p, q in itertools.pairwise(points)]
            box = (float(line[:, 0].min()), float(line[:, 1].min()), float(line[:, 0].max()), float(line[:, 1].max()))
            self._lines.append((box, [(min(a, c), min(b, d), max(a, c), max(b, d), a, b, c, d)
                                      for a, b, c, d in segments]))

    def crosses(self, x0: float, y0: float, x1: float, y1: float) -> bool:
        """Whether the segment (x0, y0)-(x1, y1) properly crosses any barrier line."""
        lo_x, hi_x = (x0, x1) if x0 < x1 else (x1, x0)
        lo_y, hi_y = (y0, y1) if y0 < y1 else (y1, y0)
        dx, dy = x1 - x0, y1 - y0
        for (bx0, by0, bx1, by1), segments in self._lines:
            if hi_x < bx0 or lo_x > bx1 or hi_y < by0 or lo_y > by1:
                continue
            for sx0, sy0, sx1, sy1, px, py, qx, qy in segments:
                if hi_x < sx0 or lo_x > sx1 or hi_y < sy0 or lo_y > sy1:
                    continue
                o1 = dx * (py - y0) - dy * (px - x0)
                o2 = dx * (qy - y0) - dy * (qx - x0)
                if (o1 > 0) == (o2 > 0) or o1 == 0 or o2 == 0:
                    continue
                ex, ey = qx - px, qy - py
                o3 = ex * (y0 - py) - ey * (x0 - px)
                o4 = ex * (y1 - py) - ey * (x1 - px)
                if (o3 > 0) != (o4 > 0) and o3 != 0 and o4 != 0:
                    return True
        return False

"""Bus service KPIs from the buses' departure times: headway regularity, waits and bunching.

For passengers arriving at random (at a rate constant within one headway) the mean wait between buses
with headways h is E[W] = sum(h^2) / (2 sum(h)) = (mean h / 2)(1 + CV^2) (Welding 1957; Osuna & Newell
1972; research notes, docs/traffic_services_sources.md section 2). Excess waiting
time EWT = that actual mean wait - the same formula on the scheduled headways. The bunching factor
2W/S - 1 (0: even, towards 1: pairs) is the "Bus Bunching Factor" of a 2012 NextBus-data blog (grade B).
The bunched share, the share of headways below `bunching_threshold` x the scheduled one, is an
ASSUMPTION of definition (threshold 1/4).

An informed passenger (real-time information) arrives `margin` before the bus: waits `margin` when the
headway is at least 2 x margin, else h / 2 as if at random (ASSUMPTION; continuous at h = 2 margin).
"""

from __future__ import annotations

import numpy as np

from citysim.arrays import FloatArray


def random_wait(headways: FloatArray, weights: FloatArray | None = None) -> float:
    """Mean wait of passengers arriving at random: sum(w h^2) / (2 sum(w h)); w: arrival rate per headway."""
    w = np.ones_like(headways) if weights is None else weights
    return float((w * headways**2).sum() / (2.0 * (w * headways).sum()))


def informed_wait(headways: FloatArray, margin: float, weights: FloatArray | None = None) -> float:
    """Mean wait of informed passengers (see the module docstring), weighted like `random_wait`."""
    w = np.ones_like(headways) if weights is None else weights
    each = np.where(headways >= 2.0 * margin, margin, headways / 2.0)
    return float((w * headways * each).sum() / (w * headways).sum())


def headway_cv(headways: FloatArray, scheduled: FloatArray) -> float:
    """CV of headways normalised by their scheduled headway (so a change of timetable is not irregularity)."""
    ratio = headways / scheduled
    return float(ratio.std() / ratio.mean())

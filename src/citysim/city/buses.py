"""Buses of one route direction moving stop by stop: a plain event sequence, outside the police SimPy loop.

Buses leave the first terminal on the timetable plus a random deviation (`departure_cv` x headway;
irregular departures are the main cause of bunching, Feng & Figliozzi 2015). Bus i then, stop by stop:

    arrives   a[i,k] = d[i,k-1] + (running(slot of d[i,k-1], k-1) x noise + signal delay x (1 - priority)),
              no sooner than the bus ahead (one lane, no overtaking: ASSUMPTION);
    boards    n ~ Poisson(lambda_k(clock) x (a[i,k] - d[i-1,k])): everyone who came since the bus ahead left
              (by inversion of one pre-drawn uniform per bus and stop, so a lever that moves the buses still
              meets the same random numbers);
    dwells    dwell_dead_s + accel_decel_s + boarding_s x n (none at the last terminal);
    holds     at control stops, with gain alpha > 0 (Daganzo 2009, no slack): until
              alpha x (H_scheduled - headway to the bus ahead) has passed, if positive;
    departs   d[i,k], no sooner than the bus ahead.

A late bus meets more passengers, dwells longer and falls further behind (bunching emerges). Randomness
comes from three streams per route (departures, running noise, boardings), drawn in the same amounts
and the same order whatever the levers, so a lever changes only what it acts on. Passengers' alighting, bus capacity and
crash queues are not modelled (not done).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from citysim.arrays import FloatArray
from citysim.city.bus_routes import SegmentTimes
from citysim.clock import clock_hour


@dataclass(frozen=True)
class BusRun:
    """What the buses of one route direction did: times by bus and stop (minutes of simulation time)."""

    scheduled: FloatArray  # (bus,) timetable departure from the first terminal
    headway: FloatArray  # (bus,) scheduled headway to the bus ahead
    arrive: FloatArray  # (bus, stop)
    depart: FloatArray  # (bus, stop)
    boardings: FloatArray  # (bus, stop)
    held_min: FloatArray  # (bus, stop)


def timetable(headway_by_hour: list[float | None], start_clock_h: float, horizon_min: float) -> tuple[FloatArray,
                                                                                                       FloatArray]:
    """Scheduled departures from a terminal over [0, horizon) and each one's headway; None: no service."""
    times: list[float] = []
    gaps: list[float] = []
    t = 0.0
    while t < horizon_min:
        clock = clock_hour(start_clock_h, t)
        headway = headway_by_hour[int(clock)]
        if headway is None:
            t += (int(clock) + 1 - clock) * 60.0
            continue
        times.append(t)
        gaps.append(headway)
        t += headway
    return np.asarray(times), np.asarray(gaps)


#: Above this mean a Poisson count is drawn from its normal approximation (exp(-mean) would underflow).
NORMAL_POISSON_MEAN = 500.0
_NORMAL = NormalDist()


def poisson_inverse(u: float, mean: float) -> int:
    """The Poisson(mean) count whose CDF first reaches u (inversion: one uniform, one count)."""
    if mean <= 0.0:
        return 0
    if mean > NORMAL_POISSON_MEAN:
        return max(0, round(mean + math.sqrt(mean) * _NORMAL.inv_cdf(min(max(u, 1e-12), 1 - 1e-12))))
    p = math.exp(-mean)
    cdf, k = p, 0
    while u > cdf and p > 0.0:
        k += 1
        p *= mean / k
        cdf += p
    return k


def run_buses(times: SegmentTimes, scheduled: FloatArray, headway: FloatArray, arrivals_per_min: FloatArray,
              start_clock_h: float, dwell_dead_min: float, boarding_min: float, priority: float,
              holding_gain: float, control_every: int, departure_cv: float, running_cv: float,
              rng_depart: np.random.Generator, rng_run: np.random.Generator,
              rng_board: np.random.Generator) -> BusRun:
    """Move the buses (see the module docstring); `arrivals_per_min` is (clock hour, stop)."""
    n_bus = scheduled.size
    n_stop = times.signal.size + 1
    deviation = rng_depart.standard_normal(n_bus) * departure_cv * headway
    if running_cv > 0:
        sigma = np.sqrt(np.log1p(running_cv**2))
        noise = rng_run.lognormal(-0.5 * sigma**2, sigma, (n_bus, n_stop - 1))
    else:
        noise = np.ones((n_bus, n_stop - 1))
    board_u = rng_board.random((n_bus, n_stop))
    signal = (times.signal * (1.0 - priority)).tolist()
    running = times.running.tolist()
    rates = arrivals_per_min.tolist()
    arrive = np.zeros((n_bus, n_stop))
    depart = np.zeros((n_bus, n_stop))
    board = np.zeros((n_bus, n_stop))
    held = np.zeros((n_bus, n_stop))
    prev_arrive = [-np.inf] * n_stop
    prev_depart: list[float] | None = None
    last = n_stop - 1
    for i in range(n_bus):
        noise_i = noise[i].tolist()
        u_i = board_u[i].tolist()
        h_sched = float(headway[i])
        t = max(float(scheduled[i] + deviation[i]), 0.0)
        row_a, row_d, row_b, row_h = [0.0] * n_stop, [0.0] * n_stop, [0.0] * n_stop, [0.0] * n_stop
        for k in range(n_stop):
            if k > 0:
                t = t + running[times.slot(t)][k - 1] * noise_i[k - 1] + signal[k - 1]
            a = max(t, prev_arrive[k])
            gap = a - prev_depart[k] if prev_depart is not None else h_sched
            n = 0
            dwell = 0.0
            if k < last:
                rate = rates[int(clock_hour(start_clock_h, a))][k]
                n = poisson_inverse(u_i[k], rate * max(gap, 0.0))
                dwell = dwell_dead_min + boarding_min * n
            d = a + dwell
            if prev_depart is not None:
                d = max(d, prev_depart[k])
                if holding_gain > 0 and k < last and k % control_every == 0:
                    hold = holding_gain * (h_sched - (d - prev_depart[k]))
                    if hold > 0:
                        row_h[k] = hold
                        d += hold
            row_a[k], row_d[k], row_b[k] = a, d, n
            t = d
        arrive[i], depart[i], board[i], held[i] = row_a, row_d, row_b, row_h
        prev_arrive, prev_depart = row_a, row_d
    return BusRun(scheduled, headway, arrive, depart, board, held)

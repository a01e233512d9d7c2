"""The 110 call-takers, worked out before the event loop.

Call-taking is an open queue: first come, first served, c(t) call-takers staffed by clock hour
(non-preemptive at shift changes: a call-taker leaving finishes the call in hand), fed by calls whose
times and talk times are pre-drawn, and nothing later in the model feeds back into it. So its answer
times follow from its inputs alone, and are computed here in one pass over a heap of talk ends, as the
event loop would have found them, instead of as two SimPy events per call. Simultaneous events (a
measure-zero case with continuous times) are taken in the order: staff change, talk ends, arrivals.
The time-average of call-takers talking is integrated in the same pass, in time order, with the
warm-up reset where the event loop would make it.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

from citysim.clock import hourly_segments
from citysim.monitor import TimeAverage


@dataclass(frozen=True)
class CallTaking:
    """When each call was answered (NaN: not before the end of the run), and the call-takers talking."""

    t_answer: list[float]
    talking: TimeAverage


def answer_calls(call_times: list[float], talk_min: list[float], staff_by_hour: list[int] | None,
                 start_clock_h: float, horizon_min: float, warmup_min: float) -> CallTaking:
    """Answer times of calls (in call order, so `call_times` ascending) up to `horizon_min`; without a
    call centre (`staff_by_hour` None) each call is answered as it arrives."""
    n = len(call_times)
    talking = TimeAverage(0.0)
    if staff_by_hour is None:
        answers = [t if t < horizon_min else math.nan for t in call_times]
        if 0 < warmup_min < horizon_min:
            talking.reset(warmup_min)
        return CallTaking(answers, talking)
    answer = [math.nan] * n
    shifts = [(start, staff_by_hour[hour]) for start, _end, hour in hourly_segments(start_clock_h, horizon_min)]
    ends: list[float] = []  # heap of the talk ends of calls in hand
    waiting: deque[int] = deque()
    servers = busy = 0
    next_call = next_shift = 0
    reset_pending = 0 < warmup_min < horizon_min
    inf = math.inf
    while True:
        t_shift = shifts[next_shift][0] if next_shift < len(shifts) else inf
        t_end = ends[0] if ends else inf
        t_call = call_times[next_call] if next_call < n else inf
        now = min(t_shift, t_end, t_call)
        if now >= horizon_min:
            break
        if reset_pending and now >= warmup_min:
            talking.reset(warmup_min)
            reset_pending = False
        if t_shift == now:
            servers = shifts[next_shift][1]
            next_shift += 1
        elif t_end == now:
            heapq.heappop(ends)
            busy -= 1
            talking.add(now, -1)
        else:
            waiting.append(next_call)
            next_call += 1
        while waiting and busy < servers:
            call = waiting.popleft()
            answer[call] = now
            busy += 1
            talking.add(now, 1)
            heapq.heappush(ends, now + talk_min[call])
    if reset_pending:
        talking.reset(warmup_min)
    return CallTaking(answer, talking)

"""A staffed desk answering requests first come, first served, with hourly staffing, inside the event
loop: the back office that answers officers' radio look-ups (ID, plate, record checks). (The 110
call-takers follow the same rules, but nothing feeds back into them, so `call_centre.py` works them out
before the loop.)

Callback-driven rather than a SimPy resource with a process per request: a counter of busy servers and
a FIFO of waiting requests, so that a request costs one timeout. Staffing changes are non-preemptive: a
server leaving at a shift change finishes the request in hand first, as in a real centre.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial

import simpy


class ServerPool:
    """c(t) identical servers, FIFO; each request is (service minutes, callback when done)."""

    def __init__(self, env: simpy.Environment, staff_by_hour: list[int],
                 on_busy: Callable[[float, int], None] | None = None) -> None:
        self.env = env
        self.by_hour = staff_by_hour
        self._on_busy = on_busy  # told (now, +1 / -1) whenever a service starts or ends
        self.servers = 0
        self.busy = 0
        self._waiting: deque[tuple[float, float, Callable[[], None], Callable[[], None] | None]] = deque()
        #: Minutes each request waited before service began, in the order served.
        self.waits: list[float] = []

    def staff(self, hour: int) -> None:
        """Set the number on duty for this clock hour and start waiting requests on any new servers."""
        self.servers = self.by_hour[hour]
        self._start_waiting()

    def request(self, service_min: float, done: Callable[[], None],
                started: Callable[[], None] | None = None) -> None:
        """Queue one request; `started()` is called when its service begins and `done()` when it ends."""
        self._waiting.append((self.env.now, service_min, done, started))
        self._start_waiting()

    def _start_waiting(self) -> None:
        now = self.env.now
        while self._waiting and self.busy < self.servers:
            asked, service_min, done, started = self._waiting.popleft()
            self.busy += 1
            self.waits.append(now - asked)
            if self._on_busy is not None:
                self._on_busy(now, 1)
            if started is not None:
                started()
            self.env.timeout(service_min).callbacks.append(partial(self._finish, done))

    def _finish(self, done: Callable[[], None], _event: simpy.Event) -> None:
        self.busy -= 1
        if self._on_busy is not None:
            self._on_busy(self.env.now, -1)
        self._start_waiting()
        done()

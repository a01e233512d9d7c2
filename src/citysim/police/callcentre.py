"""The 110 call centre: call-takers as a SimPy resource whose staffing follows an hourly roster.

Calls are answered first come, first served. The roster changes staffing by holding 'off-duty'
requests at a higher priority: a call-taker leaving at a shift change finishes the call in hand
first (non-preemptive), as in a real centre.
"""

from __future__ import annotations

import simpy

CALL_PRIORITY = 1
OFF_DUTY_PRIORITY = 0


class CallCentre:
    """Call-takers on an hourly roster."""

    def __init__(self, env: simpy.Environment, call_takers_by_hour: list[int]) -> None:
        self.env = env
        self.capacity = max(call_takers_by_hour)
        self.by_hour = call_takers_by_hour
        self.resource = simpy.PriorityResource(env, capacity=self.capacity)
        self._off_duty: list[simpy.resources.resource.PriorityRequest] = []

    def staff(self, hour: int) -> None:
        """Set the number on duty for this clock hour."""
        wanted_off = self.capacity - self.by_hour[hour]
        while len(self._off_duty) > wanted_off:
            request = self._off_duty.pop()
            if request.triggered:
                self.resource.release(request)
            else:
                request.cancel()
        while len(self._off_duty) < wanted_off:
            self._off_duty.append(self.resource.request(priority=OFF_DUTY_PRIORITY))

    def request(self) -> simpy.resources.resource.PriorityRequest:
        return self.resource.request(priority=CALL_PRIORITY)

"""The traffic layer inside a replication's SimPy Environment: link-time refreshes and crash blockages.

A crash blocks its link from the moment it happens (t_occur) until the drivers clear it themselves
(simple procedure, if its severity allows) or the police clear the incident, whichever is first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import simpy

from citysim.city.crashes import CrashPlan
from citysim.city.traffic import Blockage, TrafficState
from citysim.config.schema import Crashes

CRASH_LOG_COLUMNS = [
    "crash_id", "arc", "severity", "x_km", "y_km", "t_occur", "t_block_end", "blockage_min",
    "queue_dissolve_min", "peak_queue_veh", "diverted_veh", "queue_delay_vehicle_h", "detour_delay_vehicle_h",
    "delay_vehicle_h",
]


class TrafficLayer:
    """Keeps a replication's `TrafficState` current and applies crash blockages to it."""

    def __init__(
        self, env: simpy.Environment, traffic: TrafficState, refresh_min: float, clock: Callable[[], float],
        crashes: CrashPlan | None, crash_spec: Crashes | None, queue_inflow_cap: float,
    ) -> None:
        self.env = env
        self.traffic = traffic
        self.refresh_min = refresh_min
        self.clock = clock
        self.crashes = crashes
        self.crash_spec = crash_spec
        self.queue_inflow_cap = queue_inflow_cap
        self.blockages: list[Blockage | None] = [None] * (crashes.size if crashes is not None else 0)

    def start(self) -> None:
        self.env.process(self._refresh())
        if self.crashes is not None:
            for index, (t, happens) in enumerate(zip(self.crashes.t_occur.tolist(), self.crashes.happens.tolist(),
                                                     strict=True)):
                if happens:
                    self.env.timeout(t).callbacks.append(partial(self._on_crash, index))

    def _refresh(self) -> Any:
        while True:
            self.traffic.refresh(self.env.now, self.clock())
            yield self.env.timeout(self.refresh_min)

    def _on_crash(self, index: int, _event: simpy.Event) -> None:
        assert self.crashes is not None and self.crash_spec is not None
        now = self.env.now
        arc = int(self.crashes.arc[index])
        profile = self.traffic.profile
        network = profile.network
        capacity = float(network.arc_capacity[arc])
        demand = float(profile.demand_ratio(self.clock())[arc]) * capacity
        spec = self.crash_spec
        severity = spec.severities[int(self.crashes.severity[index])]
        storage = spec.queue_storage_links * float(network.arc_lanes[arc] * network.arc_km[arc]) \
            * spec.jam_density_veh_per_lane_km
        blockage = Blockage(arc, now, severity.capacity_factor, min(demand, self.queue_inflow_cap * capacity), capacity,
                            storage, spec.detour_min)
        self.blockages[index] = blockage
        self.traffic.block(blockage)
        self_clear = float(self.crashes.self_clear_min[index])
        if not math.isnan(self_clear):
            self.env.timeout(self_clear).callbacks.append(partial(self._on_self_clear, index))

    def _on_self_clear(self, index: int, _event: simpy.Event) -> None:
        self.cleared(index)

    def cleared(self, index: int) -> None:
        """The crash is off the road (drivers moved it, or police cleared the incident)."""
        blockage = self.blockages[index]
        if blockage is not None and blockage.end == math.inf:
            self.traffic.unblock(blockage, self.env.now)

    def crash_rows(self, end_min: float) -> list[tuple[Any, ...]]:
        """One row per crash that happened: blockage, queue, diversion and delay (blockages still on at the
        end are cut at the end of the run)."""
        rows = []
        assert self.crashes is not None or not self.blockages
        for index, blockage in enumerate(self.blockages):
            if blockage is None:
                continue
            if blockage.end == math.inf:
                blockage.end = end_min
            assert self.crashes is not None
            cost = blockage.summary()
            rows.append((index, blockage.arc, int(self.crashes.severity[index]), float(self.crashes.x_km[index]),
                         float(self.crashes.y_km[index]), blockage.start, blockage.end, *cost, cost.delay_vehicle_h))
        return rows

"""The scenario-level city: network, traffic profile and cached shortest-path matrices.

All of it follows from the scenario alone (no randomness), so it is built once per scenario and
shared by every replication run in the same process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from citysim.city.geography import DistrictGrid
from citysim.city.network import RoadNetwork, build_network
from citysim.city.routing import Router
from citysim.city.traffic import TrafficProfile
from citysim.config.schema import Scenario
from citysim.memo import ScenarioCache

_CACHE: ScenarioCache[CityContext] = ScenarioCache()


@dataclass
class CityContext:
    """Network, traffic profile, and shortest paths at free flow and at each hour's typical traffic."""

    network: RoadNetwork
    profile: TrafficProfile
    free_flow: Router
    _typical: dict[int, Router] = field(default_factory=dict)

    def typical(self, hour: int) -> Router:
        """Shortest paths at the hour's typical (crash-free) traffic, as a dispatcher would know it."""
        router = self._typical.get(hour)
        if router is None:
            router = Router(self.network, self.profile.arc_minutes(hour + 0.5))
            self._typical[hour] = router
        return router


def city_context(scenario: Scenario, grid: DistrictGrid) -> CityContext:
    """Build (or reuse) the city of a scenario that has `network` and `traffic` blocks."""
    assert scenario.network is not None and scenario.traffic is not None
    network_spec, traffic = scenario.network, scenario.traffic

    def build() -> CityContext:
        network = build_network(network_spec, grid)
        names = [d.name for d in scenario.districts]
        parking = [names.index(name) for name in traffic.parking.districts]
        profile = TrafficProfile(network, network_spec.classes, traffic, parking)
        return CityContext(network, profile, Router(network, network.arc_free_flow_min))

    # The lattice lies on the districts' land, so the city depends on the geography block too.
    return _CACHE.get(scenario.model_dump_json(include={"districts", "geography", "network", "traffic"}), build)

"""How much a scenario asks of the machine, estimated from the file alone, and the most it may ask.

Every size that grows memory or time with an input value (road nodes, demand cells, traffic refreshes,
incidents, replications) is estimated here from the validated schema, before anything is allocated or
simulated, and compared with a documented limit (docs/limits.md gives each limit's reason). The city
layer checks the same limits again on what it really builds (a GeoJSON's land can be larger than the
districts' area_km2), so an estimate that comes out low never lets a build run away. This module also
holds the bounds of what is a city at all: latitudes and speeds outside them are typos, not cities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from citysim.config.schema import NetworkTravel, Scenario, StraightLineTravel
from citysim.earth import KM_PER_DEG_LAT, KM_PER_DEG_LON_EQUATOR
from citysim.errors import InputError, KeyPath

MINUTES_PER_DAY = 1440.0

#: Road network nodes. Shanghai's skeleton has 490; every traffic state's router holds an n x n matrix
#: of minutes and one of predecessors (12 bytes a pair), and a run keeps up to 25 of them (free flow and
#: each hour's typical traffic): 2,000 nodes is 48 MB a matrix, about 1.2 GB for a whole run.
MAX_NETWORK_NODES = 2_000
#: Demand-surface cells (the districts' bounding box over geography.cell_km squares). Shanghai has
#: 31,521 land cells at 0.5 km; 400,000 cells validate in about 4 s and 560 MiB (benchmarks/bench_validate.py).
MAX_DEMAND_CELLS = 400_000
#: Cell side of disc districts' demand surface (scenarios without a geography block).
DISC_CELL_KM = 0.5
#: Traffic refreshes in one replication (horizon / traffic.refresh_min). Shanghai has 120 (15 min over
#: 30 h); 20,000 is a 1-minute refresh for two weeks, or a 15-minute one for 200 days.
MAX_TRAFFIC_STEPS = 20_000
#: Incidents (calls and crashes) in one replication: about 20 minutes of computing at
#: INCIDENTS_PER_SECOND, 114 Shanghai city-days. A guard against a typo such as a duration in seconds.
MAX_INCIDENTS = 5_000_000
#: Patrol units and police stations, city-wide. ASSUMPTION: 20,000 units is 13 times Shanghai's 1,500
#: on duty at the busiest hour (NYPD, the largest US force, has about 36,000 officers in all, most
#: not on patrol at one time); 5,000 stations is 17 times Shanghai's 300.
MAX_UNITS = 20_000
MAX_STATIONS = 5_000
#: Replications x simulated days of one `run`, `compare` or `calibrate` command (per scenario). ASSUMPTION:
#: 10,000 city-days is about 21 h of one core for Shanghai; more is a batch for `citysim experiment`'s
#: workers, not one command.
MAX_REPLICATION_DAYS = 10_000.0
#: Incidents simulated per second of one core, to turn an estimate into wall time: the Shanghai baseline's
#: 43,750 expected incidents in about 9.4 s a run (docs/performance.md), so about 4,600/s; ASSUMPTION: a
#: round 4,000/s, since smaller scenarios pay the same fixed costs per run.
INCIDENTS_PER_SECOND = 4_000.0
#: Print a time estimate for commands expected to take longer than this.
ANNOUNCE_SECONDS = 60.0
#: The most poleward latitude of a district. ASSUMPTION: the northernmost city of over 100,000 people is
#: Norilsk (69.3 N), the southernmost Ushuaia (54.8 S); beyond 72 degrees the local flat projection
#: (geography.Projection) errs by over 10 % across the 200 km region, and at the poles it breaks down.
MAX_ABS_LATITUDE = 72.0
#: Speeds of police travel (straight-line speeds, access speed, free-flow speeds of road classes).
#: ASSUMPTION: below 1 km/h is slower than walking, not driving: an error (a typo such as km/min). Above
#: 300 km/h is faster than any road vehicle on a city street: only a warning, since the queueing-theory
#: reductions (scenarios/verification/nearest.yaml) use 1e9 km/h on purpose to make travel vanish.
MIN_SPEED_KMH = 1.0
MAX_SPEED_KMH = 300.0


@dataclass(frozen=True)
class RunEstimate:
    """What a run of `replications` replications of a scenario asks for."""

    incidents_per_replication: float
    days_per_replication: float
    replications: int

    @property
    def incidents(self) -> float:
        return self.incidents_per_replication * self.replications

    @property
    def simulated_days(self) -> float:
        return self.days_per_replication * self.replications

    @property
    def wall_seconds(self) -> float:
        """Rough single-core computing time at INCIDENTS_PER_SECOND."""
        return self.incidents / INCIDENTS_PER_SECOND

    def describe(self) -> str:
        return (f"{self.replications:,} replication(s) of about {format_count(self.incidents_per_replication)} "
                f"incidents and {self.days_per_replication:,.3g} simulated days each: about "
                f"{format_count(self.incidents)} incidents, {format_duration(self.wall_seconds)} of computing at "
                f"about {INCIDENTS_PER_SECOND:,.0f} incidents/s")


def format_count(value: float) -> str:
    """A count for a message: digits with commas, or 3 significant figures beyond a trillion."""
    return f"{value:,.0f}" if value < 1e12 else f"{value:.3g}"


def format_duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:,.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:,.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:,.1f} h"
    return f"{seconds / 86400:,.0f} days"


def expected_incidents(scenario: Scenario) -> float:
    """Mean incidents (calls, surges included, and crashes) of one replication, drain included."""
    crashes = scenario.crashes.crashes_per_day if scenario.crashes is not None else 0.0
    return (scenario.demand.expected_calls_per_day + crashes) * scenario.run.horizon_min / MINUTES_PER_DAY


def estimate_run(scenario: Scenario, replications: int = 1) -> RunEstimate:
    """The work of `replications` replications of a scenario (see RunEstimate)."""
    return RunEstimate(expected_incidents(scenario), scenario.run.horizon_min / MINUTES_PER_DAY, replications)


def check_run_size(scenario: Scenario, replications: int, file: object, option: str = "--replications") -> RunEstimate:
    """The run's estimate, or an InputError naming `option` if replications x simulated days exceeds
    MAX_REPLICATION_DAYS."""
    estimate = estimate_run(scenario, replications)
    if estimate.simulated_days > MAX_REPLICATION_DAYS:
        raise InputError(str(file), f"{option} {replications:,} asks for {estimate.describe()}; that is "
                         f"{format_count(estimate.simulated_days)} replication-days, more than the limit of "
                         f"{MAX_REPLICATION_DAYS:,.0f} for one command. Lower {option}, or run the batch as a "
                         "`citysim experiment` on several workers.")
    return estimate


def network_node_estimate(scenario: Scenario) -> list[tuple[KeyPath, float]]:
    """Roughly how many nodes each part of the road network adds: (key path, nodes) per ring, radial and
    lattice spacing, plus crossings and extra nodes."""
    network = scenario.network
    if network is None:
        return []
    bearings = len({round(r.bearing_deg, 6) for r in network.radials})
    parts: list[tuple[KeyPath, float]] = []
    for i, ring in enumerate(network.rings):
        nodes = max(6.0, math.ceil(2 * math.pi * ring.radius_km / ring.node_spacing_km)) + bearings
        parts.append((("network", "rings", i, "node_spacing_km"), nodes))
    for i, radial in enumerate(network.radials):
        nodes = math.ceil(radial.length_km / radial.node_spacing_km) + len(network.rings) + 1
        parts.append((("network", "radials", i, "node_spacing_km"), nodes))
    land = sum(d.area_km2 for d in scenario.districts)
    inner = min(math.pi * network.grid.inner_radius_km**2, land)
    parts.append((("network", "grid", "inner_spacing_km"), inner / network.grid.inner_spacing_km**2))
    parts.append((("network", "grid", "outer_spacing_km"), (land - inner) / network.grid.outer_spacing_km**2))
    crossings = sum(len(b.crossings) for b in network.barriers) + len(network.extra_nodes)
    parts.append((("network",), float(crossings)))
    return parts


def demand_cell_estimate(scenario: Scenario) -> float:
    """Cells of the demand surface's bounding box: the districts' equal-area discs around their centres
    (exact for disc districts; for polygons the city layer counts again on the real land)."""
    lat0 = sum(d.lat for d in scenario.districts) / len(scenario.districts)
    km_lon = KM_PER_DEG_LON_EQUATOR * math.cos(math.radians(min(abs(lat0), 89.0)))
    xs, ys = [], []
    for d in scenario.districts:
        r = math.sqrt(d.area_km2 / math.pi)
        x, y = d.lon * km_lon, d.lat * KM_PER_DEG_LAT
        xs += [x - r, x + r]
        ys += [y - r, y + r]
    cell = scenario.geography.cell_km if scenario.geography is not None else DISC_CELL_KM
    return math.ceil((max(xs) - min(xs)) / cell + 1) * math.ceil((max(ys) - min(ys)) / cell + 1)


def limit_problems(scenario: Scenario) -> list[tuple[KeyPath, str]]:
    """Every estimate above its limit, and every latitude or speed that is not a city's, with the key
    path to edit. Cheap: arithmetic on the schema, nothing allocated."""
    problems = _bound_problems(scenario)
    if problems:
        return problems  # estimates made from a latitude or speed that is not a city's would mislead
    run = scenario.run
    incidents = expected_incidents(scenario)
    if incidents > MAX_INCIDENTS:
        crashes = scenario.crashes.crashes_per_day if scenario.crashes is not None else 0.0
        calls = scenario.demand.expected_calls_per_day
        key: KeyPath = (("crashes", "crashes_per_day") if crashes > calls
                        else ("run", "drain_min" if run.drain_min > run.duration_min else "duration_min")
                        if run.horizon_min > 30 * MINUTES_PER_DAY
                        else ("demand", "surges") if calls > 2 * scenario.demand.calls_per_day
                        else ("demand", "calls_per_day"))
        problems.append((key, f"one replication would simulate about {format_count(incidents)} incidents "
                         "((demand.calls_per_day with its surges + crashes.crashes_per_day) x "
                         f"{run.horizon_min:,.6g} min of duration and drain), more than the limit of "
                         f"{MAX_INCIDENTS:,}; lower the rates or "
                         "run.duration_min (is a duration in seconds, or a rate per year?)."))
    if scenario.traffic is not None:
        steps = run.horizon_min / scenario.traffic.refresh_min
        if steps > MAX_TRAFFIC_STEPS:
            problems.append((("traffic", "refresh_min"), f"a refresh every {scenario.traffic.refresh_min:g} min "
                             f"over {run.horizon_min:,.6g} min makes {format_count(steps)} traffic refreshes in one "
                             f"replication, more than the limit of {MAX_TRAFFIC_STEPS:,}; expected a refresh of "
                             "minutes (Shanghai: 15)."))
    parts = network_node_estimate(scenario)
    nodes = sum(n for _, n in parts)
    if nodes > MAX_NETWORK_NODES:
        key, largest = max(parts, key=lambda p: p[1])
        problems.append((key, f"the road network would have about {format_count(nodes)} nodes "
                         f"({format_count(largest)} from this entry), more than the limit of {MAX_NETWORK_NODES:,} "
                         "(Shanghai's has 490); expected node spacings and lattice spacings of kilometres."))
    cells = demand_cell_estimate(scenario)
    if cells > MAX_DEMAND_CELLS:
        key = ("geography", "cell_km") if scenario.geography is not None else ("districts",)
        problems.append((key, f"the demand surface would have about {format_count(cells)} cells over the "
                         f"districts' extent, more than the limit of {MAX_DEMAND_CELLS:,}; expected a larger "
                         "geography.cell_km, or districts of a city's size (check area_km2 and lat/lon)."))
    for total, limit, field in ((sum(d.units for d in scenario.districts), MAX_UNITS, "units"),
                                (sum(d.stations for d in scenario.districts), MAX_STATIONS, "stations")):
        if total > limit:
            problems.append((("districts",), f"the districts have {total:,} {field} in all, more than the limit "
                             f"of {limit:,} for one city."))
    return problems


def _bound_problems(scenario: Scenario) -> list[tuple[KeyPath, str]]:
    problems: list[tuple[KeyPath, str]] = []
    for i, district in enumerate(scenario.districts):
        if abs(district.lat) > MAX_ABS_LATITUDE:
            problems.append((("districts", i, "lat"), f"latitude {district.lat:g} is beyond {MAX_ABS_LATITUDE:g} "
                             "degrees north or south, where no city of this model's kind lies (and its flat "
                             "projection fails); check for swapped lat/lon."))
    for key, speed in _first_per_block(travel_speeds(scenario)):
        if speed < MIN_SPEED_KMH:
            problems.append((key, f"a speed of {speed:g} km/h is slower than walking, not a vehicle's; expected "
                             f"at least {MIN_SPEED_KMH:g} km/h (is it in km/min, or m/s?)."))
    return problems


def travel_speeds(scenario: Scenario) -> list[tuple[KeyPath, float]]:
    """Every speed police travel uses, with its key path: straight-line speeds by hour, the access speed
    and the road classes' free-flow speeds."""
    speeds: list[tuple[KeyPath, float]] = []
    travel = scenario.travel
    if isinstance(travel, StraightLineTravel):
        speeds += [(("travel", "speed_kmh_by_hour", h), v) for h, v in enumerate(travel.speed_kmh_by_hour)]
    if isinstance(travel, NetworkTravel):
        speeds.append((("travel", "access_speed_kmh"), travel.access_speed_kmh))
    if scenario.network is not None:
        for name in ("expressway", "arterial"):
            road = getattr(scenario.network.classes, name)
            speeds.append((("network", "classes", name, "free_flow_kmh"), road.free_flow_kmh))
    return speeds


def _first_per_block(speeds: list[tuple[KeyPath, float]]) -> list[tuple[KeyPath, float]]:
    """The slowest speed of each block (one problem for 24 hourly speeds, not 24)."""
    slowest: dict[KeyPath, tuple[KeyPath, float]] = {}
    for key, speed in speeds:
        block = key[:2]
        if block not in slowest or speed < slowest[block][1]:
            slowest[block] = (key, speed)
    return list(slowest.values())

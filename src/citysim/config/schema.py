"""The scenario schema: strict, immutable, with units in key names.

Unknown keys are errors (`extra="forbid"`), so a typo never passes silently. Times are minutes, clock
hours are hours of the day, distances km, speeds km/h. A validated `Scenario` is frozen: runtime
objects are built fresh from it for every replication and nothing mutates it.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from citysim.config.base import Probability, Strict
from citysim.config.distributions import PROBABILITY_TOLERANCE, Distribution
from citysim.config.levers import Levers
from citysim.config.operations import Operations, task_start_problem
from citysim.config.transit import Transit
from citysim.earth import KM_PER_DEG_LAT, KM_PER_DEG_LON_EQUATOR, REGION_KM
from citysim.errors import KeyPath

NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
#: 24 values, one per clock hour 0..23.
HourlyProfile = Annotated[list[NonNegative], Field(min_length=24, max_length=24)]


def _check_sum_to_one(values: list[float], what: str) -> None:
    total = math.fsum(values)
    if abs(total - 1.0) > PROBABILITY_TOLERANCE:
        raise ValueError(f"the {what} must sum to 1 (within {PROBABILITY_TOLERANCE}); they sum to {total:.6g}")


class RunSettings(Strict):
    """Clock and length of one replication."""

    seed: int = Field(ge=0, description="root seed; replication k uses child k of SeedSequence(seed)")
    start_clock_h: float = Field(ge=0, lt=24, description="clock hour of day at simulation time 0")
    duration_min: Positive = Field(
        description="length of the run from time 0 to the end of the KPI window (the drain follows)")
    warmup_min: NonNegative = Field(description="initial period excluded from every KPI")
    drain_min: NonNegative = Field(
        default=0.0, description="minutes simulated after duration_min so that incidents reported before it are "
        "followed to closure; calls keep arriving in the drain but are not counted")

    @model_validator(mode="after")
    def _warmup_shorter_than_run(self) -> RunSettings:
        if self.warmup_min >= self.duration_min:
            raise ValueError("warmup_min must be shorter than duration_min")
        return self

    @property
    def horizon_min(self) -> float:
        """Where the simulation stops: the end of the KPI window plus the drain."""
        return self.duration_min + self.drain_min


class District(Strict):
    """A district: where calls come from and where units are based."""

    name: str = Field(description="the district's name (unique; matched by `traffic.parking.districts` and a GeoJSON's "
                    "properties.name)", min_length=1)
    population: int = Field(description="residents (reported; demand comes from call_share, not from this)", ge=0)
    area_km2: float = Field(ge=0.01, le=100_000, allow_inf_nan=False,
                           description="land area (a disc district's size); at least a hectare (a drawable disc)")
    lat: float = Field(ge=-90, le=90, description="WGS84 latitude of the district centre")
    lon: float = Field(ge=-180, le=180, description="WGS84 longitude of the district centre")
    call_share: Probability = Field(description="share of the city's calls placed in this district")
    stations: int = Field(ge=1, le=10_000, description="police stations, placed at the centres of the district's "
                          "demand (weighted k-means over its land)")
    units: int = Field(
        ge=0, le=100_000, description="patrol units based in the district, the whole roster: at clock hour h, "
        "round(units x fleet.on_duty_fraction_by_hour[h]) of them are on duty (police.fleet.apply_roster), so this "
        "is the count on duty in the hours whose fraction is 1.0 (the busiest hours)")


class Category(Strict):
    """One kind of incident and how it is handled."""

    share: Probability = Field(description="share of all calls")
    priority: int = Field(ge=1, le=9, description="1 = emergency; larger is less urgent")
    units_needed: int = Field(
        description="units sent to each incident of this category (each assigned as one becomes free)", ge=1, le=10)
    report_delay: Distribution = Field(description="from the event (t_occur) to the call (t_call)")
    talk: Distribution | None = Field(default=None, description="call-taker time; staffed centres only")
    phone_resolution_prob: Probability = Field(description="closed on the phone, no unit sent")
    diversion_prob: Probability = Field(description="referred elsewhere (e.g. 12345), no unit sent")
    scene: Distribution = Field(description="on-scene handling time, first arrival to clearance")
    hot_spot_share: Probability = Field(
        default=0.0, description="share of this category's incidents at the crime hot spots (geography.hot_spots)")

    @model_validator(mode="after")
    def _outcomes_are_probabilities(self) -> Category:
        if self.phone_resolution_prob + self.diversion_prob > 1 + 1e-12:
            raise ValueError("phone_resolution_prob + diversion_prob must not exceed 1")
        return self


#: The largest surge multiplier. ASSUMPTION: the busiest day on record in the shipped scenarios is 1.55 x
#: the 2016 day (54,000 calls, snow of 15 Dec 2010, against 35,000: scenarios/shanghai/baseline.yaml and
#: situations/typhoon_surge.yaml); 20 leaves room for an hour far worse than any day, while a larger value
#: is most likely a count of extra calls typed as a multiplier. The work stays bounded: even a surge of 20
#: on every hour is 20 x calls_per_day, and config.limits counts surges in the incidents it checks.
MAX_SURGE_MULTIPLIER = 20.0


class Surge(Strict):
    """Extra (or fewer) calls in some clock hours: it multiplies those hours' call rate after the profile
    is rescaled to mean 1, so it adds calls instead of moving them from other hours."""

    hours: Annotated[list[Annotated[int, Field(ge=0, le=23)]], Field(min_length=1, max_length=24)] = Field(
        description="clock hours 0-23 the multiplier applies to, every day of the run")
    multiplier: float = Field(gt=0, le=MAX_SURGE_MULTIPLIER, allow_inf_nan=False,
                              description="factor on the call rate in those hours (2: twice the calls; 0.5: half)")
    reason: str = Field(min_length=1, description="why the calls change (an event, a storm), with its source")

    @field_validator("hours")
    @classmethod
    def _unique_hours(cls, hours: list[int]) -> list[int]:
        repeated = sorted({h for h in hours if hours.count(h) > 1})
        if repeated:
            raise ValueError(f"each hour at most once; repeated: {', '.join(map(str, repeated))}")
        return hours


class Demand(Strict):
    """Calls: volume, time-of-day profile, surges and category mix."""

    calls_per_day: Positive = Field(description="mean calls per 24 h before surges, all categories")
    hourly_profile: HourlyProfile = Field(
        description="relative call rate in each clock hour of the day: entry h is h:00-h:59 whatever "
        "run.start_clock_h is (a run starting at 22:00 begins with entry 22). Rescaled to average 1, so it is a "
        "shape only: raising some hours takes calls from the others, and calls_per_day stays the day's total "
        "(to add calls in some hours, use surges)")
    surges: list[Surge] = Field(default_factory=list, max_length=24,
                                description="multipliers on the call rate of given clock hours (none by default)")
    categories: dict[str, Category] = Field(
        description="incident categories by name (priority, units needed, stage times, outcomes)", min_length=1)

    def shape_by_hour(self) -> list[float]:
        """The hourly profile rescaled to mean 1, by clock hour."""
        mean = math.fsum(self.hourly_profile) / 24.0
        return [v / mean for v in self.hourly_profile]

    def surge_by_hour(self) -> list[float]:
        """The surge multiplier of each clock hour (1 where no surge applies)."""
        factors = [1.0] * 24
        for surge in self.surges:
            for hour in surge.hours:
                factors[hour] = surge.multiplier
        return factors

    def calls_by_hour(self) -> list[float]:
        """Expected calls in each clock hour of a day: calls_per_day / 24 x shape x surge."""
        return [self.calls_per_day / 24.0 * s * m for s, m in zip(self.shape_by_hour(), self.surge_by_hour())]

    @property
    def expected_calls_per_day(self) -> float:
        """Mean calls in a whole day, surges included (calls_per_day when there are none)."""
        return math.fsum(self.calls_by_hour()) if self.surges else self.calls_per_day

    @field_validator("hourly_profile")
    @classmethod
    def _not_all_zero(cls, profile: list[float]) -> list[float]:
        if sum(profile) <= 0:
            raise ValueError("at least one hour must have a positive rate")
        return profile

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> Demand:
        _check_sum_to_one([c.share for c in self.categories.values()], "category shares")
        return self


class StaffedCallCentre(Strict):
    """110 call-takers, first come first served, by clock hour."""

    kind: Literal["staffed"] = Field(description="`staffed`: a call-taking stage with an hourly roster")
    call_takers_by_hour: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=24, max_length=24)] = Field(
        description="call-takers on duty in each clock hour 0-23 (first come, first served)")
    locate: Distribution | None = Field(
        default=None, description="minutes to establish where the caller is, for calls that get a unit (before "
        "talk); null: locating is part of talk")

    @field_validator("call_takers_by_hour")
    @classmethod
    def _someone_on_duty(cls, staff: list[int]) -> list[int]:
        if max(staff) == 0:
            raise ValueError("at least one hour needs call-takers, or calls would never be answered")
        return staff


class NoCallCentre(Strict):
    """No call-taking stage: calls reach dispatch at once (queueing-theory reductions)."""

    kind: Literal["none"] = Field(description="`none`: no call-taking stage")


class Dispatch(Strict):
    """How a unit is chosen, and the dispatcher's decision time."""

    policy: Literal["home_district", "nearest"] = Field(
        description="home_district: units of the incident's district only; nearest: nearest idle unit "
        "by estimated travel time, any district"
    )
    decision_delay: Distribution = Field(description="from end of call-taking to first assignment attempt")


class Fleet(Strict):
    """Patrol units: shifts, and where idle units wait."""

    on_duty_fraction_by_hour: HourlyProfile = Field(
        description="share of each district's units on duty in each clock hour 0-23: round(units x fraction) of "
        "them; units leaving at a shift change finish their job first")
    idle_at: Literal["station", "posts", "where_cleared"] = Field(
        description="station: units are dealt round-robin to their district's stations and return there; posts: "
        "each unit has its own patrol post, placed on the district's demand, and returns there; where_cleared: "
        "units start at a station and wait wherever they last cleared")

    @field_validator("on_duty_fraction_by_hour")
    @classmethod
    def _fractions(cls, profile: list[float]) -> list[float]:
        if any(v > 1 for v in profile):
            raise ValueError("on-duty fractions must be between 0 and 1")
        return profile


class StraightLineTravel(Strict):
    """Straight-line distance x circuity at an hourly speed, after a turn-out time."""

    kind: Literal["straight_line"] = Field(
        description="`straight_line`: straight-line km x circuity at the clock hour's speed")
    circuity: float = Field(ge=1, le=3, description="network / straight-line distance")
    speed_kmh_by_hour: Annotated[list[Positive], Field(min_length=24, max_length=24)] = Field(
        description="driving speed in each clock hour 0-23")
    turnout: Distribution = Field(description="from assignment to the unit moving")
    noise_cv: NonNegative = Field(description="spread of actual travel time around the estimate")


class InstantTravel(Strict):
    """Zero travel time (queueing-theory reductions)."""

    kind: Literal["instant"] = Field(description="`instant`: zero travel time")


class NetworkTravel(Strict):
    """Travel on the road network through current traffic (needs `network` and `traffic` blocks)."""

    kind: Literal["network"] = Field(
        description="`network`: shortest routes on the road network through current traffic")
    routing: Literal["free_flow", "current"] = Field(
        description="free_flow: habitual routes, shortest at free flow; current: shortest at current link times"
    )
    access_speed_kmh: Positive = Field(description="speed on local streets between a point and its network node")
    access_circuity: float = Field(ge=1, le=3, description="local street km / straight-line km")
    turnout: Distribution = Field(description="from assignment to the unit moving")
    noise_cv: NonNegative = Field(description="spread of actual driving time around the route's time")
    police_queue_share: float = Field(
        ge=0, le=1, description="share of a crash queue's delay a police car with lights and siren suffers"
    )


LatLon = Annotated[list[Annotated[float, Field(ge=-180, le=180)]], Field(min_length=2, max_length=2)]
RoadClassName = Literal["expressway", "arterial"]


class RoadClass(Strict):
    """Free-flow speed, capacity and hourly demand of one class of road."""

    free_flow_kmh: Positive = Field(description="speed on an empty link of this class")
    capacity_veh_per_hour_per_lane: Positive = Field(description="capacity per lane (the BPR curve's c)")
    demand_ratio_by_hour: HourlyProfile = Field(
        description="demand volume / capacity by clock hour, the BPR input (may exceed 1 at peaks)"
    )


class RoadClasses(Strict):
    expressway: RoadClass = Field(description="the expressway class (rings, radials)")
    arterial: RoadClass = Field(description="the arterial class (the lattice)")


class Ring(Strict):
    """A ring expressway, modelled as a circle around the network centre."""

    name: str = Field(description="the ring's name")
    radius_km: float = Field(
        description="radius of the circle around network.centre (ring length / 2 pi)", gt=0, le=200,
        allow_inf_nan=False)
    lanes: int = Field(ge=1, le=8, description="lanes each way")
    node_spacing_km: float = Field(description="distance between the ring's nodes", ge=0.1, le=100, allow_inf_nan=False)
    arc_deg: Annotated[list[Annotated[float, Field(ge=0, le=360)]], Field(min_length=2, max_length=2)] | None = Field(
        default=None, description="[from, to] compass bearings (clockwise) the ring covers; null: all the way round"
    )


class Radial(Strict):
    """A radial expressway from the innermost ring outwards along a compass bearing."""

    name: str = Field(description="the radial's name")
    bearing_deg: float = Field(description="compass bearing (clockwise from north) from the centre", ge=0, lt=360)
    length_km: float = Field(gt=0, le=200, allow_inf_nan=False,
                             description="distance from the network centre to the radial's outer end")
    lanes: int = Field(description="lanes each way", ge=1, le=8)
    node_spacing_km: float = Field(
        description="distance between the radial's nodes", ge=0.1, le=100, allow_inf_nan=False)


class Grid(Strict):
    """Arterial roads: a lattice over the districts' land, denser in the centre, joined by Delaunay links."""

    inner_radius_km: Positive = Field(description="radius around network.centre inside which the lattice is dense")
    inner_spacing_km: Positive = Field(description="lattice spacing inside inner_radius_km")
    outer_spacing_km: Positive = Field(description="lattice spacing outside it")
    lanes: int = Field(description="lanes each way of an arterial link", ge=1, le=8)


class Crossing(Strict):
    """A bridge or tunnel over a barrier: the only places links may cross it."""

    name: str = Field(description="the bridge's or tunnel's name (the unit log's `crossing`)")
    lat: float = Field(description="WGS84 latitude of the crossing", ge=-90, le=90)
    lon: float = Field(description="WGS84 longitude of the crossing", ge=-180, le=180)
    road_class: RoadClassName = Field(description="the class of road it carries")
    lanes: int = Field(description="lanes each way", ge=1, le=8)


class Barrier(Strict):
    """A river or coast line that roads cross only at its crossings."""

    name: str = Field(description="the barrier's name")
    points: list[LatLon] = Field(min_length=2, description="polyline of [lat, lon] points")
    crossings: list[Crossing] = Field(description="its bridges and tunnels, the only places links cross it")


class ExtraNode(Strict):
    """A node added by hand (a new bridge end, a station's road)."""

    name: str = Field(description="the node's name (extra_links refer to it)")
    lat: float = Field(description="WGS84 latitude", ge=-90, le=90)
    lon: float = Field(description="WGS84 longitude", ge=-180, le=180)
    join_network: bool = Field(default=False, description="also link it to the nearest lattice node")


class ExtraLink(Strict):
    """A link added by hand between two extra nodes (length from coordinates unless given)."""

    from_node: str = Field(description="one end (a network.extra_nodes name)")
    to_node: str = Field(description="the other end (a network.extra_nodes name)")
    road_class: RoadClassName = Field(description="the class of road")
    lanes: int = Field(description="lanes each way", ge=1, le=8)
    length_km: Positive | None = Field(
        default=None, description="road length; null: straight-line km from the ends' coordinates x "
        "network.link_circuity")


class Network(Strict):
    """The road network skeleton, generated from this description."""

    centre: LatLon = Field(description="[lat, lon] centre of the rings")
    link_circuity: float = Field(ge=1, le=2, description="road km / straight-line km along one link")
    classes: RoadClasses = Field(description="free-flow speed, capacity and hourly demand of each road class")
    rings: list[Ring] = Field(description="ring expressways, one entry each")
    radials: list[Radial] = Field(description="radial expressways, one entry each")
    grid: Grid = Field(description="the arterial lattice")
    barriers: list[Barrier] = Field(description="rivers and coast lines that links cross only at their crossings")
    extra_nodes: list[ExtraNode] = Field(description="nodes added by hand", default_factory=list)
    extra_links: list[ExtraLink] = Field(description="links added by hand between extra nodes", default_factory=list)


class Parking(Strict):
    """Cars cruising for parking in central districts, as a flow (Little's law, citysim.city.parking): cars
    parking per hour x search time = cars cruising, whose vehicle-km load the districts' surface streets."""

    parked_cars_per_day: float = Field(ge=0, le=1e8, allow_inf_nan=False,
        description="cars parking per day in all the parking districts together (spread by their arterial km "
        "and by the arterial demand profile)")
    search_min: float = Field(ge=0, le=120, allow_inf_nan=False,
                              description="mean minutes a car cruises for a space before it parks")
    cruising_speed_kmh: float = Field(gt=0, le=60, allow_inf_nan=False,
                                      description="speed of a car cruising for parking, km/h")
    districts: list[str] = Field(description="the districts where cars cruise for parking")


class Traffic(Strict):
    """How link volumes and times evolve."""

    refresh_min: Positive = Field(description="how often link volumes and BPR times are recomputed")
    bpr_alpha: NonNegative = Field(description="alpha of the BPR link time t0 (1 + alpha (v/c)^beta)")
    bpr_beta: NonNegative = Field(description="beta of the BPR link time t0 (1 + alpha (v/c)^beta)")
    queue_inflow_cap: float = Field(gt=0, lt=1, description="upstream flow at a blockage, as a share of capacity")
    parking: Parking = Field(description="cars cruising for parking in central districts")


class Severity(Strict):
    """A class of crash and what it does to its link."""

    name: str = Field(description="the severity's name (the crash log's `severity`)")
    share: Probability = Field(description="share of crashes of this class")
    capacity_factor: float = Field(gt=0, le=1, description="share of the link's capacity left while blocked")
    self_clear: Distribution | None = Field(
        description="time until the drivers clear it themselves (simple procedure); null: only police clear it"
    )
    self_cleared_check: Distribution | None = Field(
        description="on-scene minutes when the police arrive after the drivers have cleared it (a short check "
        "instead of the category's scene work); null when self_clear is null")

    @model_validator(mode="after")
    def _check_matches(self) -> Severity:
        if (self.self_clear is None) != (self.self_cleared_check is None):
            raise ValueError("self_cleared_check is required when self_clear is given, and must be null otherwise")
        return self


class Crashes(Strict):
    """Traffic crashes on the network; each becomes a 110 incident of `category`."""

    crashes_per_day: NonNegative = Field(
        description="mean crashes per 24 h on the network (spread over hours and links by vehicle-km)")
    category: str = Field(
        description="the demand category whose 110 incident each crash raises (its share of calls must be 0)")
    severities: list[Severity] = Field(description="the classes of crash, one entry each", min_length=1)
    jam_density_veh_per_lane_km: float = Field(
        gt=0, le=400, allow_inf_nan=False, description="vehicles a stopped queue holds per lane-km (a car and its "
        "gap take at least 2.5 m): a crash queue holds at most queue_storage_links x lanes x km x this")
    queue_storage_links: float = Field(
        ge=1, le=20, allow_inf_nan=False, description="how many links' worth of the crash link's storage a crash "
        "queue may fill (1: its own link only; more: it spills back upstream) before arrivals divert")
    detour_min: float = Field(ge=0, le=1440, allow_inf_nan=False,
        description="extra minutes a vehicle pays when it diverts around a crash whose queue is full")

    @model_validator(mode="after")
    def _shares(self) -> Crashes:
        _check_sum_to_one([s.share for s in self.severities], "severity shares")
        return self


class Density(Strict):
    """Residential density inside each district: exp(-r / decay_km) at r km from `centre`."""

    centre: LatLon = Field(description="[lat, lon] of the density peak")
    decay_km: float = Field(gt=0.5, le=1000, description="distance over which density falls by a factor e")


class HotSpots(Strict):
    """Crime hot spots: cells of the demand surface where `hot_spot_share` of a category's incidents fall."""

    area_share: float = Field(gt=0, le=0.5, description="share of each district's cells that are hot spots")
    seed: int = Field(ge=0, description="which cells are hot (the same every day: a property of the city)")


class Geography(Strict):
    """Where districts are: land polygons, and the demand surface on them."""

    district_polygons: str | None = Field(
        default=None, min_length=1, description="GeoJSON of the districts' land (WGS84), one feature per district "
        "with properties.name; path relative to the scenario file that names it. null: each district is a disc "
        "of its area around its centre")
    cell_km: float = Field(ge=0.1, le=10, description="side of the demand surface's square cells")
    density: Density | None = Field(default=None, description="null: demand uniform over each district's land")
    hot_spots: HotSpots | None = Field(default=None, description="crime hot spots on the demand surface; null: none")


class Scenario(Strict):
    """A complete, validated scenario."""

    name: str = Field(
        description="the scenario's name (results go to results/<name> by default; a child file under `extends` "
                    "gives its own)", min_length=1)
    description: str = Field(default="", description="free text shown in reports")
    run: RunSettings = Field(description="the clock, length, warm-up and drain of one replication")
    districts: list[District] = Field(
        description="the districts, one entry each: where calls come from and where units are based (lists replace "
                    "whole under `extends`)", min_length=1, max_length=1000)
    geography: Geography | None = Field(
        default=None, description="null: districts are discs of their area around their centres, with uniform "
        "demand on 0.5 km cells (synthetic cities)")
    demand: Demand = Field(description="the calls: volume, clock-hour profile and category mix")
    call_centre: Annotated[StaffedCallCentre | NoCallCentre, Field(discriminator="kind")] = Field(
        description="the 110 call-takers (`kind: staffed`) or none (`kind: none`: calls reach dispatch at once)")
    dispatch: Dispatch = Field(description="how a unit is chosen, and the dispatcher's decision time")
    fleet: Fleet = Field(description="patrol units' hourly roster and where idle units wait")
    travel: Annotated[StraightLineTravel | InstantTravel | NetworkTravel, Field(discriminator="kind")] = Field(
        description="how units drive to the scene: `straight_line`, `instant` or on the road `network`")
    network: Network | None = Field(
        default=None, description="the road network skeleton (needed by travel kind network, crashes and "
        "transit); null: none")
    traffic: Traffic | None = Field(
        default=None, description="link volumes and times on the network (needed with a network); null: none")
    crashes: Crashes | None = Field(
        default=None, description="traffic crashes on the network, each a 110 incident; null: no crashes")
    operations: Operations | None = Field(
        default=None, description="null: units do 110 work only, no look-ups, and incidents close when they clear")
    levers: Levers = Field(default_factory=Levers, description="smart levers; none by default (the baseline)")
    transit: Transit | None = Field(
        default=None, description="bus trunk lines in mixed traffic (needs network and traffic); none by default")

    @field_validator("districts")
    @classmethod
    def _districts(cls, districts: list[District]) -> list[District]:
        names = [d.name for d in districts]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"district names must be unique; repeated: {', '.join(duplicates)}")
        _check_sum_to_one([d.call_share for d in districts], "district call shares")
        if sum(d.units for d in districts) == 0:
            raise ValueError("at least one district must have units")
        return districts

    @property
    def category_names(self) -> list[str]:
        return list(self.demand.categories)


def _coordinate_problems(scenario: Scenario) -> list[tuple[KeyPath, str]]:
    """Coordinates far from the districts' median centre: a sign flip, swapped lat/lon, or km for degrees."""
    lat0 = sorted(d.lat for d in scenario.districts)[len(scenario.districts) // 2]
    lon0 = sorted(d.lon for d in scenario.districts)[len(scenario.districts) // 2]
    km_lon = KM_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0))
    points: list[tuple[KeyPath, float, float]] = []
    for i, d in enumerate(scenario.districts):
        points.append((("districts", i), d.lat, d.lon))
    if scenario.geography is not None and scenario.geography.density is not None:
        lat, lon = scenario.geography.density.centre
        points.append((("geography", "density", "centre"), lat, lon))
    network = scenario.network
    if network is not None:
        points.append((("network", "centre"), network.centre[0], network.centre[1]))
        for b, barrier in enumerate(network.barriers):
            points.extend((("network", "barriers", b, "points", k), p[0], p[1]) for k, p in enumerate(barrier.points))
            points.extend((("network", "barriers", b, "crossings", k), c.lat, c.lon)
                          for k, c in enumerate(barrier.crossings))
        points.extend((("network", "extra_nodes", k), n.lat, n.lon) for k, n in enumerate(network.extra_nodes))
    problems = []
    for key, lat, lon in points:
        far = math.hypot((lon - lon0) * km_lon, (lat - lat0) * KM_PER_DEG_LAT)
        if far > REGION_KM:
            problems.append((key, f"this point ([lat, lon] = [{lat:g}, {lon:g}]) lies {far:,.0f} km from the "
                             f"districts' median centre ({lat0:g}, {lon0:g}); expected within {REGION_KM:.0f} km. "
                             "Check for a flipped sign, swapped lat/lon, or a distance given in km."))
    return problems


def cross_field_problems(scenario: Scenario) -> list[tuple[KeyPath, str]]:
    """Problems that involve several parts of a scenario, each with the key path to edit.

    Kept out of the pydantic validators so that each problem can name its own key and line.
    """
    problems = _coordinate_problems(scenario) + _surge_overlaps(scenario.demand)
    staffed = isinstance(scenario.call_centre, StaffedCallCentre)
    for name, category in scenario.demand.categories.items():
        if staffed and category.talk is None:
            problems.append((("demand", "categories", name),
                             "expected a 'talk' distribution: call_centre.kind is 'staffed'."))
        if not staffed and category.talk is not None:
            problems.append((("demand", "categories", name, "talk"),
                             "call_centre.kind is 'none', so this talk time would be ignored; remove it."))
    if isinstance(scenario.travel, NetworkTravel):
        for block in ("network", "traffic"):
            if getattr(scenario, block) is None:
                problems.append(((block,), f"travel.kind is 'network', so a '{block}' block is required."))
    if scenario.transit is not None and (scenario.network is None or scenario.traffic is None):
        problems.append((("transit",), "buses run on the road network: add 'network' and 'traffic' blocks."))
    if scenario.crashes is not None:
        if scenario.network is None or scenario.traffic is None:
            problems.append((("crashes",), "crashes happen on the road network: add 'network' and 'traffic' blocks."))
        crash_category = scenario.demand.categories.get(scenario.crashes.category)
        if crash_category is None:
            problems.append((("crashes", "category"), f"'{scenario.crashes.category}' is not a demand category; "
                             f"expected one of: {', '.join(scenario.demand.categories)}."))
        elif crash_category.share != 0:
            problems.append((("demand", "categories", scenario.crashes.category, "share"),
                             "crash incidents come from the traffic layer (crashes.crashes_per_day), so this "
                             "category's share of ordinary calls must be 0."))
    if scenario.traffic is not None:
        names = {d.name for d in scenario.districts}
        for index, name in enumerate(scenario.traffic.parking.districts):
            if name not in names:
                problems.append((("traffic", "parking", "districts", index), f"'{name}' is not a district."))
    if scenario.network is not None:
        extra = [n.name for n in scenario.network.extra_nodes]
        for index, link in enumerate(scenario.network.extra_links):
            for end in ("from_node", "to_node"):
                if getattr(link, end) not in extra:
                    problems.append((("network", "extra_links", index, end),
                                     f"'{getattr(link, end)}' is not one of network.extra_nodes."))
    if scenario.operations is not None:
        listed, categories = set(scenario.operations.by_category), set(scenario.demand.categories)
        for name in sorted(categories - listed):
            problems.append((("operations", "by_category"), f"category '{name}' is missing; expected one entry per "
                             f"demand category: {', '.join(scenario.demand.categories)}."))
        for name in sorted(listed - categories):
            problems.append((("operations", "by_category", name), f"'{name}' is not a demand category."))
        too_many = task_start_problem(scenario.operations.other_work, sum(d.units for d in scenario.districts),
                                      scenario.run.horizon_min)
        if too_many is not None:
            problems.append((("operations", "other_work"), too_many))
    for name in ("community_diversion", "prevention"):
        lever = getattr(scenario.levers, name)
        for index, category in enumerate(lever.categories if lever is not None else []):
            if category not in scenario.demand.categories:
                problems.append((("levers", name, "categories", index), f"'{category}' is not a demand category."))
    problems.extend(_nonsense_problems(scenario))
    if scenario.dispatch.policy == "home_district":
        for index, district in enumerate(scenario.districts):
            if district.call_share > 0 and district.units == 0:
                problems.append((("districts", index, "units"),
                                 f"with dispatch.policy 'home_district', calls in {district.name} would never get "
                                 "a unit; give the district units, set its call_share to 0, or use policy 'nearest'."))
    return problems


def _surge_overlaps(demand: Demand) -> list[tuple[KeyPath, str]]:
    """An hour named by two surges: whether they multiply or one wins would be a guess, so it is an error."""
    problems: list[tuple[KeyPath, str]] = []
    first_surge: dict[int, int] = {}
    for index, surge in enumerate(demand.surges):
        shared = sorted(h for h in surge.hours if h in first_surge)
        if shared:
            problems.append((("demand", "surges", index, "hours"), f"hour(s) {', '.join(map(str, shared))} are "
                             f"already in demand.surges[{first_surge[shared[0]]}]; expected each clock hour in at "
                             "most one surge (give the hour one multiplier: the product, if both apply)."))
        for hour in surge.hours:
            first_surge.setdefault(hour, index)
    return problems


def _nonsense_problems(scenario: Scenario) -> list[tuple[KeyPath, str]]:
    """Valid-looking values whose run could only produce empty (NaN) KPIs: no unit ever on duty, or a KPI
    window in which not even one call is expected."""
    problems: list[tuple[KeyPath, str]] = []
    # The roster puts round(units x fraction) of a district's units on duty (police.fleet.apply_roster).
    on_duty = max(sum(round(d.units * f) for d in scenario.districts) for f in scenario.fleet.on_duty_fraction_by_hour)
    if on_duty == 0:
        problems.append((("fleet", "on_duty_fraction_by_hour"), "no unit is ever on duty: at every hour each "
                         "district's round(units x fraction) is 0, so no call could get a unit; expected a "
                         "positive fraction in some hour (1.0: all units on duty)."))
    window = scenario.run.duration_min - scenario.run.warmup_min
    crashes = scenario.crashes.crashes_per_day if scenario.crashes is not None else 0.0
    per_min = (scenario.demand.expected_calls_per_day + crashes) / 1440.0
    if window * per_min < 1:
        problems.append((("run", "duration_min"), f"the KPI window (duration_min - warmup_min = {window:.6g} min) is "
                         f"shorter than one mean interval between calls ({1 / per_min:,.4g} min), so no KPI could be "
                         "measured; expected a run long enough for calls to arrive (is it in hours or days?)."))
    return problems

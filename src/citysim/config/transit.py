"""The schema of bus trunk lines (`transit:` in a scenario) and the transit levers' registry.

A scenario without the block has no buses. The transit levers live inside the block
(`transit.levers`), not beside the police levers in `citysim.config.levers`: they act on buses and
passengers only, so the police levers' registry, sensitivity sweeps and smart.yaml's "every lever set"
rule stay as they are. Each transit lever has the same shape as a police lever (`{strength: s}`,
0 <= s <= 1, 0: no effect) and a sourced default and range in `TRANSIT_LEVERS`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from citysim.config.base import Probability, Strict
from citysim.config.levers import Lever, LeverInfo

NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
LatLon = Annotated[list[Annotated[float, Field(ge=-180, le=180)]], Field(min_length=2, max_length=2)]
ClockHour = Annotated[int, Field(ge=0, le=23)]


class TransitLevers(Strict):
    """The transit levers; a lever left out is off."""

    signal_priority: Lever | None = None
    bus_lanes: Lever | None = None
    realtime_info: Lever | None = None
    headway_holding: Lever | None = None


class BusLine(Strict):
    """One trunk line, run in both directions between two terminals on the arterial network."""

    name: str = Field(min_length=1)
    from_lat_lon: LatLon = Field(description="[lat, lon] of the first terminal (snapped to the nearest arterial node)")
    to_lat_lon: LatLon = Field(description="[lat, lon] of the other terminal")
    stop_spacing_km: float = Field(ge=0.2, le=3.0, description="distance between consecutive stops along the route")
    peak_headway_min: float = Field(ge=1, le=60, description="scheduled headway in `transit.peak_hours`")
    offpeak_headway_min: float = Field(ge=1, le=60, description="scheduled headway in the other service hours")
    boardings_per_day: NonNegative = Field(description="passengers boarding the line per day, both directions")
    bus_lane_km: Annotated[list[NonNegative], Field(min_length=2, max_length=2)] | None = Field(
        default=None, description="[from, to] km along the route (from the first terminal) where a bus lane can "
        "run; the `bus_lanes` lever opens the first `strength` share of it")

    @model_validator(mode="after")
    def _lane_ordered(self) -> BusLine:
        if self.bus_lane_km is not None and self.bus_lane_km[0] >= self.bus_lane_km[1]:
            raise ValueError("bus_lane_km must be [from, to] with from < to")
        return self


class Transit(Strict):
    """Bus trunk lines in mixed traffic, their stops, dwell, passengers and the transit levers."""

    lines: list[BusLine] = Field(min_length=1, max_length=50)
    service_hours: Annotated[list[ClockHour], Field(min_length=2, max_length=2)] = Field(
        description="[first, last] clock hour with departures from the terminals (inclusive)")
    peak_hours: list[ClockHour] = Field(description="clock hours run at the peak headway")
    boarding_share_by_hour: Annotated[list[NonNegative], Field(min_length=24, max_length=24)] = Field(
        description="share of a day's boardings in each clock hour (sums to 1)")
    bus_time_factor: float = Field(
        ge=1, le=5, description="a bus's running time between stops / a car's on the same link, signal delay apart")
    bus_lane_kmh: Positive = Field(description="bus running speed on a bus lane between stops, signal delay apart; "
                                   "independent of the general traffic's congestion (never slower than mixed traffic)")
    running_time_cv: NonNegative = Field(description="spread of a bus's time on one stop-to-stop segment")
    departure_cv: NonNegative = Field(description="spread of terminal departures, as a share of the headway")
    dwell_dead_s: NonNegative = Field(description="seconds a bus loses at a stop it serves, passengers apart "
                                      "(doors, pulling in and out)")
    boarding_s: NonNegative = Field(description="seconds per boarding passenger")
    accel_decel_s: NonNegative = Field(description="seconds lost braking into and accelerating out of a stop served")
    control_stop_every: int = Field(ge=1, le=100, description="every n-th stop (the first terminal included) is a "
                                    "control stop where headway holding may hold a bus")
    informed_margin_min: NonNegative = Field(
        description="minutes before the predicted bus an informed (real-time information) passenger arrives")
    uninformed_perception: float = Field(
        ge=1, le=3, description="perceived / measured wait of a passenger without real-time information")
    bunching_threshold: Probability = Field(
        description="a headway shorter than this share of the scheduled one counts as bunched")
    preemption_block_min: NonNegative = Field(
        description="minutes a signal is given to one pre-emption (with its recovery), when no bus priority runs")
    levers: TransitLevers = Field(default_factory=TransitLevers, description="transit levers; none by default")

    @model_validator(mode="after")
    def _checks(self) -> Transit:
        first, last = self.service_hours
        if first > last:
            raise ValueError("service_hours must be [first, last] with first <= last")
        total = sum(self.boarding_share_by_hour)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"boarding_share_by_hour must sum to 1; it sums to {total:.6g}")
        names = [line.name for line in self.lines]
        if len(set(names)) != len(names):
            raise ValueError("bus line names must be unique")
        return self


#: The transit levers' mechanisms, sourced defaults and ranges (the police levers': `citysim.config.levers`).
TRANSIT_LEVERS: dict[str, LeverInfo] = {
    "signal_priority": LeverInfo(
        "transit signal priority: this share of a bus's signal delay is removed, less the share of requests that "
        "meet a signal held by a police pre-emption (ASSUMPTION: pre-emption overrides priority)",
        0.33, 0.0, 0.5,
        "LA Metro Rapid: signal delay -33 %, about 8-10 % of run time (FTA Metro Rapid evaluation); one TCRP case "
        "-12.1 % AM run time (TCRP synthesis on bus speed, NAP 22421); Portland: benefits not consistent "
        "(Kimpel et al. 2005) and only a small share of requests reduced delay (Feng et al. 2015): low 0", 2015),
    "bus_lanes": LeverInfo(
        "bus lanes: this share of a line's `bus_lane_km` runs on a lane at `bus_lane_kmh`, independent of the "
        "general traffic", 0.9, 0.5, 1.0,
        "Yan'an Road line 71: 24 h median lane over the corridor except Xizang Road - the Bund (Japion 2017); "
        "17.0-17.9 km/h peak, ~20 % faster than general traffic (Jiefang Daily 2017); Wuzhong Road lane "
        "+25-42 % peak bus speed (Shine 2017); the share is an ASSUMPTION", 2017),
    "realtime_info": LeverInfo(
        "real-time arrival information: this share of passengers times its arrival `informed_margin_min` before "
        "the bus (instead of arriving at random) and perceives the wait as measured", 0.3, 0.1, 0.5,
        "OneBusAway users wait almost 2 min less and perceive 0.7 min (13 %) less; non-users overestimate their "
        "wait (Watkins et al. 2011); ~2 min lower usual wait (Brakewood et al. 2014); the informed share is an "
        "ASSUMPTION", 2014),
    "headway_holding": LeverInfo(
        "headway-based holding (Daganzo 2009): at control stops a bus leaves no sooner than strength x (scheduled "
        "- actual headway to the bus ahead) after its dwell; strength is the control gain alpha", 0.5, 0.2, 0.8,
        "Daganzo 2009 (analytic); WMATA field test: excess wait -26 % (Soza-Parra et al. 2019); schedule "
        "time points 'limited' (Feng & Figliozzi 2015); the gain is an ASSUMPTION", 2019),
}

"""The schema of bus trunk lines (`transit:` in a scenario).

A scenario without the block has no buses. The public-transport levers (`bus_signal_priority`,
`bus_lanes`, `bus_realtime_info`, `bus_holding`) sit with every other lever under `levers:`
(`citysim.config.levers`), so a claim check's smart twin gets them from the same smart-levers file.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from citysim.config.base import Probability, Strict

NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
LatLon = Annotated[list[Annotated[float, Field(ge=-180, le=180)]], Field(min_length=2, max_length=2)]
ClockHour = Annotated[int, Field(ge=0, le=23)]


class BusLine(Strict):
    """One trunk line, run in both directions between two terminals on the arterial network."""

    name: str = Field(description="the line's name (unique)", min_length=1)
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
    """Bus trunk lines in mixed traffic, their stops, dwell and passengers."""

    lines: list[BusLine] = Field(description="the trunk lines, one entry each", min_length=1, max_length=50)
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


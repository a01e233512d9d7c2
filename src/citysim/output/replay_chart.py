"""The replay of one city-day as an animation: one frame an hour, baseline and smart side by side, the
open incidents by priority (a ring while no unit is assigned, a dot once one is) and the units busy or
free, over the district land, the roads and the rivers of `map.csv`. Drawn from `replay.csv` alone.

Returns a matplotlib `FuncAnimation`; `citysim.output.figures` saves it as a GIF with matplotlib's
PillowWriter (Pillow is a dependency of matplotlib itself, so nothing is added).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.animation import FuncAnimation
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon

from citysim.output.maps import district_rings, draw_roads, draw_water, frame_lonlat

#: Incident colour by priority (Okabe & Ito; 1 = emergency); priorities beyond the last share its colour.
PRIORITY_COLOURS = ("#D55E00", "#CC79A7", "#009E73", "#56B4E9")
UNIT_COLOURS = {"busy": "#000000", "free": "#9a9a9a"}
LAND = "#f1f1ec"
FRAME_MS = 700  # each hour is shown this long


def _priority_colour(priority: int) -> str:
    return PRIORITY_COLOURS[min(max(priority, 1), len(PRIORITY_COLOURS)) - 1]


def _base_map(axis: Axes, layers: pd.DataFrame, title: str) -> None:
    for _, ring in district_rings(layers):
        axis.add_patch(Polygon(ring, closed=True, facecolor=LAND, edgecolor="white", lw=0.6, zorder=1))
    draw_roads(axis, layers, alpha=0.3)
    draw_water(axis, layers)
    land = layers[layers["layer"] == "district"]
    axis.set_xlim(land["lon"].min(), land["lon"].max())
    axis.set_ylim(land["lat"].min(), land["lat"].max())
    frame_lonlat(axis, layers)
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_title(title)


class _Panel:
    """One configuration's scatter layers, moved to each frame's positions."""

    def __init__(self, axis: Axes, rows: pd.DataFrame, priorities: list[int]) -> None:
        self.rows = rows
        self.axis = axis
        empty = np.empty((0, 2))
        self.units = {state: axis.scatter(empty[:, 0], empty[:, 1], s=3, color=colour, linewidths=0, zorder=5)
                      for state, colour in UNIT_COLOURS.items()}
        self.incidents: dict[tuple[int, bool], PathCollection] = {}
        for priority in priorities:
            colour = _priority_colour(priority)
            self.incidents[(priority, True)] = axis.scatter(empty[:, 0], empty[:, 1], s=22, facecolor="none",
                                                            edgecolor=colour, linewidths=1.0, zorder=7)
            self.incidents[(priority, False)] = axis.scatter(empty[:, 0], empty[:, 1], s=6, color=colour,
                                                             linewidths=0, zorder=6)
        self.counts = axis.text(0.01, 0.01, "", transform=axis.transAxes, fontsize=7, va="bottom", zorder=8,
                                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85})

    def show(self, frame: int) -> None:
        rows = self.rows[self.rows["frame"] == frame]
        units = rows[rows["kind"] == "unit"]
        for state, layer in self.units.items():
            layer.set_offsets(units.loc[units["state"] == state, ["lon", "lat"]].to_numpy())
        incidents = rows[rows["kind"] == "incident"]
        waiting = incidents["state"] == "waiting"
        for (priority, is_waiting), layer in self.incidents.items():
            chosen = incidents[(incidents["priority"] == priority) & (waiting == is_waiting)]
            layer.set_offsets(chosen[["lon", "lat"]].to_numpy())
        busy = int((units["state"] == "busy").sum())
        self.counts.set_text(f"open incidents {len(incidents):,} ({int(waiting.sum()):,} waiting for a unit)\n"
                             f"units busy {busy:,} of {len(units):,} on duty or on a job")


def _legend(figure: Figure, priorities: list[int]) -> None:
    handles = [Line2D([], [], ls="", marker="o", markersize=5, markerfacecolor="none",
                      markeredgecolor="#444444", label="incident waiting for a unit"),
               Line2D([], [], ls="", marker="o", markersize=3, color="#444444", label="incident with a unit"),
               *[Line2D([], [], ls="", marker="s", markersize=5, color=_priority_colour(p), label=f"priority {p}")
                 for p in priorities],
               *[Line2D([], [], ls="", marker="o", markersize=3, color=c, label=f"unit {s}")
                 for s, c in UNIT_COLOURS.items()]]
    figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4), frameon=False, fontsize=7)


@dataclass(frozen=True)
class ReplayChart:
    """The replay's figure, the frames it has, and `show(frame)`, which moves every layer to that hour."""

    figure: Figure
    frames: list[int]
    show: Callable[[int], None]


def replay_chart(replay: pd.DataFrame, layers: pd.DataFrame, situation: str) -> ReplayChart:
    """The situation's replication 0, baseline and smart side by side, ready to show any of its hours."""
    replay = replay[replay["situation"] == situation]
    replay = replay.assign(priority=pd.to_numeric(replay["priority"]).astype("Int64"))  # CSV reads it as text
    layers = layers[layers["situation"] == situation]
    configs = list(dict.fromkeys(replay["config"]))
    priorities = sorted(int(p) for p in replay["priority"].dropna().unique())
    figure = Figure(figsize=(5.0 * len(configs), 5.6), dpi=80, layout="constrained")
    figure.set_facecolor("white")
    axes = figure.subplots(1, len(configs), squeeze=False)[0]
    panels = []
    for axis, config in zip(axes, configs, strict=True):
        _base_map(axis, layers, config)
        panels.append(_Panel(axis, replay[replay["config"] == config], priorities))
    _legend(figure, priorities)
    clock = replay.groupby("frame")["clock_h"].first()
    title = figure.suptitle("")

    def show(frame: int) -> None:
        minutes = round(float(clock.loc[frame]) * 60) % (24 * 60)
        title.set_text(f"{situation}: replication 0 at {minutes // 60:02d}:{minutes % 60:02d}, "
                       "open incidents and units")
        for panel in panels:
            panel.show(frame)

    frames = [int(f) for f in clock.index]
    show(frames[0])
    return ReplayChart(figure, frames, show)


def replay_animation(replay: pd.DataFrame, layers: pd.DataFrame, situation: str) -> FuncAnimation:
    """The replay as an animation, one frame an hour."""
    chart = replay_chart(replay, layers, situation)
    return FuncAnimation(chart.figure, chart.show, frames=chart.frames, interval=FRAME_MS, repeat=True)

"""Maps of a situation drawn from the real district polygons of `map.csv` (WGS84 lon/lat): the
arrival-time choropleth, and the placement map (incident density, stations, posts). The lon/lat frame
(a km is as long east as north), the roads by class, the rivers and their crossings, the scale bar and
the north arrow are shared with the replay (`citysim.output.replay_chart`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize, TwoSlopeNorm, to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon
from matplotlib.patheffects import withStroke
from shapely.ops import polylabel

from citysim.output.style import BASELINE, NEUTRAL, new_figure, readable_text_colour, styled

KM_PER_DEG_LAT = 111.32
#: Line width (pt) and colour of each road class: expressways heavier.
ROAD_STYLE = {"expressway": (1.1, "#303030"), "arterial": (0.35, "#6f6f6f")}
WATER = "#2b83ba"
DISTRICT_EDGE = "white"
LABEL_PT = 6.5
NO_DATA = NEUTRAL


def _titled(situation: object, longest: int = 60) -> str:
    name = str(situation)
    return name if len(name) <= longest else name[: longest - 1].rstrip() + "…"


def km_per_deg_lon(lat: float) -> float:
    """Kilometres per degree of longitude at latitude `lat` (a sphere's; enough for drawing)."""
    return KM_PER_DEG_LAT * float(np.cos(np.radians(lat)))


def district_rings(layers: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """Each district ring as (district name, N x 2 array of lon, lat), in drawing order."""
    rings = layers[layers["layer"] == "district"]
    return [(str(part["name"].iloc[0]), part[["lon", "lat"]].to_numpy())
            for _, part in rings.groupby("group", sort=False)]


def frame_lonlat(axis: Axes, layers: pd.DataFrame) -> float:
    """Equal km on both axes of a lon/lat map (a degree of longitude is shorter than one of latitude); the
    mean latitude, which sets the scale."""
    lat0 = float(layers.loc[layers["layer"] == "district", "lat"].mean())
    axis.set_aspect(KM_PER_DEG_LAT / km_per_deg_lon(lat0), adjustable="box")
    return lat0


def draw_roads(axis: Axes, layers: pd.DataFrame, alpha: float = 1.0) -> list[Line2D]:
    """The road links by class, expressways heavier (one line collection a class); legend handles."""
    roads = layers[layers["layer"] == "road"]
    handles = []
    for road_class, (width, colour) in ROAD_STYLE.items():
        links = roads[roads["name"] == road_class]
        if links.empty:
            continue
        segments = links[["lon", "lat"]].to_numpy().reshape(-1, 2, 2)  # each link is a from and a to row
        # Expressways are cased in white, so that they read on a dark fill as well as on a pale one.
        cased = road_class == "expressway"
        casing = [withStroke(linewidth=width + 1.2, foreground="white", alpha=alpha)] if cased else []
        axis.add_collection(LineCollection(segments, linewidths=width, colors=colour, alpha=alpha, zorder=3,
                                           capstyle="round", path_effects=casing))
        handles.append(Line2D([], [], lw=width, color=colour, alpha=alpha, label=f"{road_class}s"))
    return handles


def draw_water(axis: Axes, layers: pd.DataFrame) -> list[Line2D]:
    """The barriers (rivers, shores) as lines and the bridges and tunnels over them as markers; legend handles."""
    handles = []
    barriers = layers[layers["layer"] == "barrier"]
    for _, line in barriers.groupby("group", sort=False):
        axis.plot(line["lon"], line["lat"], color=WATER, lw=1.6, alpha=0.8, zorder=2.5, solid_capstyle="round")
    if not barriers.empty:
        handles.append(Line2D([], [], color=WATER, lw=1.6, label="river or shore (barrier)"))
    crossings = layers[layers["layer"] == "crossing"]
    if not crossings.empty:
        axis.scatter(crossings["lon"], crossings["lat"], s=14, marker="D", facecolor="white", edgecolor=WATER,
                     linewidths=1.0, zorder=4)
        handles.append(Line2D([], [], ls="", marker="D", markersize=4, markerfacecolor="white",
                              markeredgecolor=WATER, label=f"bridge or tunnel ({len(crossings)})"))
    return handles


def scale_bar(axis: Axes, lat0: float, left: bool = True) -> None:
    """A bar of a round number of km in a lower corner (left or right), and a north arrow above it."""
    (x0, x1), (y0, y1) = axis.get_xlim(), axis.get_ylim()
    width_km = (x1 - x0) * km_per_deg_lon(lat0)
    km = next(k for k in (100, 50, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1) if k <= width_km / 5)
    span = km / km_per_deg_lon(lat0)
    start = x0 + 0.04 * (x1 - x0) if left else x1 - 0.04 * (x1 - x0) - span
    bottom = y0 + 0.04 * (y1 - y0)
    axis.plot([start, start + span], [bottom, bottom], color="black", lw=3, solid_capstyle="butt", zorder=6)
    axis.text(start, bottom + 0.015 * (y1 - y0), f"{km:g} km", fontsize=8, zorder=6)
    axis.annotate("", xy=(start, bottom + 0.15 * (y1 - y0)), xytext=(start, bottom + 0.07 * (y1 - y0)),
                  arrowprops={"arrowstyle": "-|>", "color": "black"}, zorder=6)
    axis.text(start, bottom + 0.16 * (y1 - y0), "N", ha="center", fontsize=9, weight="bold", zorder=6)


def district_arrival(districts: pd.DataFrame) -> pd.DataFrame:
    """Per district: the baseline and smart mean arrival (mean over replications of each run's district
    mean, as the claims are) and the reduction in percent."""
    means = districts.groupby(["district", "config"])["arrival_min"].mean().unstack("config")
    means = means.reindex(columns=["baseline", "smart"])
    return means.assign(reduction_pct=100.0 * (1.0 - means["smart"] / means["baseline"]))


def _colours(reduction: pd.Series) -> tuple[Any, Normalize]:
    """Sequential purples from 0 when no district got worse; brown (worse) to purple (better) around 0
    otherwise, so that the sign reads off the colour."""
    import matplotlib

    values = reduction.to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if low >= 0:
        return matplotlib.colormaps["Purples"], Normalize(0.0, max(high, 1.0))
    return matplotlib.colormaps["PuOr"], TwoSlopeNorm(0.0, low, max(high, -low / 10))


#: Share of a label's box that must lie on its district's land for the label to be drawn there (its halo,
#: in the district's fill, keeps it readable where a corner reaches over the border).
LABEL_ON_LAND = 0.95


def _land(rings: list[np.ndarray]) -> shapely.Geometry:
    """A district's land: the union of its rings."""
    return shapely.union_all([shapely.Polygon(ring) for ring in rings])


def _best_spot(land: shapely.Geometry, width: float, height: float) -> tuple[tuple[float, float], float]:
    """Where a box of this size (in degrees) lies most on the land: the pole of inaccessibility of the
    largest part, or a point of a 9 x 9 grid over it; the spot and the share of the box on land."""
    largest = max(shapely.get_parts(land), key=lambda p: p.area)
    pole = polylabel(largest, tolerance=1e-4)
    x0, y0, x1, y1 = largest.bounds
    grid_x, grid_y = np.meshgrid(np.linspace(x0, x1, 9), np.linspace(y0, y1, 9))
    spots = [(pole.x, pole.y), *zip(grid_x.ravel(), grid_y.ravel(), strict=True)]
    boxes = shapely.box([x - width / 2 for x, _ in spots], [y - height / 2 for _, y in spots],
                        [x + width / 2 for x, _ in spots], [y + height / 2 for _, y in spots])
    shares = shapely.area(shapely.intersection(boxes, land)) / (width * height)
    best = int(np.flatnonzero(shares >= shares.max() - 1e-9)[0])  # the first best: the pole when it is as good
    return spots[best], float(shares[best])


def district_choropleth(layers: pd.DataFrame, districts: pd.DataFrame, situation: str) -> Figure:
    """Each district's land filled by its arrival-time reduction, smart vs baseline, with a colour bar,
    over the roads by class, the rivers and their crossings; each label gives the baseline and smart
    minutes and the reduction, in black or white by the fill's luminance (WCAG contrast >= 4.5). A label
    too big for its district goes to a column beside the map, on a swatch of the district's fill, with a
    leader line."""
    layers = layers[layers["situation"] == situation]
    values = district_arrival(districts[districts["situation"] == situation])
    cmap, norm = _colours(values["reduction_pct"])
    figure = Figure(figsize=(9.4, 7.8), dpi=110)
    figure.set_facecolor("white")
    axis = figure.add_axes((0.02, 0.11, 0.80, 0.81))
    rings_of: dict[str, list[np.ndarray]] = {}
    for name, ring in district_rings(layers):
        rings_of.setdefault(name, []).append(ring)
    fills = {}
    for name, rings in rings_of.items():
        value = values["reduction_pct"].get(name, np.nan)
        fills[name] = to_hex(cmap(norm(value))) if np.isfinite(value) else NO_DATA
        for ring in rings:
            axis.add_patch(Polygon(ring, closed=True, facecolor=fills[name], edgecolor=DISTRICT_EDGE, lw=0.8,
                                   zorder=1, gid=f"district:{name}"))
    handles = draw_roads(axis, layers, alpha=0.75) + draw_water(axis, layers)
    lon, lat = layers.loc[layers["layer"] == "district", "lon"], layers.loc[layers["layer"] == "district", "lat"]
    lands = {name: _land(rings) for name, rings in rings_of.items()}
    texts = {name: _district_text(name, values) for name in rings_of}
    margin, column = 0.03 * (lon.max() - lon.min()), 0.2 * (lon.max() - lon.min())  # the callouts' column
    # The column goes west or east; the span, and so the scale the labels are fitted at, is the same.
    axis.set_xlim(lon.min() - margin - column, lon.max() + margin)
    axis.set_ylim(lat.min() - margin, lat.max() + margin)
    lat0 = frame_lonlat(axis, layers)
    axis.apply_aspect()
    anchors, callouts = _label_districts(axis, lands, texts, fills)
    west = not callouts or np.mean([anchors[n][0] for n in callouts]) < (lon.min() + lon.max()) / 2
    if not west:
        axis.set_xlim(lon.min() - margin, lon.max() + margin + column)
    _place_callouts(axis, callouts, anchors, texts, fills, lon.min() - margin / 2 if west else lon.max() + margin / 2,
                    west)
    axis.axis("off")
    scale_bar(axis, lat0, left=not west)
    colour_bar = figure.colorbar(ScalarMappable(norm, cmap), cax=figure.add_axes((0.86, 0.30, 0.022, 0.45)))
    colour_bar.set_label("arrival-time reduction, smart vs baseline (%)")
    if NO_DATA in fills.values():
        handles.append(Polygon([(0, 0)], facecolor=NO_DATA, label="no police cases"))
    figure.legend(handles=handles, loc="lower center", ncols=len(handles), frameon=False, fontsize=8)
    figure.suptitle(f"{_titled(situation)}: arrival time (call to first unit on scene) by district, "
                    "baseline \u2192 smart minutes and reduction", fontsize=10)
    return figure


def _label_districts(axis: Axes, lands: dict[str, shapely.Geometry], texts: dict[str, str],
                     fills: dict[str, str]) -> tuple[dict[str, tuple[float, float]], list[str]]:
    """Label each district on its land where the label fits (>= LABEL_ON_LAND of it on the land), in black or
    white by its fill and with a halo of the fill; the anchor of every label, and the districts that need a
    callout instead."""
    renderer = FigureCanvasAgg(axis.figure).get_renderer()
    anchors, callouts = {}, []
    for name, land in lands.items():
        text = axis.text(0.0, 0.0, texts[name], ha="center", va="center", fontsize=LABEL_PT, zorder=7,
                         color=readable_text_colour(fills[name]), gid=f"district:{name}",
                         path_effects=[withStroke(linewidth=3, foreground=fills[name])])
        box = text.get_window_extent(renderer).transformed(axis.transData.inverted())
        anchors[name], share = _best_spot(land, box.width, box.height)
        if share >= LABEL_ON_LAND:
            text.set_position(anchors[name])
        else:
            text.remove()
            callouts.append(name)
    return anchors, callouts


def _district_text(name: str, values: pd.DataFrame) -> str:
    label = name.replace(" New Area", "")
    if name not in values.index or not np.isfinite(values.loc[name, "reduction_pct"]):
        return label
    row = values.loc[name]
    return f"{label}\n{row['baseline']:.1f}\u2192{row['smart']:.1f} min\n{row['reduction_pct']:.0f} %"


def _place_callouts(axis: Axes, names: list[str], anchors: dict[str, tuple[float, float]], texts: dict[str, str],
                    fills: dict[str, str], column_x: float, west: bool) -> None:
    """Labels stacked in a column at `column_x` (west or east of the map) in north-to-south order, each on a
    swatch of its district's fill, with a leader line to its district."""
    if not names:
        return
    y0, y1 = axis.get_ylim()
    names = sorted(names, key=lambda n: -anchors[n][1])
    step = min(0.085 * (y1 - y0), 0.9 * (y1 - y0) / len(names))
    middle = float(np.mean([anchors[n][1] for n in names]))
    top = min(middle + step * (len(names) - 1) / 2, y1 - step / 2)
    for index, name in enumerate(names):
        x, y = anchors[name]
        label_y = top - index * step
        axis.annotate(texts[name], xy=(x, y), xytext=(column_x, label_y), ha="right" if west else "left",
                      va="center", fontsize=LABEL_PT, color=readable_text_colour(fills[name]), zorder=6.5,
                      gid=f"district:{name}",
                      bbox={"boxstyle": "round,pad=0.3", "facecolor": fills[name], "edgecolor": "#444444", "lw": 0.5},
                      arrowprops={"arrowstyle": "-", "color": "#222222", "lw": 0.6, "shrinkA": 0, "shrinkB": 0})
        axis.plot(x, y, "o", color="#222222", markersize=2, zorder=6)


def city_map(layers: pd.DataFrame, situation: str) -> Figure:
    """Incident density (replication 0) over the district land, with the road network, stations and
    patrol posts: for checking placement by eye."""
    data = layers[layers["situation"] == situation]
    figure = new_figure(7.0, 7.0)
    axis = figure.subplots()
    for _, ring in district_rings(data):
        axis.plot(ring[:, 0], ring[:, 1], color="#777777", lw=0.6, zorder=2)
    draw_roads(axis, data, alpha=0.35)
    incidents = data[data["layer"] == "incident"]
    if len(incidents):
        hexes = axis.hexbin(incidents["lon"], incidents["lat"], gridsize=90, bins="log", mincnt=1, cmap="YlOrRd",
                            linewidths=0, zorder=0)
        figure.colorbar(hexes, ax=axis, shrink=0.6, label="incidents per hexagon (log scale)")
    for layer, marker, colour, label in (("post", ".", BASELINE, "patrol posts"),
                                         ("station", "^", "black", "police stations")):
        points = data[data["layer"] == layer]
        axis.scatter(points["lon"], points["lat"], s=4 if layer == "post" else 10, marker=marker, color=colour,
                     label=f"{label} ({len(points):,})", zorder=4, linewidths=0)
    frame_lonlat(axis, data)
    axis.set_xlabel("longitude (WGS84)")
    axis.set_ylabel("latitude (WGS84)")
    axis.legend(loc="lower left", frameon=False, fontsize=8)
    axis.set_title(f"{_titled(situation)}: incidents of replication 0, stations and posts on district land and roads")
    return styled(figure)

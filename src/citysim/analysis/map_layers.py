"""The map of a situation as one tidy table: district land, roads, stations, posts and one replication's
incidents, all in WGS84 lon/lat, so that the map can be redrawn from a results folder alone.

Rows are points: `layer` says what they are (district, road, barrier, crossing, station, post,
forecast_post, incident), `group` which polygon ring, road link or barrier line a vertex belongs to (in
drawing order), `name` the district, road class (expressway, arterial), barrier (a river), crossing
(the bridge or tunnel over a barrier: the network's crossing node, `RoadNetwork.node_crossing`) or the
incident's category.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from citysim.city.context import city_context
from citysim.city.network import CLASS_NAMES
from citysim.config.schema import Scenario
from citysim.simulation.model import CityModel

MAP_COLUMNS = ["situation", "layer", "group", "name", "lon", "lat"]


def map_table(scenario: Scenario, situation: str) -> pd.DataFrame:
    """Every layer of the situation's map; incidents are replication 0's (its pre-drawn plan)."""
    model = CityModel(scenario, 0)
    grid, projection = model.grid, model.grid.projection
    frames = []

    def add(layer: str, x: np.ndarray, y: np.ndarray, group: np.ndarray, name: np.ndarray | str) -> None:
        lat, lon = projection.to_deg(x, y)
        frames.append(pd.DataFrame({"layer": layer, "group": group, "name": name, "lon": lon, "lat": lat}))

    ring = 0
    for district, polygon in zip(grid.names, grid.polygons, strict=True):
        for part in shapely.get_parts(polygon):
            xy = shapely.get_coordinates(shapely.get_exterior_ring(part))
            add("district", xy[:, 0], xy[:, 1], np.full(len(xy), ring), district)
            ring += 1
    if scenario.network is not None and scenario.traffic is not None:
        network = city_context(scenario, grid).network
        one_way = network.arc_from < network.arc_to
        a, b = network.arc_from[one_way], network.arc_to[one_way]
        links = np.arange(a.size)
        add("road", np.column_stack([network.node_x[a], network.node_x[b]]).ravel(),
            np.column_stack([network.node_y[a], network.node_y[b]]).ravel(), np.repeat(links, 2),
            np.repeat(np.array(CLASS_NAMES)[network.arc_class[one_way]], 2))
        for number, (barrier, line) in enumerate(zip(scenario.network.barriers, network.barrier_lines, strict=True)):
            add("barrier", line[:, 0], line[:, 1], np.full(len(line), number), barrier.name)
        middles = np.flatnonzero(network.node_crossing >= 0)
        add("crossing", network.node_x[middles], network.node_y[middles], np.arange(middles.size),
            np.array(network.crossing_names, dtype=object)[network.node_crossing[middles]])
    for layer, sites in (("station", model.sites.stations), ("post", model.sites.posts),
                         ("forecast_post", model.sites.forecast_posts)):
        add(layer, sites.x, sites.y, np.arange(sites.x.size), np.array(grid.names)[sites.district])
    plan = model.plan
    add("incident", plan.x_km, plan.y_km, np.arange(plan.size), np.array(scenario.category_names)[plan.category])
    return pd.concat(frames, ignore_index=True).assign(situation=situation)[MAP_COLUMNS]

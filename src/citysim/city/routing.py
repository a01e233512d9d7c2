"""Shortest paths on the road network: travel-time matrices and the arcs of a route.

All-pairs Dijkstra (scipy.sparse.csgraph) on a few hundred nodes takes milliseconds; matrices are
cached per traffic state (free flow, each clock hour's typical traffic) and routes per matrix.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from citysim.arrays import FloatArray, IntArray
from citysim.city.network import RoadNetwork

NO_PATH = -9999


class Router:
    """Travel-time matrices and routes for one set of arc times."""

    def __init__(self, network: RoadNetwork, arc_minutes: FloatArray) -> None:
        n = network.n_nodes
        graph = csr_matrix((arc_minutes, (network.arc_from, network.arc_to)), shape=(n, n))
        self.minutes, self._predecessors = dijkstra(graph, directed=True, return_predecessors=True)
        self._arc_index = csr_matrix(
            (np.arange(1, network.n_arcs + 1), (network.arc_from, network.arc_to)), shape=(n, n)
        ).toarray()
        self._routes: dict[tuple[int, int], IntArray] = {}

    def route(self, origin: int, destination: int) -> IntArray:
        """Arc indices of the shortest path from origin to destination (empty if they are equal)."""
        key = (origin, destination)
        arcs = self._routes.get(key)
        if arcs is None:
            predecessors = self._predecessors[origin]
            nodes = [destination]
            while nodes[-1] != origin:
                previous = int(predecessors[nodes[-1]])
                if previous == NO_PATH:
                    raise ValueError(f"no path from node {origin} to node {destination}")
                nodes.append(previous)
            nodes.reverse()
            arcs = self._arc_index[nodes[:-1], nodes[1:]] - 1
            self._routes[key] = arcs
        return arcs

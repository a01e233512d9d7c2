"""Shortest paths on the road network: travel-time matrices and the arcs of a route.

All-pairs Dijkstra (scipy.sparse.csgraph) on a few hundred nodes takes milliseconds; matrices are
cached per traffic state (free flow, each clock hour's typical traffic) and routes, with the lengths
a trip needs, per matrix.
"""

from __future__ import annotations

from typing import NamedTuple

from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from citysim.arrays import FloatArray, IntArray
from citysim.city.network import ARTERIAL, RoadNetwork

NO_PATH = -9999


class Leg(NamedTuple):
    """A shortest path's arcs and what a trip needs of them: road km, arterial km, and the first barrier
    crossing it uses (-1: none)."""

    arcs: IntArray
    km: float
    arterial_km: float
    crossing: int


class Router:
    """Travel-time matrices and routes for one set of arc times.

    `lazy`: routes only, each origin's shortest-path tree computed when a route from it is first asked
    for (the same Dijkstra, so the same routes). A router for one traffic refresh serves a few hundred
    trips from about a third of the nodes, so this is cheaper than all pairs; it has no `minutes`.
    """

    def __init__(self, network: RoadNetwork, arc_minutes: FloatArray, lazy: bool = False) -> None:
        n = network.n_nodes
        self._graph = csr_matrix((arc_minutes, (network.arc_from, network.arc_to)), shape=(n, n))
        self._trees: dict[int, IntArray] = {}
        if not lazy:
            self.minutes, predecessors = dijkstra(self._graph, directed=True, return_predecessors=True)
            self._trees = dict(enumerate(predecessors))
        self._network = network
        self._legs: dict[tuple[int, int], Leg] = {}

    def _tree(self, origin: int) -> IntArray:
        tree = self._trees.get(origin)
        if tree is None:
            _, tree = dijkstra(self._graph, directed=True, indices=origin, return_predecessors=True)
            self._trees[origin] = tree
        return tree

    def route(self, origin: int, destination: int) -> IntArray:
        """Arc indices of the shortest path from origin to destination (empty if they are equal)."""
        return self.leg(origin, destination).arcs

    def leg(self, origin: int, destination: int) -> Leg:
        """The shortest path from origin to destination with its lengths (worked out once per pair)."""
        key = (origin, destination)
        leg = self._legs.get(key)
        if leg is None:
            predecessors = self._tree(origin)
            nodes = [destination]
            while nodes[-1] != origin:
                previous = int(predecessors[nodes[-1]])
                if previous == NO_PATH:
                    raise ValueError(f"no path from node {origin} to node {destination}")
                nodes.append(previous)
            nodes.reverse()
            network = self._network
            arcs = network.arc_index[nodes[:-1], nodes[1:]] - 1
            arc_km = network.arc_km[arcs]
            crossings = network.arc_crossing[arcs]
            used = crossings[crossings >= 0]
            leg = Leg(arcs, float(arc_km.sum()), float(arc_km[network.arc_class[arcs] == ARTERIAL].sum()),
                      int(used[0]) if used.size else -1)
            self._legs[key] = leg
        return leg

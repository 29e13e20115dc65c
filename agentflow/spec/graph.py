"""A workflow's tasks as a directed graph: an edge runs from a task to each task that needs it.

Ordering and cycle checks use the standard library's graphlib.TopologicalSorter; reaching
(has_path, descendants) is a breadth-first walk. networkx, which takes a tenth of a second
to import, is loaded only to explain cycles (`to_networkx`), never on a valid workflow.
"""

from __future__ import annotations

import graphlib
from collections import deque
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx


class TaskGraph:
    def __init__(self, nodes: Iterable[str], edges: Iterable[tuple[str, str]] = ()) -> None:
        self._successors: dict[str, dict[str, None]] = {node: {} for node in nodes}
        self._predecessors: dict[str, dict[str, None]] = {node: {} for node in self._successors}
        for source, target in edges:
            self._successors[source][target] = None
            self._predecessors[target][source] = None

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self._successors)

    def successors(self, node: str) -> Iterable[str]:
        return self._successors[node].keys()

    def predecessors(self, node: str) -> Iterable[str]:
        return self._predecessors[node].keys()

    def in_degree(self, node: str) -> int:
        return len(self._predecessors[node])

    def with_edges(self, edges: Iterable[tuple[str, str]]) -> TaskGraph:
        """A copy with more edges."""
        graph = TaskGraph(self._successors)
        for source, targets in self._successors.items():
            for target in targets:
                graph._add(source, target)
        for source, target in edges:
            graph._add(source, target)
        return graph

    def _add(self, source: str, target: str) -> None:
        self._successors[source][target] = None
        self._predecessors[target][source] = None

    def generations(self) -> list[list[str]] | None:
        """The tasks in topological generations (each one's needs all in earlier ones), or
        None when the graph has a cycle."""
        sorter = graphlib.TopologicalSorter(_as_needs(self._predecessors))
        try:
            sorter.prepare()
        except graphlib.CycleError:
            return None
        generations = []
        while sorter.is_active():
            ready = list(sorter.get_ready())
            sorter.done(*ready)
            generations.append(ready)
        return generations

    def is_acyclic(self) -> bool:
        return self.generations() is not None

    def has_path(self, source: str, target: str) -> bool:
        if source not in self._successors or target not in self._successors:
            return False
        return source == target or target in self.descendants(source)

    def descendants(self, source: str) -> set[str]:
        seen: set[str] = set()
        queue = deque(self._successors[source])
        while queue:
            node = queue.popleft()
            if node not in seen:
                seen.add(node)
                queue.extend(self._successors[node])
        return seen

    def to_networkx(self) -> nx.DiGraph:
        """The same graph in networkx, for the analyses only a broken workflow needs."""
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from(self._successors)
        graph.add_edges_from((s, t) for s, targets in self._successors.items() for t in targets)
        return graph


def _as_needs(predecessors: Mapping[str, Mapping[str, None]]) -> dict[str, Iterable[str]]:
    return {node: needs.keys() for node, needs in predecessors.items()}

"""A workflow's tasks as a directed graph: an edge runs from a task to each task that needs it.

Ordering and cycle checks use the standard library's graphlib.TopologicalSorter; reaching
(has_path, descendants) is a breadth-first walk; many questions of reaching at once
(`reachable`) take time linear in the graph's size, whatever their number. networkx, which
takes a tenth of a second to import, is loaded only for a graph with a cycle, never on a
valid workflow.
"""

from __future__ import annotations

import graphlib
from collections import deque
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx


_UNKNOWN = object()
SHORT_WALK = 64  # steps of the walk back from a target before the bit passes take over
SOURCES_PER_PASS = 1024  # sources whose bits one pass carries (an int of that many bits)


class TaskGraph:
    def __init__(self, nodes: Iterable[str], edges: Iterable[tuple[str, str]] = ()) -> None:
        self._successors: dict[str, dict[str, None]] = {node: {} for node in nodes}
        self._predecessors: dict[str, dict[str, None]] = {node: {} for node in self._successors}
        for source, target in edges:
            self._successors[source][target] = None
            self._predecessors[target][source] = None
        self._generations: object = _UNKNOWN

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
        self._generations = _UNKNOWN

    def generations(self) -> list[list[str]] | None:
        """The tasks in topological generations (each one's needs all in earlier ones), or
        None when the graph has a cycle. Worked out once: every stage asks."""
        if self._generations is _UNKNOWN:
            self._generations = self._sorted_generations()
        return self._generations  # type: ignore[return-value]

    def _sorted_generations(self) -> list[list[str]] | None:
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

    def reachable(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """The (source, target) pairs with a path from source to target (or source ==
        target). Most are settled by a short walk back from the target (a reference to a
        need's need); the rest by passing a bit per source along the graph in topological
        order, SOURCES_PER_PASS sources a pass: linear in the graph's size per pass."""
        pairs = [(s, t) for s, t in pairs if s in self._successors and t in self._successors]
        if not pairs:
            return set()
        generations = self.generations()
        if generations is None:
            return self._reachable_through_components(pairs)
        level = {node: i for i, generation in enumerate(generations) for node in generation}
        found: set[tuple[str, str]] = set()
        pending: list[tuple[str, str]] = []
        for source, target in pairs:
            settled = self._short_walk(source, target, level)
            if settled is None:
                pending.append((source, target))
            elif settled:
                found.add((source, target))
        order = [node for generation in generations for node in generation]
        sources = list(dict.fromkeys(source for source, _ in pending))
        for start in range(0, len(sources), SOURCES_PER_PASS):
            bits = {s: 1 << i for i, s in enumerate(sources[start : start + SOURCES_PER_PASS])}
            masks = self._pass_bits(order, bits)
            found.update((s, t) for s, t in pending if s in bits and masks.get(t, 0) & bits[s])
        return found

    def _short_walk(self, source: str, target: str, level: Mapping[str, int]) -> bool | None:
        """Whether target is reached from source, by walking back from target through the
        levels after source's; None when that takes more than SHORT_WALK steps."""
        if source == target:
            return True
        floor = level[source]
        if floor >= level[target]:
            return False
        seen = {target}
        stack = [target]
        while stack:
            for node in self._predecessors[stack.pop()]:
                if node == source:
                    return True
                if node not in seen and level[node] > floor:
                    if len(seen) >= SHORT_WALK:
                        return None
                    seen.add(node)
                    stack.append(node)
        return False

    def _pass_bits(self, order: list[str], bits: Mapping[str, int]) -> dict[str, int]:
        """For each node, the bits of the sources that reach it (an int as a bit set)."""
        masks: dict[str, int] = {}
        for node in order:
            mask = bits.get(node, 0)
            for parent in self._predecessors[node]:
                mask |= masks.get(parent, 0)
            if mask:
                masks[node] = mask
        return masks

    def _reachable_through_components(self, pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """`reachable` on a graph with cycles: on its strongly connected components, each
        one node of an acyclic graph (a broken workflow only)."""
        import networkx as nx

        condensed = nx.condensation(self.to_networkx())
        member = condensed.graph["mapping"]
        components = TaskGraph(
            (str(c) for c in condensed.nodes), ((str(a), str(b)) for a, b in condensed.edges)
        )
        reached = components.reachable((str(member[s]), str(member[t])) for s, t in pairs)
        return {(s, t) for s, t in pairs if (str(member[s]), str(member[t])) in reached}

    def to_networkx(self) -> nx.DiGraph:
        """The same graph in networkx, for the analyses only a broken workflow needs."""
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from(self._successors)
        graph.add_edges_from((s, t) for s, targets in self._successors.items() for t in targets)
        return graph


def _as_needs(predecessors: Mapping[str, Mapping[str, None]]) -> dict[str, Iterable[str]]:
    return {node: needs.keys() for node, needs in predecessors.items()}

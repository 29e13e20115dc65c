"""The shape of a run: waves, how long the rest of the run is from each task, the critical
path. Each task's weight is its estimated duration (plan.build)."""

from __future__ import annotations

from collections.abc import Mapping

from agentflow.spec.graph import TaskGraph
from agentflow.spec.workflow import Workflow


def ordering_graph(workflow: Workflow) -> TaskGraph:
    """The needs graph plus an edge from each task that may set a key to each task that
    waits for it: a waiter starts after a setter, so waves, the critical path and the
    priorities must say so. The needs graph itself when no task waits (the common, large
    case)."""
    graph = workflow.graph
    waiters = [t for t in workflow.tasks.values() if t.waits_for]
    if not waiters:
        return graph
    setters: dict[str, list[str]] = {}  # key -> the tasks that declare they set it
    for task in workflow.tasks.values():
        for key in task.sets:
            setters.setdefault(key, []).append(task.id)
    candidates = [
        (setter, waiter.id)
        for waiter in waiters
        for key in waiter.waits_for
        for setter in setters.get(key, ())
    ]
    # A setter the waiter reaches (itself, or downstream of it) cannot run before it.
    after = graph.reachable((waiter, setter) for setter, waiter in candidates)
    edges = [(setter, waiter) for setter, waiter in candidates if (waiter, setter) not in after]
    ordered = graph.with_edges(edges)
    # validate refuses cycles of waits; should one slip through, order by needs alone.
    return ordered if ordered.is_acyclic() else graph


def waves(graph: TaskGraph, file_order: Mapping[str, int]) -> tuple[tuple[str, ...], ...]:
    """Topological generations, each in file order (validation has refused cycles)."""
    generations = graph.generations()
    assert generations is not None, "the needs have a cycle: validate first"
    return tuple(tuple(sorted(g, key=file_order.__getitem__)) for g in generations)


def remaining_seconds(
    graph: TaskGraph, waves: tuple[tuple[str, ...], ...], seconds: Mapping[str, float]
) -> dict[str, float]:
    """For each task, the longest chain of durations from it to the end, itself included."""
    remaining: dict[str, float] = {}
    for wave in reversed(waves):
        for tid in wave:
            after = max((remaining[s] for s in graph.successors(tid)), default=0.0)
            remaining[tid] = seconds[tid] + after
    return remaining


def critical_path(graph: TaskGraph, remaining: Mapping[str, float]) -> tuple[str, ...]:
    roots = [t for t in remaining if graph.in_degree(t) == 0]
    if not roots:
        return ()
    path = [max(roots, key=lambda t: remaining[t])]
    while True:
        successors = list(graph.successors(path[-1]))
        if not successors:
            return tuple(path)
        path.append(max(successors, key=lambda t: remaining[t]))

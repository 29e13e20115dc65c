"""Generated DAG workflows with a hidden latency per task, and their makespan lower bound.

Used by `benchmarks/scheduling.py`. Every prompt starts with a `[task ID]` marker so the
fake server can look up how long that task takes; nothing in the workflow file (its
`max_tokens` least of all) depends on the latencies, so the plan cannot see them.
"""

from __future__ import annotations

import heapq
import math
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MARKER = re.compile(r"\[task ([a-z0-9_-]+)\]")
MAX_LATENCY = 3.0  # seconds

Sampler = Callable[[random.Random], float]


@dataclass(frozen=True)
class Dag:
    name: str
    needs: dict[str, list[str]]  # in topological (file) order
    latency: dict[str, float]  # seconds each task's model call takes

    @property
    def size(self) -> int:
        return len(self.needs)


def uniform(low: float, high: float) -> Sampler:
    return lambda rng: rng.uniform(low, high)


def pareto(minimum: float = 0.05, alpha: float = 0.9, maximum: float = MAX_LATENCY) -> Sampler:
    """Heavy-tailed: P(latency > x) = (minimum / x) ** alpha, clipped to `maximum`."""
    return lambda rng: min(maximum, minimum * (1.0 - rng.random()) ** (-1.0 / alpha))


def lognormal(median: float, sigma: float, maximum: float) -> Sampler:
    """Heavy-tailed: log(latency) is normal around log(median), clipped to `maximum`."""
    return lambda rng: min(maximum, rng.lognormvariate(math.log(median), sigma))


def zero(rng: random.Random) -> float:
    return 0.0


def wide(name: str, tasks: int, latency: Sampler, seed: int = 1) -> Dag:
    """`tasks` independent tasks."""
    rng = random.Random(seed)
    ids = [f"t{i}" for i in range(tasks)]
    return Dag(name, {t: [] for t in ids}, {t: latency(rng) for t in ids})


def layered(name: str, layers: int, width: int, latency: Sampler, seed: int = 1) -> Dag:
    """`layers` x `width` tasks; each needs 1-3 random tasks of the layer before it."""
    rng = random.Random(seed)
    needs: dict[str, list[str]] = {}
    previous: list[str] = []
    for layer in range(layers):
        current = [f"t{layer * width + i}" for i in range(width)]
        for tid in current:
            count = min(len(previous), rng.randint(1, 3))
            needs[tid] = sorted(rng.sample(previous, count), key=lambda t: int(t[1:]))
        previous = current
    return Dag(name, needs, {t: latency(rng) for t in needs})


def to_yaml(dag: Dag, *, seed: int = 1, concurrency: int = 5) -> str:
    """The workflow file. Each task's `max_tokens` is drawn at random (256-2048), apart
    from its latency, as a user's settings would be; every other task reads its first
    need's output in its prompt, and every prompt names the input `topic` (a new topic is
    a new request, so a re-run on a new topic misses the response cache)."""
    rng = random.Random(seed * 7919)
    lines = [
        "version: 1",
        f"name: {dag.name}",
        f"concurrency: {concurrency}",
        "inputs: {topic: {default: owls}}",
        "defaults: {model: haiku, retries: 0}",
        "tasks:",
    ]
    for index, (tid, deps) in enumerate(dag.needs.items()):
        ref = f" Earlier: {{{{ tasks.{deps[0]}.output }}}}" if deps and index % 2 == 0 else ""
        lines += [
            f"  {tid}:",
            f"    max_tokens: {rng.choice((256, 512, 1024, 2048))}",
            f"    needs: [{', '.join(deps)}]",
            f'    prompt: "[task {tid}] Step {index} of {dag.name}'
            f' on {{{{ inputs.topic }}}}.{ref}"',
        ]
    return "\n".join(lines) + "\n"


def critical_path(dag: Dag) -> float:
    """The longest chain of latencies through the DAG."""
    finish: dict[str, float] = {}
    for tid, deps in dag.needs.items():  # needs are listed in topological order
        finish[tid] = max((finish[d] for d in deps), default=0.0) + dag.latency[tid]
    return max(finish.values(), default=0.0)


def lower_bound(dag: Dag, concurrency: int) -> tuple[float, str]:
    """max(critical path, total work / concurrency), and which of the two it is."""
    path = critical_path(dag)
    work = sum(dag.latency.values()) / concurrency
    return (path, "path") if path >= work else (work, "work")


def remaining(dag: Dag, weight: Mapping[str, float]) -> dict[str, float]:
    """Each task's longest path to the end, itself included, by `weight`: the priority
    the engine's ready queue gives it."""
    after: dict[str, float] = {}
    dependents: dict[str, list[str]] = {t: [] for t in dag.needs}
    for tid, deps in dag.needs.items():
        for dep in deps:
            dependents[dep].append(tid)
    for tid in reversed(list(dag.needs)):
        after[tid] = weight[tid] + max((after[d] for d in dependents[tid]), default=0.0)
    return after


def simulated_makespan(
    dag: Dag, concurrency: int, priority: Mapping[str, float], waves: bool
) -> float:
    """The makespan the engine's policy would reach with zero overhead: list scheduling by
    `priority` (highest first, ties in `dag` order), releasing a task when its needs are
    done, or with `waves` only once every task of the previous generation is done."""
    level: dict[str, int] = {}
    dependents: dict[str, list[str]] = {t: [] for t in dag.needs}
    for tid, deps in dag.needs.items():
        level[tid] = max((level[d] + 1 for d in deps), default=0)
        for dep in set(deps):
            dependents[dep].append(tid)
    order = {tid: i for i, tid in enumerate(dag.needs)}
    waiting = {tid: len(set(deps)) for tid, deps in dag.needs.items()}
    left_in_level = [0] * (max(level.values(), default=0) + 1)
    for value in level.values():
        left_in_level[value] += 1
    open_level, held = 0, []
    ready: list[tuple[float, int, str]] = []
    running: list[tuple[float, str]] = []

    def release(tid: str) -> None:
        if waves and level[tid] > open_level:
            held.append(tid)
        else:
            heapq.heappush(ready, (-priority[tid], order[tid], tid))

    for tid, count in waiting.items():
        if count == 0:
            release(tid)
    now = 0.0
    while ready or running:
        while ready and len(running) < concurrency:
            tid = heapq.heappop(ready)[2]
            heapq.heappush(running, (now + dag.latency[tid], tid))
        now, tid = heapq.heappop(running)
        left_in_level[level[tid]] -= 1
        while open_level < len(left_in_level) and left_in_level[open_level] == 0:
            open_level += 1
            held, waiting_release = [], held
            for task in waiting_release:
                release(task)
        for dependent in dependents[tid]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                release(dependent)
    return now

"""How close the scheduler gets to the best possible makespan, and what the engine costs per task.

1. Makespan: generated DAGs (wide; layered; layered with heavy-tailed latencies) run by the
   real engine and the real `AnthropicProvider` against the loopback Messages API server,
   which answers each task after that task's known latency. Printed: makespan / lower
   bound, where lower bound = max(critical path of true latencies, total work /
   concurrency), for the dynamic and the wave schedule at concurrency 5 and 20.
2. Overhead: 2,000 tasks with `SimulateProvider(latency=0)`: wall time of `execute` / tasks.
3. Memory: peak RSS of a fresh process that validates, plans and runs 10,000 tasks.

Targets: makespan within 10 % of the lower bound (dynamic schedule), under 2 ms of overhead
per task, peak memory under 300 MB at 10,000 tasks. Exits 0 whatever the figures.

    python benchmarks/scheduling.py [--quick]

--quick is a smoke run (~30 s): fewer tasks, latencies x0.3, so fixed per-request costs
weigh far more and its ratios are not the measure.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchmarks.dags as dags  # noqa: E402
from agentflow.engine.context import RunOptions  # noqa: E402
from agentflow.engine.results import RunResult  # noqa: E402
from agentflow.engine.run import execute  # noqa: E402
from agentflow.engine.scheduler import ScheduleMode  # noqa: E402
from agentflow.plan.build import build_plan  # noqa: E402
from agentflow.plan.model import Plan  # noqa: E402
from agentflow.prices import PriceTable, Usage, load_prices  # noqa: E402
from agentflow.providers.base import ModelRequest, ModelResponse, Provider  # noqa: E402
from agentflow.providers.simulate import SimulateProvider  # noqa: E402
from agentflow.store.run_folder import RunFolder  # noqa: E402
from agentflow.validate.workflow import validate_workflow  # noqa: E402

MAKESPAN_TARGET = 1.10  # makespan / lower bound
OVERHEAD_TARGET_MS = 2.0
MEMORY_TARGET_MB = 300.0
CONCURRENCIES = (5, 20)
SCHEDULES: tuple[ScheduleMode, ...] = ("dynamic", "waves")
RUN_NUMBERS = itertools.count(1)  # a fresh run folder per run, as `agentflow run` makes


@dataclass(frozen=True)
class Config:
    wide: int  # independent tasks
    layers: int
    width: int
    overhead_tasks: int
    memory_tasks: int
    latency_scale: float = 1.0  # every makespan latency is multiplied by this
    heavy_seed: int = 1


FULL = Config(wide=100, layers=6, width=20, overhead_tasks=2_000, memory_tasks=10_000)
QUICK = Config(30, 4, 10, overhead_tasks=300, memory_tasks=1_000, latency_scale=0.3, heavy_seed=2)


@dataclass(frozen=True)
class Prepared:
    plan: Plan
    prices: PriceTable
    validate_s: float
    plan_s: float


def prepare(dag: dags.Dag, folder: Path) -> Prepared:
    """Write the workflow file, then validate and plan it as `agentflow run` would."""
    path = folder / f"{dag.name}.yaml"
    path.write_text(dags.to_yaml(dag), encoding="utf-8")
    prices = load_prices()
    start = time.perf_counter()
    validated = validate_workflow(path, prices)
    validate_s = time.perf_counter() - start
    if not validated.ok or validated.workflow is None or validated.agents is None:
        sys.exit(f"{dag.name}: invalid workflow: {validated.problems[:3]}")
    start = time.perf_counter()
    plan = build_plan(validated, prices, inputs={}, estimate=False)
    return Prepared(plan, prices, validate_s, time.perf_counter() - start)


def run(
    prepared: Prepared,
    provider_factory: Callable[[], Provider],
    options: RunOptions,
    record_root: Path | None,
) -> tuple[RunResult, float]:
    """One `execute` in a fresh event loop; returns the result and its wall time."""

    async def go() -> tuple[RunResult, float]:
        provider = provider_factory()
        run_id = f"{prepared.plan.name}-{options.schedule}-{next(RUN_NUMBERS)}"
        folder = RunFolder(record_root, run_id) if record_root is not None else None
        try:
            await provider.warm_up()  # as the engine does before the first request
            start = time.perf_counter()
            result = await execute(
                prepared.plan,
                provider=provider,
                prices=prepared.prices,
                options=options,
                run_id=run_id,
                run_dir=folder.path if folder else Path(os.devnull),
                recorder=folder,  # type: ignore[arg-type]  # a Recorder by duck typing
            )
            return result, time.perf_counter() - start
        finally:
            await provider.aclose()

    result, wall = asyncio.run(go())
    if result.status != "succeeded":
        bad = [f"{t.id}: {t.error}" for t in result.tasks.values() if t.status != "succeeded"]
        print(f"  !! {prepared.plan.name} run {result.status}: {bad[:3]}")
    return result, wall


class SleepProvider:
    """No SDK, no HTTP: sleeps each task's latency. Shows what the engine alone reaches."""

    name = "sleep"

    def __init__(self, latency: dict[str, float]) -> None:
        self.latency = latency

    def prefetch(self) -> None:
        return None

    async def warm_up(self) -> None:
        return None

    async def count_tokens(self, request: ModelRequest) -> int:
        raise NotImplementedError

    async def complete(self, request: ModelRequest) -> ModelResponse:
        await asyncio.sleep(self.latency[request.task_id])
        return ModelResponse("ok", Usage(10, 1), request.model, "end_turn", "sleep")

    async def aclose(self) -> None:
        return None


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# -- 1. makespan against the loopback server -----------------------------------------------


def warm_up(url: str) -> None:
    """One call first, so the SDK's one-off start-up (~60 ms) is not charged to a schedule."""
    from agentflow.providers.anthropic import AnthropicProvider

    async def go() -> None:
        provider = AnthropicProvider("bench", base_url=url)
        await provider.complete(ModelRequest("warm", "claude-haiku-4-5", "", "[warm]", 16, 30.0))
        await provider.aclose()

    asyncio.run(go())


def makespan_phase(config: Config, folder: Path) -> None:
    from agentflow.providers.anthropic import AnthropicProvider
    from tests.support.messages_server import MessagesServer, RecordedRequest, Reply

    k = config.latency_scale
    shapes = [
        dags.wide("wide", config.wide, dags.uniform(0.2 * k, 0.4 * k)),
        dags.layered("layered", config.layers, config.width, dags.uniform(0.1 * k, 0.5 * k)),
        dags.layered(  # P(latency > x) = (50 ms / x) ** 0.9, clipped at 3 s
            "heavy-tailed", config.layers, config.width, dags.pareto(0.05 * k, 0.9, 3.0 * k),
            seed=config.heavy_seed,
        ),
    ]  # fmt: skip
    print("""
## Makespan: real AnthropicProvider -> loopback Messages API server (same process)
Each prompt carries `[task ID]`; the server answers after that task's latency. max_tokens =
64 + 400 x latency_s, so the planner's duration estimate (hence the critical-path priority)
ranks tasks as their true latencies do, as in real use. Recorder: a RunFolder.
lower bound = max(critical path of true latencies, total work / concurrency).
sim     = this schedule simulated with zero overhead: the policy's own makespan / bound.
no-HTTP = the engine (and RunFolder) with a provider that just sleeps the latency / bound.""")
    for dag in shapes:
        values = sorted(dag.latency.values())
        print(
            f"  {dag.name}: {dag.size} tasks, latency min {values[0]:.2f}s / median "
            f"{values[len(values) // 2]:.2f}s / max {values[-1]:.2f}s, work {sum(values):.1f}s"
        )
    header = (
        f"{'shape':<13}{'tasks':>6}{'conc':>5}  {'schedule':<9}{'makespan':>9}"
        f"{'lower bound':>17}{'ratio':>7}{'sim':>7}{'no-HTTP':>8}{'peak':>5}  target <= 1.10"
    )
    print(f"\n{header}\n{'-' * len(header)}")
    misses: list[str] = []
    with MessagesServer() as server:
        warm_up(server.url)
        for dag in shapes:

            def respond(request: RecordedRequest, latency: dict[str, float] = dag.latency) -> Reply:
                found = dags.MARKER.search(request.last_user_text)
                return Reply(delay=latency[found.group(1)] if found else 0.0, text="ok")

            server.responder = respond
            prepared = prepare(dag, folder)
            priority = {t: p.remaining_seconds for t, p in prepared.plan.tasks.items()}
            for concurrency, schedule in itertools.product(CONCURRENCIES, SCHEDULES):
                bound, kind = dags.lower_bound(dag, concurrency)
                sim = dags.simulated_makespan(dag, concurrency, priority, schedule == "waves")
                options = RunOptions(concurrency=concurrency, schedule=schedule, seed=1)
                server.reset()
                http = partial(AnthropicProvider, "bench", base_url=server.url)
                _, wall = run(prepared, http, options, folder / "runs")
                peak = server.max_in_flight
                _, bare = run(prepared, partial(SleepProvider, dag.latency), options, folder / "s")
                ok = wall / bound <= MAKESPAN_TARGET
                if schedule == "dynamic" and not ok:
                    misses.append(f"{dag.name} at {concurrency}")
                print(
                    f"{dag.name:<13}{dag.size:>6}{concurrency:>5}  {schedule:<9}{wall:>8.2f}s"
                    f"{bound:>9.2f}s ({kind}){wall / bound:>7.3f}{sim / bound:>7.3f}"
                    f"{bare / bound:>8.3f}{peak:>5}  {verdict(ok)}"
                )
        if server.errors:
            print(f"  !! server errors: {server.errors[:2]}")
    summary = "met" if not misses else f"NOT met ({', '.join(misses)})"
    print(f"Target makespan <= {MAKESPAN_TARGET:.2f} x lower bound (dynamic schedule): {summary}")


# -- 2. per-task overhead at zero latency --------------------------------------------------


def overhead_phase(config: Config, folder: Path) -> None:
    tasks, concurrency = config.overhead_tasks, 20
    dag = dags.layered("overhead", max(1, tasks // 100), min(100, tasks), dags.zero)
    print(f"\n## Overhead: {dag.size:,} tasks (layered, 100 wide), SimulateProvider(latency=0),")
    print(f"concurrency {concurrency}, dynamic schedule; each figure the median of 3 runs")
    prepared = prepare(dag, folder)
    before = (prepared.validate_s + prepared.plan_s) / dag.size * 1000
    print(
        f"  validate {prepared.validate_s * 1000:.0f} ms + plan {prepared.plan_s * 1000:.0f} ms"
        f" = {before:.3f} ms/task (before execute; not in the figures below)"
    )
    options = RunOptions(concurrency=concurrency, seed=1)
    simulate, nothing = partial(SimulateProvider, latency=0), partial(SleepProvider, dag.latency)
    per_task = 0.0
    for label, provider, recorded in [
        ("SimulateProvider(latency=0), RunFolder recorder", simulate, True),
        ("SimulateProvider(latency=0), no recorder", simulate, False),
        ("a provider doing nothing (engine + RunFolder)", nothing, True),
        ("a provider doing nothing, no recorder (engine)", nothing, False),
    ]:
        walls = [
            run(prepared, provider, options, folder / "runs" if recorded else None)[1]
            for _ in range(3)
        ]
        wall = statistics.median(walls)
        per_task = per_task or wall / dag.size * 1000  # the first line is the measure
        print(f"  execute, {label:<50} {wall:6.2f}s = {wall / dag.size * 1000:.3f} ms/task")
    print(
        f"Target overhead < {OVERHEAD_TARGET_MS:g} ms/task (execute wall time with RunFolder / "
        f"tasks): {per_task:.3f} ms, {verdict(per_task < OVERHEAD_TARGET_MS)}"
    )


# -- 3. peak memory, in a fresh process ----------------------------------------------------


def peak_mb() -> float:
    """Peak RSS of this process: VmHWM where /proc has it. ru_maxrss (KiB on Linux) is the
    fallback only: Linux carries the parent's peak across fork+exec into the child's."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(tasks: int) -> dict[str, Any]:
    """Runs in its own process: validate, plan and execute `tasks`, noting peak RSS."""
    figures: dict[str, Any] = {"after_imports_mb": peak_mb()}
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        dag = dags.layered("memory", max(1, tasks // 100), min(100, tasks), dags.zero)
        prepared = prepare(dag, folder)
        figures["after_plan_mb"] = peak_mb()
        options = RunOptions(concurrency=20, seed=1)
        result, wall = run(prepared, lambda: SimulateProvider(latency=0), options, folder / "runs")
        figures.update(
            tasks=dag.size,
            status=result.status,
            validate_plan_s=prepared.validate_s + prepared.plan_s,
            execute_s=wall,
            peak_mb=peak_mb(),
            ru_maxrss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )
    return figures


def memory_phase(config: Config) -> None:
    tasks = config.memory_tasks
    print(f"\n## Memory: {tasks:,} tasks, SimulateProvider(latency=0), concurrency 20, RunFolder")
    command = [sys.executable, str(Path(__file__).resolve()), "--phase", "memory"]
    done = subprocess.run([*command, "--tasks", str(tasks)], capture_output=True, text=True)
    if done.returncode != 0 or not done.stdout.strip():
        print(f"  !! memory child failed ({done.returncode}): {done.stderr[-800:]}")
        return
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"  fresh process, peak RSS (VmHWM): after imports {figures['after_imports_mb']:.0f} MB, "
        f"after validate+plan {figures['after_plan_mb']:.0f} MB, "
        f"after execute {figures['peak_mb']:.0f} MB"
    )
    print(f"  (the child's ru_maxrss, {figures['ru_maxrss_mb']:.0f} MB, is not used: on Linux it"
          " starts from the parent's peak, carried across fork+exec)")  # fmt: skip
    print(
        f"  validate+plan {figures['validate_plan_s']:.2f}s, execute {figures['execute_s']:.2f}s"
        f" ({figures['execute_s'] / figures['tasks'] * 1000:.3f} ms/task), run {figures['status']}"
    )
    peak = figures["peak_mb"]
    print(
        f"Target peak memory < {MEMORY_TARGET_MB:g} MB at {tasks:,} tasks: {peak:.0f} MB, "
        f"{verdict(peak < MEMORY_TARGET_MB)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, a smoke run")
    parser.add_argument("--phase", choices=["all", "makespan", "overhead", "memory"])
    parser.add_argument("--tasks", type=int, help="with --phase memory: tasks to run")
    args = parser.parse_args()
    if args.phase == "memory" and args.tasks:  # the child process of memory_phase
        print(json.dumps(memory_child(args.tasks)))
        return
    config = QUICK if args.quick else FULL
    phase = args.phase or "all"
    print(f"# agentflow scheduling benchmark ({'quick' if args.quick else 'full'})")
    print(f"config: {config}, concurrency {CONCURRENCIES}, schedules {SCHEDULES}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (other work skews the figures)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as name:
        if phase in ("all", "makespan"):
            makespan_phase(config, Path(name))
        if phase in ("all", "overhead"):
            overhead_phase(config, Path(name))
    if phase in ("all", "memory"):
        memory_phase(config)
    print(f"\n(benchmark took {time.perf_counter() - started:.0f}s)")


if __name__ == "__main__":
    main()

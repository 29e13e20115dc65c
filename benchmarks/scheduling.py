"""What `agentflow run` gives a user: its makespan against the best possible one, on a first
run and on a re-run that knows its tasks' durations, and what it costs per task.

Everything goes through the command a user types: `agentflow run` in a subprocess, with the
real `anthropic` provider (the official SDK) pointed at the loopback Messages API server
(tests/support/messages_server.py, in this process) by ANTHROPIC_BASE_URL, the run history
and run folders on (a fresh AGENTFLOW_HOME per DAG).

1. Makespan, at concurrency 5. Layered DAGs whose latencies are heavy-tailed (lognormal)
   and hidden: the server looks each request's latency up in a table keyed by the
   `[task ID]` marker of its prompt; the workflow file knows nothing of them (each task's
   max_tokens is drawn at random, apart from its latency). 2 % of requests also stall for an
   extra 0.5-2 s, drawn afresh per request: no run can foresee or learn them. Each DAG runs
   twice in one home: a first run (the plan's estimates only) and a re-run on a new
   `--set topic=...` (new input: the response cache misses) whose plan has learned each
   task's duration from the first run's history. Per run:
     makespan = first task's start to last task's end (the run's `--json`)
     bound    = max(critical path, total work / concurrency) over the delays the server
                applied in that very run (stalls included)
     sim      = the makespan the run's own priorities reach with zero overhead / bound:
                what the order alone costs
     command  = the wall time of the whole command (Python start-up, SDK import, validate,
                plan, history), for scale
2. Overhead per task, recording on: zero-latency tasks (layered, 100 wide) in one
   `agentflow run` at concurrency 20, with the `simulate` provider (engine, history, run
   folder) and with the SDK against the loopback server. in-run: the run's wall time /
   tasks; all-in: the command's extra time per extra task (2,000 tasks against 100), which
   also counts validating, planning and the history's writes after the last task.
3. Memory: peak RSS of one `agentflow run --provider simulate` of 10,000 tasks.

    python benchmarks/scheduling.py [--quick]

--quick is a smoke run (about a minute): one small DAG, fewer tasks; not the measure.
Exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import benchmarks.dags as dags  # noqa: E402
from tests.support.messages_server import MessagesServer, RecordedRequest, Reply  # noqa: E402

AGENTFLOW = str(Path(sys.executable).with_name("agentflow"))
CONCURRENCY = 5
STALL_RATE, STALL_SECONDS = 0.02, (0.5, 2.0)
MEMORY_TARGET_MB = 300.0


@dataclass(frozen=True)
class Config:
    seeds: tuple[int, ...]  # one heavy-tailed DAG per seed
    layers: int
    width: int
    overhead_tasks: int
    memory_tasks: int
    overhead_repeats: int


FULL = Config((1, 2, 3, 4), layers=10, width=10, overhead_tasks=2_000, memory_tasks=10_000,
              overhead_repeats=3)  # fmt: skip
QUICK = Config((1,), layers=4, width=10, overhead_tasks=500, memory_tasks=2_000,
               overhead_repeats=1)  # fmt: skip


@dataclass
class HiddenLatency:
    """The server's side: each task's latency from a table the workflow never sees, plus
    an occasional stall; notes the delay it applied to each task of the current run."""

    table: dict[str, float]
    seed: int
    label: str = ""
    applied: dict[str, float] = field(default_factory=dict)
    stalls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: RecordedRequest) -> Reply:
        found = dags.MARKER.search(request.last_user_text)
        tid = found.group(1) if found else ""
        delay = self.table.get(tid, 0.0)
        with self._lock:
            rng = random.Random(f"{self.seed}/{self.label}/{tid}/{request.retry_count}")
            if rng.random() < STALL_RATE:
                delay += rng.uniform(*STALL_SECONDS)
                self.stalls += 1
            self.applied[tid] = self.applied.get(tid, 0.0) + delay
        return Reply(delay=delay, text=f"done {tid}")

    def start(self, label: str) -> None:
        with self._lock:
            self.label, self.applied, self.stalls = label, {}, 0


def agentflow(home: Path, *args: str, env: dict[str, str] | None = None) -> tuple[Any, float]:
    """Run the command; its one JSON document and its wall time."""
    start = time.perf_counter()
    done = subprocess.run(
        [AGENTFLOW, *args, "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, "AGENTFLOW_HOME": str(home), **(env or {})},
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"agentflow {' '.join(args)}: exit {done.returncode}: {done.stderr[-800:]}")
    return json.loads(done.stdout), wall


# -- 1. makespan: a first run and a re-run ------------------------------------------------


@dataclass(frozen=True)
class RunFigures:
    makespan: float
    bound: float
    kind: str
    sim: float
    command: float
    stalls: int
    learned: int

    @property
    def ratio(self) -> float:
        return self.makespan / self.bound


def one_run(
    dag: dags.Dag, path: Path, home: Path, server: MessagesServer, hidden: HiddenLatency, run: int
) -> RunFigures:
    env = {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": "bench"}
    plan, _ = agentflow(home, "plan", str(path), env=env)
    weight = {
        tid: t["learned_seconds"] if t["learned_seconds"] is not None else t["est_seconds"]
        for tid, t in plan["tasks"].items()
    }
    hidden.start(f"run{run}")
    summary, command = agentflow(
        home, "run", str(path), "--set", f"topic=topic {run}", "--quiet", env=env
    )
    if summary["status"] != "succeeded":
        print(f"  !! {dag.name} run {run}: {summary['status']}")
    tasks = summary["tasks"].values()
    makespan = max(t["ended_at"] for t in tasks) - min(t["started_at"] for t in tasks)
    applied = dags.Dag(dag.name, dag.needs, dict(hidden.applied))
    bound, kind = dags.lower_bound(applied, CONCURRENCY)
    priority = dags.remaining(dag, weight)
    sim = dags.simulated_makespan(applied, CONCURRENCY, priority, waves=False)
    return RunFigures(
        makespan, bound, kind, sim, command, hidden.stalls, int(plan["learned_durations"])
    )


def makespan_phase(config: Config, folder: Path) -> None:
    print(f"""
## Makespan at concurrency {CONCURRENCY}: `agentflow run` (a subprocess; the anthropic provider
against the loopback server; history on); latencies hidden from the plan, {STALL_RATE:.0%} of
requests stall.
ratio = makespan / lower bound; sim = the run's own order with zero overhead / lower bound.
A re-run is the same workflow on new input, its plan learned from the first run's history.""")
    header = (
        f"{'dag':<10}{'tasks':>6}  {'run':<7}{'learned':>8}{'stalls':>7}{'makespan':>10}"
        f"{'lower bound':>18}{'ratio':>7}{'sim':>7}{'command':>9}"
    )
    print(f"\n{header}\n{'-' * len(header)}")
    ratios: dict[str, list[float]] = {"first": [], "re-run": []}
    with MessagesServer() as server:
        for seed in config.seeds:
            latency = dags.lognormal(0.3, 1.0, 6.0)
            dag = dags.layered(f"heavy-{seed}", config.layers, config.width, latency, seed=seed)
            path = folder / f"{dag.name}.yaml"
            path.write_text(dags.to_yaml(dag, seed=seed, concurrency=CONCURRENCY))
            hidden = HiddenLatency(dict(dag.latency), seed)
            server.responder = hidden
            home = folder / f"home-{seed}"
            for run, label in enumerate(("first", "re-run"), start=1):
                figures = one_run(dag, path, home, server, hidden, run)
                ratios[label].append(figures.ratio)
                print(
                    f"{dag.name:<10}{dag.size:>6}  {label:<7}{figures.learned:>8}"
                    f"{figures.stalls:>7}{figures.makespan:>9.2f}s{figures.bound:>9.2f}s"
                    f" ({figures.kind}){figures.ratio:>7.3f}{figures.sim / figures.bound:>7.3f}"
                    f"{figures.command:>8.2f}s"
                )
        if server.errors:
            print(f"  !! server errors: {server.errors[:2]}")
    first, again = ratios["first"], ratios["re-run"]
    print(
        f"makespan / lower bound: first runs {min(first):.3f}-{max(first):.3f}, "
        f"re-runs {min(again):.3f}-{max(again):.3f}"
    )


# -- 2. overhead per task, recording on ---------------------------------------------------


def overhead_phase(config: Config, folder: Path) -> None:
    tasks = config.overhead_tasks
    big = dags.layered("overhead", max(1, tasks // 100), min(100, tasks), dags.zero)
    small = dags.layered("overhead", 1, 100, dags.zero)
    paths = {}
    for dag in (small, big):
        paths[dag.size] = folder / f"overhead-{dag.size}.yaml"
        paths[dag.size].write_text(dags.to_yaml(dag, concurrency=20))
    print(f"\n## Overhead: {big.size:,} zero-latency tasks (layered, 100 wide), concurrency 20,")
    print("history and run folder on. in-run = the run's wall time (--json) / tasks; all-in =")
    print(f"(command time at {big.size:,} tasks - at {small.size}) / {big.size - small.size:,}: "
          "validate, plan, run and the history's last writes, per task")  # fmt: skip
    with MessagesServer() as server:
        server.responder = lambda request: Reply(text="ok")
        for label, provider in [
            ("simulate provider (engine + recording)", "simulate"),
            ("anthropic SDK -> loopback server", "anthropic"),
        ]:
            env = {"AGENTFLOW_SIMULATE_LATENCY": "0", "ANTHROPIC_BASE_URL": server.url,
                   "ANTHROPIC_API_KEY": "bench"}  # fmt: skip
            walls: dict[int, list[float]] = {small.size: [], big.size: []}
            commands: dict[int, list[float]] = {small.size: [], big.size: []}
            for repeat in range(config.overhead_repeats):
                for size, path in paths.items():
                    summary, command = agentflow(
                        folder / f"overhead-home-{provider}-{size}",
                        "run",
                        str(path),
                        "--provider",
                        provider,
                        "--set",
                        f"topic={provider} {repeat}",
                        "--quiet",
                        env=env,
                    )
                    walls[size].append(summary["totals"]["wall_seconds"])
                    commands[size].append(command)
            wall = statistics.median(walls[big.size])
            command = statistics.median(commands[big.size])
            slope = (command - statistics.median(commands[small.size])) / (big.size - small.size)
            print(
                f"  {label:<40} in-run {wall / big.size * 1000:5.2f} ms/task"
                f"   all-in {slope * 1000:5.2f} ms/task   (run {wall:.2f}s, command"
                f" {command:.2f}s; medians of {len(walls[big.size])})"
            )


# -- 3. peak memory -----------------------------------------------------------------------


def memory_phase(config: Config, folder: Path) -> None:
    tasks = config.memory_tasks
    dag = dags.layered("memory", max(1, tasks // 100), min(100, tasks), dags.zero)
    path = folder / "memory.yaml"
    path.write_text(dags.to_yaml(dag, concurrency=20))
    print(f"\n## Memory: `agentflow run --provider simulate` of {dag.size:,} tasks, concurrency 20")
    env = {**os.environ, "AGENTFLOW_HOME": str(folder / "memory-home"),
           "AGENTFLOW_SIMULATE_LATENCY": "0"}  # fmt: skip
    command = [AGENTFLOW, "run", str(path), "--provider", "simulate", "--quiet", "--json"]
    out_file = folder / "memory.json"
    start = time.perf_counter()
    with out_file.open("wb") as out, open(os.devnull, "wb") as err:
        child = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)  # the child's own peak (ru_maxrss)
    wall = time.perf_counter() - start
    text = out_file.read_text()
    summary = json.loads(text) if text.strip() else {}
    peak = usage.ru_maxrss / 1024  # KiB on Linux
    print(
        f"  peak RSS {peak:.0f} MB, command {wall:.1f}s, run "
        f"{summary.get('totals', {}).get('wall_seconds', float('nan')):.1f}s, "
        f"status {summary.get('status')} (exit {os.waitstatus_to_exitcode(status)})"
    )
    print(f"  target < {MEMORY_TARGET_MB:g} MB: {'met' if peak < MEMORY_TARGET_MB else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, a smoke run")
    parser.add_argument("--phase", choices=["all", "makespan", "overhead", "memory"])
    args = parser.parse_args()
    config = QUICK if args.quick else FULL
    phase = args.phase or "all"
    print(f"# agentflow scheduling benchmark ({'quick' if args.quick else 'full'})")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (other work skews the figures)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as name:
        if phase in ("all", "makespan"):
            makespan_phase(config, Path(name))
        if phase in ("all", "overhead"):
            overhead_phase(config, Path(name))
        if phase in ("all", "memory"):
            memory_phase(config, Path(name))
    print(f"\n(benchmark took {time.perf_counter() - started:.0f}s)")


if __name__ == "__main__":
    main()

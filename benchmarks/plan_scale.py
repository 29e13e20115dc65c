"""How `agentflow validate` and `agentflow plan` scale with the workflow file.

Two curves, each point one run of the real command in a fresh process (what a user waits
for: process start, reading, YAML, schema, references, planning, output):

- by tasks: 1k/10k/50k/100k tasks with realistic `needs` (chains, fan-in, wide waves) and
  prompts that read upstream outputs, direct needs and further ancestors;
- by size: 0.5/1/2/4 MB files that are big in other ways (long prompts, many inputs, deep
  output_schemas with many fields, many agents picked by `agent: auto`).

For each point: wall seconds, peak memory (the child's max RSS), and the cost per unit
(seconds per 1k tasks, seconds per MB), start-up taken off. The `ratio` column divides
that cost by the 10,000-task (or smallest) point's: it stays near 1 when cost grows
linearly.

    .venv/bin/python benchmarks/plan_scale.py                  # everything (a few minutes)
    .venv/bin/python benchmarks/plan_scale.py --tasks 1000 10000 --mb 0.5 1
    .venv/bin/python benchmarks/plan_scale.py --mb              # only the size curve
    .venv/bin/python benchmarks/plan_scale.py --commands plan-json
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

COMMANDS = {
    "validate": ["validate"],
    "plan-json": ["plan", "--json"],
    "plan-table": ["plan"],
}


def generate_tasks(tasks: int, seed: int = 1) -> str:
    """A workflow of `tasks` tasks: chains, fan-ins and wide waves, each prompt reading
    its needs' outputs and, in chains, an ancestor further up (not a direct need)."""
    rng = random.Random(seed)
    lines = [
        "version: 1",
        "name: scale",
        "inputs: {topic: {default: caching}}",
        "defaults: {model: haiku, max_tokens: 256}",
        "concurrency: 20",
        "tasks:",
    ]
    needs_of: list[list[int]] = []
    for i in range(tasks):
        kind = i % 10
        if i == 0:
            needs: list[int] = []
        elif kind == 0:  # fan-in: gathers the 20 tasks before it
            needs = list(range(max(0, i - 20), i))
        elif kind in (1, 2, 3, 4):  # chain: the task before, and reads its grand-parent too
            needs = [i - 1]
        else:  # wide: one of the last 500 tasks (many tasks per wave)
            needs = [rng.randrange(max(0, i - 500), i)]
        needs_of.append(needs)
        reads = needs[:3]
        if kind in (1, 2, 3, 4) and needs_of[i - 1]:
            reads = [*reads, needs_of[i - 1][0]]  # upstream through a need, not a need
        refs = " ".join(f"{{{{ tasks.t{n}.output }}}}" for n in reads)
        lines += [
            f"  t{i}:",
            f"    needs: [{', '.join(f't{n}' for n in needs)}]",
            f'    prompt: "Step {i} on {{{{ inputs.topic }}}}: summarise the findings. {refs}"',
        ]
    return "\n".join(lines) + "\n"


_WORDS = [
    "review",
    "the",
    "module",
    "for",
    "race",
    "conditions",
    "and",
    "summarise",
    "the",
    "findings",
    "with",
    "file",
    "names",
    "latency",
    "budget",
    "cache",
    "eviction",
    "schema",
    "migration",
    "rollback",
    "plan",
    "incident",
    "timeline",
    "owner",
]


def _prose(rng: random.Random, chars: int) -> str:
    words: list[str] = []
    size = 0
    while size < chars:
        word = rng.choice(_WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


def _schema_lines(rng: random.Random, depth: int, indent: str) -> list[str]:
    """An object schema with 12 fields, one of them nested `depth` levels further."""
    lines = [f"{indent}type: object", f"{indent}properties:"]
    for f in range(12):
        lines.append(f"{indent}  f{f}: {{type: string, description: {_prose(rng, 40)}}}")
    if depth:
        lines.append(f"{indent}  deeper:")
        lines += _schema_lines(rng, depth - 1, indent + "    ")
    lines.append(f"{indent}required: [f0, f1]")
    return lines


def generate_size(megabytes: float, seed: int = 1) -> str:
    """A workflow of about `megabytes` MB that is big in other ways than its task count:
    blocks of many inputs, a long block-scalar prompt reading inputs and upstream JSON
    fields, a deep output_schema with many fields, and `agent: auto` tasks."""
    rng = random.Random(seed)
    target = int(megabytes * 1024 * 1024)
    inputs: list[str] = []
    tasks: list[str] = []
    size = block = 0
    while size < target:
        names = [f"in{block}_{k}" for k in range(20)]
        inputs += [f"  {n}: {{default: {_prose(rng, 30)}}}" for n in names]
        prev = f"b{block - 1}" if block else None
        uses = f"{{{{ tasks.{prev}.json.f0 }}}} {{{{ tasks.{prev}.output }}}}" if prev else ""
        body = [f"      {_prose(rng, 400)} {{{{ inputs.{names[k]} }}}} {uses}" for k in range(20)]
        task = [
            f"  b{block}:",
            *([f"    needs: [{prev}]"] if prev else []),
            "    agent: auto" if block % 2 else "    model: sonnet",
            f"    description: {_prose(rng, 80)}",
            "    prompt: |",
            *body,
            "    output_schema:",
            *_schema_lines(rng, 8, "      "),
        ]
        tasks += task
        block += 1
        size += sum(len(line) + 1 for line in (*task, *inputs[-20:]))
    head = ["version: 1", "name: size", "agents: [agents]", "concurrency: 20", "inputs:"]
    return "\n".join([*head, *inputs, "tasks:", *tasks]) + "\n"


def write_agents(folder: Path, count: int = 60) -> None:
    rng = random.Random(2)
    folder.mkdir(exist_ok=True)
    for k in range(count):
        (folder / f"agent{k}.md").write_text(
            f"---\nname: agent{k}\ndescription: {_prose(rng, 120)}\nmodel: haiku\n---\n"
            f"{_prose(rng, 2000)}\n"
        )


@dataclass(frozen=True)
class Point:
    label: str
    units: float  # thousands of tasks, or MB
    seconds: float
    peak_mb: float


# Runs the agentflow command as the `agentflow` program does, then writes its peak memory
# (VmHWM: of this program alone; a child's ru_maxrss also counts the parent's pages).
_MEASURED = """
import os, sys
from agentflow.cli.app import dispatch
where = sys.argv.pop(1)
code = dispatch()
sys.stdout.flush()
sys.stderr.flush()
status = open("/proc/self/status").read()
kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
open(where, "w").write(kib)
os._exit(code)
"""


def run_command(args: list[str], path: Path) -> tuple[float, float]:
    """Wall seconds and peak memory (MB) of `agentflow ARGS PATH`."""
    peak = path.parent / "peak.txt"
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED, str(peak), *args, str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=path.parent,
        env={**os.environ, "AGENTFLOW_HOME": str(path.parent / ".home"), "COLUMNS": "200"},
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"agentflow {' '.join(args)} {path} failed: {done.stderr[:800].decode()}")
    return seconds, int(peak.read_text()) / 1024


def print_curve(title: str, unit: str, points: list[Point], start: float) -> None:
    """One curve; `start` is the command's time on a one-task file (interpreter, imports),
    taken off before dividing so that the cost per unit shows the growth alone."""
    print(f"\n{title} (start-up {start:.2f}s taken off 'net s')")
    print(
        f"  {'size':>14}  {'wall s':>8}  {'net s':>7}  {'peak MB':>8}  {'s per ' + unit:>14}  ratio"
    )
    # The base of the ratio: 10,000 tasks (below, start-up noise and, for the table, the
    # 1,000-task layout of another kind dominate), else the smallest point.
    chosen = next((p for p in points if unit == "1k tasks" and p.units >= 10), points[0])
    base = max(chosen.seconds - start, 1e-9) / chosen.units
    for p in points:
        net = p.seconds - start
        per = max(net, 0.0) / p.units
        print(
            f"  {p.label:>14}  {p.seconds:8.2f}  {net:7.2f}  {p.peak_mb:8.0f}"
            f"  {per:14.3f}  {per / base:5.2f}"
        )


def _files(base: Path, task_counts: list[int], sizes: list[float]) -> list[tuple]:
    write_agents(base / "agents")
    files = []
    for n in task_counts:
        path = base / f"tasks{n}.yaml"
        path.write_text(generate_tasks(n))
        files.append(("tasks", f"{n:,} tasks", n / 1000, path))
    for mb in sizes:
        path = base / f"size{mb}.yaml"
        path.write_text(generate_size(mb))
        real = path.stat().st_size / 1024 / 1024
        files.append(("mb", f"{real:.2f} MB", real, path))
    return files


def _quickest(args: list[str], path: Path, units: float) -> tuple[float, float]:
    """The quickest of three runs for a small file (less noise), one run for a large one."""
    return min(run_command(args, path) for _ in range(3 if units <= 1 else 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, nargs="*", help="task counts (default 1k-100k)")
    parser.add_argument("--mb", type=float, nargs="*", help="file sizes in MB (default 0.5-4)")
    parser.add_argument("--commands", nargs="+", choices=list(COMMANDS), default=list(COMMANDS))
    args = parser.parse_args()
    everything = args.tasks is None and args.mb is None
    task_counts = args.tasks or (
        [1_000, 10_000, 50_000, 100_000] if everything or args.tasks == [] else []
    )
    sizes = args.mb or ([0.5, 1, 2, 4] if everything or args.mb == [] else [])
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        files = _files(base, task_counts, sizes)
        tiny = base / "tiny.yaml"
        tiny.write_text(generate_tasks(1))
        for command in args.commands:
            start = min(run_command(COMMANDS[command], tiny)[0] for _ in range(3))
            for kind, unit in (("tasks", "1k tasks"), ("mb", "MB")):
                points = [
                    Point(label, units, *_quickest(COMMANDS[command], path, units))
                    for k, label, units, path in files
                    if k == kind
                ]
                if points:
                    title = f"agentflow {' '.join(COMMANDS[command])}, by {unit}"
                    print_curve(title, unit, points, start)


if __name__ == "__main__":
    main()

"""What recording costs as a run grows: `agentflow run --provider simulate` at zero latency,
the history on, through the CLI, at 1,000 / 10,000 / 50,000 independent tasks.

Each size runs in a fresh process with a fresh AGENTFLOW_HOME (a temporary folder), so the
history, the run folder and `summary.json` are all written as a user's run writes them.
The run prints `--json` (every output, as a program reading it gets them): the end-of-run
table is rendering, not recording, and is measured elsewhere.
Printed per size: tasks, wall seconds, milliseconds per task and peak RSS of the run's
process; then the ms per task of each size against the smallest. Flat ms per task means
the cost per task does not grow with the run's size (the target). Exits 0 whatever the
figures.

    python benchmarks/record_scale.py                  # 1k and 10k (about a minute)
    python benchmarks/record_scale.py --sizes 1000,10000,50000   # the full curve (minutes)
    python benchmarks/record_scale.py --sizes 50000 --concurrency 20
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = (1_000, 10_000)


def workflow(tasks: int, concurrency: int) -> str:
    lines = [
        "version: 1",
        f"name: record-scale-{tasks}",
        f"concurrency: {concurrency}",
        "defaults: {model: haiku, max_tokens: 64}",
        "tasks:",
    ]
    lines += [f'  t{i}: {{prompt: "Say something short about item {i}."}}' for i in range(tasks)]
    return "\n".join(lines) + "\n"


def one(tasks: int, concurrency: int) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MB) and the tasks the history recorded, for one run. The
    peak is the largest of the children so far: sizes run smallest first."""
    with tempfile.TemporaryDirectory(prefix="agentflow-record-") as tmp:
        folder = Path(tmp)
        path = folder / "wf.yaml"
        path.write_text(workflow(tasks, concurrency))
        env = {
            **os.environ,
            "AGENTFLOW_HOME": str(folder / "state"),
            "AGENTFLOW_SIMULATE_LATENCY": "0",
        }
        command = [
            sys.executable, "-m", "agentflow", "run", str(path),
            "--provider", "simulate", "--json", "--no-cache",
        ]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"run of {tasks} tasks exited {done.returncode}: {done.stderr[-2000:]}")
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with sqlite3.connect(folder / "state" / "history.db") as db:
            recorded = db.execute(
                "SELECT count(*) FROM tasks WHERE status = 'succeeded'"
            ).fetchone()[0]
    return wall, peak, recorded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default=",".join(str(n) for n in DEFAULT_SIZES),
        help="comma-separated task counts (default 1000,10000; add 50000 for the full curve)",
    )
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    sizes = sorted(int(n) for n in args.sizes.split(","))
    print(f"run --provider simulate (latency 0), history on, --concurrency {args.concurrency}")
    head = ("tasks", 8), ("wall s", 8), ("ms/task", 8), ("peak RSS MB", 12), ("recorded", 9)
    print(" ".join(f"{name:>{width}}" for name, width in head), f"{'vs first':>9}")
    first: float | None = None
    for tasks in sizes:
        wall, peak, recorded = one(tasks, args.concurrency)
        per_task = wall / tasks * 1000
        first = first or per_task
        print(
            f"{tasks:>8} {wall:>8.1f} {per_task:>8.2f} {peak:>12.0f} {recorded:>9} "
            f"{per_task / first:>8.2f}x",
            flush=True,
        )
    print("ms/task includes start-up (validate, plan) and the --json output; flat is the target.")


if __name__ == "__main__":
    main()

"""How long `agentflow plan` takes on a generated 10,000-task workflow.

Prints the wall time of the whole command (what a user waits for: process start,
validation, planning, JSON output) and a breakdown by stage. Target: under 3 s.

    python benchmarks/plan_scale.py [--tasks 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(tasks: int, seed: int = 1) -> str:
    """A layered DAG: each task needs up to 3 of the 200 tasks before it and reads them."""
    rng = random.Random(seed)
    lines = [
        "version: 1",
        "name: scale",
        "defaults: {model: haiku, max_tokens: 256}",
        "concurrency: 20",
        "tasks:",
    ]
    for i in range(tasks):
        needs = (
            sorted({f"t{rng.randrange(max(0, i - 200), i)}" for _ in range(rng.randint(0, 3))})
            if i
            else []
        )
        refs = " ".join(f"{{{{ tasks.{n}.output }}}}" for n in needs)
        lines += [
            f"  t{i}:",
            f"    needs: [{', '.join(needs)}]",
            f'    prompt: "Step {i}: summarise the findings so far. {refs}"',
        ]
    return "\n".join(lines) + "\n"


def stage_times(path: Path) -> dict[str, float]:
    from agentflow.plan.build import build_plan
    from agentflow.prices import load_prices
    from agentflow.render.plan_view import plan_to_json
    from agentflow.validate.workflow import validate_workflow

    times: dict[str, float] = {}
    start = time.perf_counter()
    prices = load_prices()
    validated = validate_workflow(path, prices)
    times["validate (read, YAML, schema, references, cycles)"] = time.perf_counter() - start
    assert validated.ok, validated.problems[:3]
    start = time.perf_counter()
    plan = build_plan(validated, prices, inputs={})
    times["plan (waves, tokens, costs, critical path)"] = time.perf_counter() - start
    start = time.perf_counter()
    plan_to_json(plan)
    times["json"] = time.perf_counter() - start
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scale.yaml"
        path.write_text(generate(args.tasks))
        walls = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-m", "agentflow", "plan", str(path), "--json"],
                capture_output=True,
                text=True,
                cwd=folder,
            )
            walls.append(time.perf_counter() - start)
            if done.returncode != 0:
                sys.exit(f"plan failed: {done.stderr[:500]}")
        median = statistics.median(walls)
        print(
            f"agentflow plan, {args.tasks:,} tasks: median {median:.2f}s over {args.repeat} runs "
            f"(min {min(walls):.2f}s, max {max(walls):.2f}s); target < 3 s: "
            f"{'met' if median < 3 else 'NOT met'}"
        )
        for stage, seconds in stage_times(path).items():
            print(f"  {stage}: {seconds:.2f}s")


if __name__ == "__main__":
    main()

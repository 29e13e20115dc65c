"""Re-running an unchanged 100-task workflow: how many requests, and how long.

Runs `agentflow run` twice as a user would (a subprocess each time) against the loopback
Messages API server, with a fresh state folder. The second run must send zero requests
(every answer comes from the response cache) and finish in under 2 s.

    python benchmarks/rerun_cached.py [--tasks 100]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.messages_server import MessagesServer  # noqa: E402


def workflow(tasks: int) -> str:
    lines = [
        "version: 1",
        "name: rerun",
        "defaults: {model: haiku, max_tokens: 200}",
        "concurrency: 20",
        "tasks:",
    ]
    for i in range(tasks):
        needs = [f"t{i - 10}"] if i >= 10 else []
        ref = f" after {{{{ tasks.t{i - 10}.output }}}}" if needs else ""
        lines += [f"  t{i}:", f"    needs: [{', '.join(needs)}]", f'    prompt: "Step {i}{ref}"']
    return "\n".join(lines) + "\n"


def run_once(path: Path, env: dict[str, str]) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "agentflow", "run", str(path), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=path.parent,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"run failed ({done.returncode}): {done.stderr[:800]}")
    return elapsed, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, MessagesServer() as server:
        path = Path(folder) / "rerun.yaml"
        path.write_text(workflow(args.tasks))
        env = {
            **os.environ,
            "ANTHROPIC_BASE_URL": server.url,
            "ANTHROPIC_API_KEY": "bench",
            "AGENTFLOW_HOME": str(Path(folder) / "state"),
        }
        first_time, first = run_once(path, env)
        first_requests = server.count("/v1/messages")
        server.reset()
        second_time, second = run_once(path, env)
        second_requests = server.count()
        cached = sum(1 for t in second["tasks"].values() if t["status"] == "cached")
        print(
            f"{args.tasks} tasks, first run: {first_requests} requests, {first_time:.2f}s, "
            f"${first['totals']['cost_usd']:.4f}"
        )
        print(
            f"re-run: {second_requests} requests, {cached}/{args.tasks} tasks cached, "
            f"{second_time:.2f}s wall (process start included), "
            f"${second['totals']['cost_usd']:.4f}, saved ${second['totals']['saved_usd']:.4f}"
        )
        ok = second_requests == 0 and second_time < 2.0
        print(f"target: zero requests and under 2 s: {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()

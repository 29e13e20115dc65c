"""What `model: auto` costs against sending everything to opus or to sonnet.

Each example workflow in workflows/ is run three times with the offline `simulate`
provider (no network, latency 0, response cache off), every task's `model` set to
`auto`, `opus` and `sonnet` in turn (a task's own `model` beats its agent's, so the
comparison is like for like). Costs come from the price file, on the usage simulate
reports. Prints each workflow's cost per variant, the saving of auto, and auto's
decision for each task.

    python benchmarks/routing_cost.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = ("auto", "opus", "sonnet")


def variant(source: Path, model: str, folder: Path) -> Path:
    data = yaml.safe_load(source.read_text())
    agents = data.get("agents", "agents")
    entries = [agents] if isinstance(agents, str) else agents
    data["agents"] = [str((source.parent / entry).resolve()) for entry in entries]
    # The copy lives in a temporary folder: paths relative to the original must stay so.
    data["workspace"] = str((source.parent / data.get("workspace", ".")).resolve())
    for task in data["tasks"].values():
        task.pop("escalate", None)
        task["model"] = model
    path = folder / f"{source.stem}-{model}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run(path: Path, home: Path, *args: str) -> dict:
    env = {**os.environ, "AGENTFLOW_SIMULATE_LATENCY": "0", "AGENTFLOW_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "agentflow", *args, str(path), "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=path.parent,
    )
    if done.returncode not in (0, 1):
        sys.exit(f"{args[0]} {path.name} failed ({done.returncode}): {done.stderr[:600]}")
    return json.loads(done.stdout)


def _usd(value: float) -> str:
    return f"${value:.4f}"


def main() -> None:
    examples = sorted((ROOT / "workflows").glob("*.yaml"))
    totals = dict.fromkeys(VARIANTS, 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(
            f"{'workflow':<16}"
            + "".join(f"{v:>12}" for v in VARIANTS)
            + f"{'auto vs opus':>14}{'auto vs sonnet':>16}"
        )
        decisions = []
        for source in examples:
            costs = {}
            for model in VARIANTS:
                path = variant(source, model, folder)
                summary = run(
                    path, folder / "state", "run", "--provider", "simulate", "--no-cache", "--quiet"
                )
                costs[model] = summary["totals"]["cost_usd"]
                totals[model] += costs[model]
                if model == "auto":
                    plan = run(path, folder / "state", "plan")
                    decisions += [
                        (source.stem, tid, t["model"], t["model_reason"])
                        for tid, t in plan["tasks"].items()
                    ]
            print(
                f"{source.stem:<16}"
                + "".join(f"{_usd(costs[v]):>12}" for v in VARIANTS)
                + f"{1 - costs['auto'] / costs['opus']:>13.0%} "
                f"{1 - costs['auto'] / costs['sonnet']:>15.0%}"
            )
        print(
            f"{'all':<16}"
            + "".join(f"{_usd(totals[v]):>12}" for v in VARIANTS)
            + f"{1 - totals['auto'] / totals['opus']:>13.0%} "
            f"{1 - totals['auto'] / totals['sonnet']:>15.0%}"
        )
        print("\nauto's decisions:")
        for workflow, tid, model, reason in decisions:
            print(f"  {workflow}/{tid}: {model}  ({reason})")


if __name__ == "__main__":
    main()

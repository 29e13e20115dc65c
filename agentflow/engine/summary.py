"""The run as the contract JSON (the `--json` output and `summary.json`)."""

from __future__ import annotations

from typing import Any

from agentflow.engine.results import RunResult, TaskResult


def _round(value: float) -> float:
    return round(value, 8)


def task_summary(task: TaskResult) -> dict[str, Any]:
    return {
        "status": task.status,
        "agent": task.agent,
        "model": task.model,
        "attempts": task.requests,
        "output": task.output,
        "error": task.error,
        "usage": task.usage.as_dict(),
        "cost_usd": _round(task.cost_usd),
        "started_at": task.started_at,
        "ended_at": task.ended_at,
    }


def run_summary(run: RunResult) -> dict[str, Any]:
    usage = run.usage
    return {
        "run_id": run.run_id,
        "workflow": run.workflow,
        "status": run.status,
        "run_dir": str(run.run_dir),
        "tasks": {tid: task_summary(task) for tid, task in run.tasks.items()},
        "totals": {
            **usage.as_dict(),
            "cost_usd": _round(run.cost_usd),
            "requests": run.requests,
            "wall_seconds": round(run.wall_seconds, 3),
        },
    }

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
        "turns": task.turns,
        "tool_calls": task.tool_calls,
        "output": task.output,
        "error": task.error,
        "usage": task.usage.as_dict(),
        "cost_usd": _round(task.cost_usd),
        # The part of cost_usd that is an upper bound: attempts whose outcome is unknown.
        "cost_estimated_usd": _round(task.estimated_usd),
        "truncated": task.truncated,
        "source": task.source,
        "request_hash": task.request_hash,
        "saved_usage": task.saved_usage.as_dict(),
        "saved_usd": _round(task.saved_usd + task.prompt_cache_saved_usd),
        "started_at": task.started_at,
        "ended_at": task.ended_at,
    }


def run_summary(run: RunResult, *, with_tasks: bool = True) -> dict[str, Any]:
    """The contract JSON; `tasks` left empty when `with_tasks` is false (for writers that
    stream the tasks one by one)."""
    usage = run.usage
    tasks = {tid: task_summary(task) for tid, task in run.tasks.items()} if with_tasks else {}
    return {
        "run_id": run.run_id,
        "workflow": run.workflow,
        "status": run.status,
        "run_dir": str(run.run_dir),
        "tasks": tasks,
        "totals": {
            **usage.as_dict(),
            "cost_usd": _round(run.cost_usd),
            "cost_estimated_usd": _round(run.estimated_usd),
            "requests": run.requests,
            "wall_seconds": round(run.wall_seconds, 3),
            "saved_usd": _round(run.saved_usd),
            "response_cache_saved_usd": _round(sum(t.saved_usd for t in run.tasks.values())),
            "prompt_cache_saved_usd": _round(
                sum(t.prompt_cache_saved_usd for t in run.tasks.values())
            ),
        },
        "budget": {"usd": run.budget_usd, "tokens": run.budget_tokens},
    }

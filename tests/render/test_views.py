"""The views say what happened, in words that fit (issue 11, item 20)."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from agentflow.engine.results import Attempt, RunResult, TaskResult
from agentflow.prices import Usage
from agentflow.render.agents_view import render_agents
from agentflow.render.console import usd
from agentflow.render.run_view import cost_table, tasks_table
from agentflow.spec.agents import Agent


def plain() -> Console:
    return Console(file=io.StringIO(), width=200, no_color=True, force_terminal=False)


def shown(console: Console, renderable: object) -> str:
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def attempt(number: int, model: str, cost: float, ok: bool) -> Attempt:
    return Attempt(number, model, 0.0, 1.0, ok, Usage(100, 10), cost)


def test_cost_by_model_splits_an_escalated_task_between_its_models() -> None:
    task = TaskResult(
        "judge",
        "critic",
        "claude-sonnet-5-5",
        status="succeeded",
        attempts=[
            attempt(1, "claude-haiku-5-5", 0.001, False),
            attempt(2, "claude-sonnet-5-5", 0.004, True),
        ],
        source="api",
    )
    run = RunResult("r", "w", Path("."), {"judge": task}, started_at=0.0, ended_at=1.0)
    console = plain()
    rows = shown(console, cost_table(run, console, "model")).splitlines()
    haiku = next(line for line in rows if "claude-haiku-5-5" in line)
    sonnet = next(line for line in rows if "claude-sonnet-5-5" in line)
    assert "$0.0010" in haiku and "$0.0040" in sonnet and "$0.0050" not in sonnet


def test_one_turn_is_one_turn_and_a_negative_saving_keeps_its_sign() -> None:
    task = TaskResult("look", None, "claude-haiku-5-5", status="succeeded", source="api")
    task.attempts.append(attempt(1, "claude-haiku-5-5", 0.001, True))
    task.turns, task.tool_calls = 1, 1
    run = RunResult("r", "w", Path("."), {"look": task}, started_at=0.0, ended_at=1.0)
    console = plain()
    text = shown(console, tasks_table(run, console))
    assert "1 turn, 1 tool call" in text and "1 turns" not in text
    assert usd(-0.002) == "-$0.0020" and usd(-1234.5) == "-$1,234.50"


def test_an_agent_without_a_tools_line_has_none_in_agentflow() -> None:
    agent = Agent("plain", "does things", (), None, "You do things.", Path("plain.md"))
    console = plain()
    render_agents([agent], console)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "(none)" in text and "(all)" not in text

"""Agent listings for people and programs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agentflow.render.console import table_box
from agentflow.spec.agents import Agent

DESCRIPTION_WIDTH = 60


def _cut(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def agents_to_json(agents: list[Agent]) -> list[dict[str, Any]]:
    return [
        {
            "name": a.name,
            "description": a.description,
            "model": a.model,
            "tools": list(a.tools),
            "file": str(a.path),
        }
        for a in agents
    ]


def render_agents(agents: list[Agent], console: Console) -> None:
    table = Table(box=table_box(console), title=f"{len(agents)} agents")
    for name in ("name", "model", "tools", "description", "file"):
        table.add_column(name, overflow="fold" if name == "file" else "ellipsis")
    for agent in agents:
        # Without a `tools` line Claude Code gives an agent every tool; agentflow gives none.
        tools = ", ".join(agent.tools) if agent.tools else "(none)"
        table.add_row(
            agent.name,
            agent.model or "-",
            _cut(tools, 40),
            _cut(agent.description, DESCRIPTION_WIDTH),
            _relative(agent.path),
        )
    console.print(table)

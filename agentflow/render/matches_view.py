"""`agents match` for people and programs: the agents that fit a task, ranked, and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from agentflow.render.console import table_box
from agentflow.routing.discovery import AgentMatch


def matches_to_json(matches: list[AgentMatch]) -> list[dict[str, Any]]:
    return [
        {"name": m.name, "score": m.score, "file": m.file, "matched": list(m.matched)}
        for m in matches
    ]


def render_matches(matches: list[AgentMatch], console: Console) -> None:
    table = Table(box=table_box(console), title=f"{len(matches)} matching agents")
    for column in ("#", "name", "score", "matched", "file"):
        table.add_column(column, overflow="fold" if column == "file" else "ellipsis")
    for rank, m in enumerate(matches, 1):
        table.add_row(str(rank), m.name, f"{m.score:.2f}", ", ".join(m.matched[:8]), _rel(m.file))
    console.print(table)


def _rel(file: str) -> str:
    try:
        return str(Path(file).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return file

"""`agentflow agents match TEXT`: the agents that fit a task, ranked, and why.

The same matcher `agent: auto` uses (agentflow.routing.discovery), so this command shows
what a workflow would pick before it runs. Only the first agent of each name is indexed,
as a workflow would use it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agentflow.cli.options import AgentDirsOption, agent_folders
from agentflow.errors import ExitCode, Problem
from agentflow.render.console import make_console, table_box
from agentflow.routing.discovery import AgentIndex, AgentMatch, weak_reason
from agentflow.spec.agents import AgentCatalog, discover_agents


def match(
    text: Annotated[str, typer.Argument(help="The task, in your own words (quote it).")],
    dirs: AgentDirsOption = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many agents to show.")] = 5,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON list on stdout, best first.")
    ] = False,
) -> None:
    """Rank agents for a task by its words against their names and descriptions (offline)."""
    from agentflow.cli.app import report_problems  # cli imports this module: import late

    catalog = discover_agents(agent_folders(dirs))
    report_problems(_problems(catalog))
    # The weak check needs the runner-up even when only the best one is shown.
    ranked = AgentIndex.build(catalog.agents.values()).match(text, max(top, 5))
    matches = ranked[:top]
    if as_json:
        print(json.dumps(matches_to_json(matches), indent=2))
    else:
        render_matches(matches, make_console())
    reason = weak_reason(ranked) if catalog.agents else None
    if reason:
        hint = "describe the task with more specific words, or name the agent"
        report_problems([Problem("agents", f"weak match: {reason}", hint=hint, severity="warning")])
    if any(p.is_error and "agent folder" in p.message for p in catalog.problems):
        raise typer.Exit(ExitCode.INVALID)


def _problems(catalog: AgentCatalog) -> list[Problem]:
    """The catalog's problems, with duplicate names folded into one warning."""
    skipped = [a for a in catalog.loaded if catalog.agents[a.name].path != a.path]
    skipped_files = {str(a.path) for a in skipped}
    problems = [
        p
        for p in catalog.problems
        if not (p.file in skipped_files and "defined twice" in p.message)
    ]
    if skipped:
        names = sorted({a.name for a in skipped})
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        message = (
            f"{len(skipped)} agent file(s) skipped: their name is already defined in an "
            f"earlier file ({shown})"
        )
        hint = "the first file of each name is matched, as a workflow would use it"
        problems.append(Problem("agents", message, hint=hint, severity="warning"))
    return problems


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

"""`agentflow agents list` and `agentflow agents match TEXT`: agent files, and the ones that
fit a task, ranked, and why.

`match` uses the same matcher `agent: auto` uses (agentflow.routing.discovery), so it shows
what a workflow would pick before it runs. Only the first agent of each name is indexed, as
a workflow would use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from agentflow.cli.options import (
    AgentDirsOption,
    JsonOption,
    agent_folders,
    print_json,
    report_problems,
)
from agentflow.errors import ExitCode, Problem

if TYPE_CHECKING:
    from agentflow.spec.agents import AgentCatalog

agents_app = typer.Typer(
    no_args_is_help=True, help="Agent files: list them, or find the best one for a task."
)


@agents_app.command("list")
def agents_list(dirs: AgentDirsOption = None, as_json: JsonOption = False) -> None:
    """List agent files: name, model, tools, description, file."""
    from agentflow.render.agents_view import agents_to_json, render_agents
    from agentflow.render.console import make_console
    from agentflow.spec.agents import discover_agents

    catalog = discover_agents(agent_folders(dirs))
    report_problems(catalog.problems)
    agents = list(catalog.loaded)
    if as_json:
        print_json(agents_to_json(agents), indent=2)
    else:
        render_agents(agents, make_console())
    _missing_folder_exit(catalog)


@agents_app.command("match")
def match(
    text: Annotated[str, typer.Argument(help="The task, in your own words (quote it).")],
    dirs: AgentDirsOption = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many agents to show.")] = 5,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON list on stdout, best first.")
    ] = False,
) -> None:
    """Rank agents for a task by its words against their names and descriptions (offline)."""
    from agentflow.render.console import make_console
    from agentflow.render.matches_view import matches_to_json, render_matches
    from agentflow.routing.discovery import AgentIndex, weak_reason
    from agentflow.spec.agents import discover_agents

    catalog = discover_agents(agent_folders(dirs))
    report_problems(_problems(catalog))
    # The weak check needs the runner-up even when only the best one is shown.
    ranked = AgentIndex.build(catalog.agents.values()).match(text, max(top, 5))
    matches = ranked[:top]
    if as_json:
        print_json(matches_to_json(matches), indent=2)
    else:
        render_matches(matches, make_console())
    reason = weak_reason(ranked) if catalog.agents else None
    if reason:
        hint = "describe the task with more specific words, or name the agent"
        report_problems([Problem("agents", f"weak match: {reason}", hint=hint, severity="warning")])
    _missing_folder_exit(catalog)


def _missing_folder_exit(catalog: AgentCatalog) -> None:
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

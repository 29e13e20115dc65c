"""`agentflow runs list|show` and `agentflow report`: the run history on the command line.

Registered in agentflow.cli; kept apart only for size. Like the CLI, it is allowed to print.
"""

from __future__ import annotations

import json
import re
import time
from typing import Annotated

import typer

from agentflow.engine.summary import run_summary
from agentflow.errors import AgentflowError
from agentflow.render.console import make_console
from agentflow.render.history_view import render_report, render_runs, report_to_json, runs_to_json
from agentflow.render.messages_view import messages_to_json, render_messages
from agentflow.render.routing_view import render_routing, routing_to_json
from agentflow.render.run_view import render_run
from agentflow.store.messages import load_messages
from agentflow.store.queries import list_runs, load_run
from agentflow.store.queries import report as build_report
from agentflow.store.routing import routing_report

runs_app = typer.Typer(no_args_is_help=True, help="Past runs: list them, show one again.")

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
WorkflowOption = Annotated[
    str | None, typer.Option("--workflow", help="Only runs of this workflow (its `name`).")
]

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """Seconds in "30m", "12h", "7d", "2w" (also "90s"); AgentflowError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise AgentflowError.single(
            "--since",
            f"cannot read the duration {text!r}",
            hint="use a number and a unit: 90s, 30m, 12h, 7d or 2w",
        )
    return float(match.group(1)) * UNIT_SECONDS[match.group(2).lower()]


@runs_app.command("list")
def runs_list(
    workflow: WorkflowOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many runs at most.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List recorded runs, newest first: status, tasks, requests, tokens, cost."""
    rows = list_runs(limit, workflow)
    if as_json:
        print(json.dumps(runs_to_json(rows), indent=2))
    else:
        render_runs(rows, make_console())


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="A run id, or a unique prefix of one.")],
    messages: Annotated[
        bool,
        typer.Option(
            "--messages",
            help="Also show what agents and tools said: each task's conversation and the "
            "traffic between agents (with --json: a `messages` list).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show a recorded run: the tables printed at the end of the run, or its JSON summary."""
    run = load_run(run_id)
    events = load_messages(run.run_id) if messages else []
    if as_json:
        summary = run_summary(run)
        if messages:
            summary["messages"] = messages_to_json(events)
        print(json.dumps(summary))
        return
    console = make_console()
    render_run(run, console)
    if messages:
        console.print()
        render_messages(run, events, console)


def report(
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only this recent: 30m, 12h, 7d, 2w (default: all time)."),
    ] = None,
    workflow: WorkflowOption = None,
    routing: Annotated[
        bool,
        typer.Option(
            "--routing",
            help="Show what routing learned: which model passed which "
            "task's checks, and what pinning a model would save per run.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Spend, tokens, requests and savings from the run history, by day, model, agent, workflow."""
    # Read --since first: a bad value is an error even where it does not apply.
    start = None if since is None else time.time() - parse_duration(since)
    if routing:
        learned = routing_report(workflow)
        if as_json:
            print(json.dumps(routing_to_json(learned), indent=2))
        else:
            render_routing(learned, make_console())
        return
    result = build_report(start, workflow)
    if as_json:
        print(json.dumps(report_to_json(result), indent=2))
    else:
        render_report(result, make_console())

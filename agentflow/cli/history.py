"""`agentflow runs list|show` and `agentflow report`: the run history on the command line."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from agentflow.cli.options import (
    JsonOption,
    WorkflowNameOption,
    capped_errors,
    parse_duration,
    print_json,
)

runs_app = typer.Typer(no_args_is_help=True, help="Past runs: list them, show one again.")


@runs_app.command("list")
def runs_list(
    workflow: WorkflowNameOption = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many runs at most.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List recorded runs, newest first: status, tasks, requests, tokens, cost."""
    from agentflow.render.console import make_console
    from agentflow.render.history_view import render_runs, runs_to_json
    from agentflow.store.queries import list_runs

    rows = list_runs(limit, workflow)
    if as_json:
        print_json(runs_to_json(rows), indent=2)
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
    from agentflow.engine.summary import run_summary
    from agentflow.render.console import make_console
    from agentflow.render.messages_view import messages_to_json, render_messages
    from agentflow.render.run_view import render_run
    from agentflow.store.queries import load_messages, load_run

    run = load_run(run_id)
    events = load_messages(run.run_id) if messages else []
    if as_json:
        summary = capped_errors(run_summary(run))
        if messages:
            summary["messages"] = messages_to_json(events)
        print_json(summary)
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
    workflow: WorkflowNameOption = None,
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
    from agentflow.render.console import make_console

    # Read --since first: a bad value is an error even where it does not apply.
    start = None if since is None else time.time() - parse_duration(since, "--since")
    if routing:
        from agentflow.render.routing_view import render_routing, routing_to_json
        from agentflow.store.routing import routing_report

        learned = routing_report(workflow)
        if as_json:
            print_json(routing_to_json(learned), indent=2)
        else:
            render_routing(learned, make_console())
        return
    from agentflow.render.history_view import render_report, report_to_json
    from agentflow.store.queries import report as build_report

    result = build_report(start, workflow)
    if as_json:
        print_json(report_to_json(result), indent=2)
    else:
        render_report(result, make_console())

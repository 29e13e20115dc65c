"""The command line: parse flags, call the stages, render, exit with a stable code.

Messages go to stderr so that stdout carries only what a command produces (tables, or
exactly one JSON document with --json).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from agentflow.cli.agents import match as agents_match
from agentflow.cli.cache import cache_app
from agentflow.cli.history import report, runs_app
from agentflow.cli.options import AgentDirsOption, agent_folders
from agentflow.cli.run import patch_argv, run
from agentflow.errors import AgentflowError, ExitCode, Problem, has_errors
from agentflow.plan import build_plan
from agentflow.prices import PRICES_ENV, load_prices
from agentflow.render.agents_view import agents_to_json, render_agents
from agentflow.render.console import make_console
from agentflow.render.plan_view import plan_to_json, render_plan, weak_agent_warnings
from agentflow.spec.agents import discover_agents
from agentflow.spec.workflow import Budget
from agentflow.store.routing import learn_from_history
from agentflow.validate.workflow import ValidatedWorkflow, validate_workflow

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Run teams of LLM agents from declarative YAML workflows.",
)
agents_app = typer.Typer(
    no_args_is_help=True, help="Agent files: list them, or find the best one for a task."
)
app.add_typer(agents_app, name="agents")

PricesOption = Annotated[
    Path | None,
    typer.Option(
        "--prices",
        help=f"YAML/JSON file adding or overriding model prices (default: ${PRICES_ENV}).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Fill an input: NAME=VALUE (repeatable)."),
]


def report_problems(problems: list[Problem] | tuple[Problem, ...]) -> None:
    err = make_console(stderr=True)
    for problem in problems:
        style = "red" if problem.is_error else "yellow"
        err.print(problem.format(), style=style, markup=False, highlight=False)


def parse_sets(values: list[str] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise AgentflowError.single(
                "--set",
                f"expected NAME=VALUE, got {item!r}",
                hint="for example --set changelog=CHANGES.md",
            )
        result[name.strip()] = value
    return result


def load_valid(path: Path, prices_file: Path | None) -> ValidatedWorkflow:
    """Validate or stop with exit 2; warnings are shown either way."""
    validated = validate_workflow(path, load_prices(prices_file))
    report_problems([p for p in validated.problems if not p.is_error])
    if not validated.ok:
        raise AgentflowError([p for p in validated.problems if p.is_error])
    return validated


@app.command()
def validate(
    workflows: Annotated[list[Path], typer.Argument(help="Workflow files to check.")],
    prices: PricesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check workflow files and their agents; report every problem as FILE:LINE:COL."""
    table = load_prices(prices)
    results = [validate_workflow(path, table) for path in workflows]
    if as_json:
        print(
            json.dumps(
                {"files": [_validation_json(p, r) for p, r in zip(workflows, results, strict=True)]}
            )
        )
    else:
        out = make_console()
        for path, result in zip(workflows, results, strict=True):
            report_problems(result.problems)
            if result.ok and result.workflow is not None:
                wf = result.workflow
                out.print(
                    f"{path}: ok ({len(wf.tasks)} tasks, "
                    f"{len(result.agents.agents) if result.agents else 0} agents)"
                )
    if any(has_errors(list(r.problems)) or r.workflow is None for r in results):
        raise typer.Exit(ExitCode.INVALID)


def _validation_json(path: Path, result: ValidatedWorkflow) -> dict[str, Any]:
    return {
        "file": str(path),
        "ok": result.ok,
        "problems": [
            {
                "file": p.file,
                "line": p.line,
                "col": p.col,
                "severity": p.severity,
                "message": p.message,
                "hint": p.hint,
            }
            for p in result.problems
        ],
    }


@app.command()
def plan(
    workflow: Annotated[Path, typer.Argument(help="The workflow file.")],
    set_: SetOption = None,
    budget: Annotated[
        float | None,
        typer.Option(
            "--budget", min=0.0, help="Check against this cap in USD instead of budget.usd."
        ),
    ] = None,
    prices: PricesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what a run would do and cost at most: waves, models, tokens. No API call."""
    validated = load_valid(workflow, prices)
    assert validated.workflow is not None and validated.agents is not None
    cap = validated.workflow.budget
    if budget is not None:
        cap = Budget(usd=budget, tokens=cap.tokens)
    table = load_prices(prices)
    the_plan = build_plan(
        validated.workflow,
        validated.agents,
        table,
        parse_sets(set_),
        budget=cap,
        learned=learn_from_history(validated.workflow, table),
    )
    report_problems(weak_agent_warnings(the_plan))
    if as_json:
        print(json.dumps(plan_to_json(the_plan), indent=2 if len(the_plan.tasks) <= 200 else None))
    else:
        render_plan(the_plan, make_console())


app.command()(run)


@agents_app.command("list")
def agents_list(
    dirs: AgentDirsOption = None,
    as_json: JsonOption = False,
) -> None:
    """List agent files: name, model, tools, description, file."""
    catalog = discover_agents(agent_folders(dirs))
    report_problems(catalog.problems)
    agents = list(catalog.loaded)
    if as_json:
        print(json.dumps(agents_to_json(agents), indent=2))
    else:
        render_agents(agents, make_console())
    missing = [p for p in catalog.problems if p.is_error and "agent folder" in p.message]
    if missing:
        raise typer.Exit(ExitCode.INVALID)


app.add_typer(runs_app, name="runs")
app.command("report")(report)
app.add_typer(cache_app, name="cache")
agents_app.command("match")(agents_match)


def main() -> None:
    patch_argv()
    try:
        result = app(standalone_mode=False)
        sys.exit(result if isinstance(result, int) else 0)
    except AgentflowError as error:
        report_problems(error.problems)
        sys.exit(int(error.exit_code))
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.TyperException as usage:  # typer's own click: usage errors, bad parameters
        show = getattr(usage, "show", None)
        if callable(show):
            show()
        else:
            make_console(stderr=True).print(f"agentflow: {usage}", markup=False)
        sys.exit(int(ExitCode.INVALID))
    except (KeyboardInterrupt, typer.Abort):
        make_console(stderr=True).print("interrupted")
        sys.exit(int(ExitCode.INTERRUPTED))
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        if os.environ.get("AGENTFLOW_DEBUG"):
            raise
        make_console(stderr=True).print(
            f"agentflow: internal error: {type(exc).__name__}: {exc} "
            "(set AGENTFLOW_DEBUG=1 for a traceback, and please report it)",
            markup=False,
        )
        sys.exit(int(ExitCode.TASK_FAILED))

"""`agentflow validate` and `agentflow plan`: check workflow files, and show what a run
would do and cost at most."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentflow.cli.options import (
    JsonOption,
    PricesOption,
    SetOption,
    capped,
    parse_sets,
    print_json,
    report_problems,
)
from agentflow.errors import ExitCode

if TYPE_CHECKING:
    from agentflow.validate.workflow import ValidatedWorkflow


def validate(
    workflows: Annotated[list[Path], typer.Argument(help="Workflow files to check.")],
    prices: PricesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check workflow files and their agents; report every problem as FILE:LINE:COL."""
    from agentflow.prices import load_prices
    from agentflow.render.console import make_console
    from agentflow.validate.workflow import validate_workflow

    table = load_prices(prices)
    results = [validate_workflow(path, table) for path in workflows]
    if as_json:
        print_json(
            {"files": [_validation_json(p, r) for p, r in zip(workflows, results, strict=True)]}
        )
    else:
        out = make_console()
        for path, result in zip(workflows, results, strict=True):
            report_problems(result.problems)
            if result.ok and result.workflow is not None:
                agents = len(result.agents.agents) if result.agents else 0
                out.print(f"{path}: ok ({len(result.workflow.tasks)} tasks, {agents} agents)")
    if not all(r.ok for r in results):
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
            for p in map(capped, result.problems)
        ],
    }


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
    from agentflow.prepare import prepare
    from agentflow.render.console import make_console
    from agentflow.render.plan_view import plan_to_json, render_plan

    prepared = prepare(workflow, inputs=parse_sets(set_), prices_file=prices, budget_usd=budget)
    report_problems(prepared.warnings)
    the_plan = prepared.plan
    if as_json:
        print_json(plan_to_json(the_plan), indent=2 if len(the_plan.tasks) <= 200 else None)
    else:
        render_plan(the_plan, make_console())

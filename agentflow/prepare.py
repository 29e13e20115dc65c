"""From a workflow file to a plan, the one way `plan` and `run` both go: load the prices,
validate, learn from the run history (adaptive routing's escalate starts, each task's
real duration), plan, and collect what deserves a warning.

Nothing is worked out twice: the prices are loaded once, validation's agent picks, tool
selections and model choices are the plan's, and the budget in force (a command's flags
over the file's `budget:`) is settled here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agentflow.errors import AgentflowError, Problem
from agentflow.plan.build import build_plan
from agentflow.plan.model import Plan
from agentflow.prices import PriceTable, load_prices
from agentflow.spec.workflow import Workflow
from agentflow.store.durations import learned_durations
from agentflow.store.routing import learn_from_history
from agentflow.validate.workflow import validate_workflow


@dataclass(frozen=True)
class Prepared:
    plan: Plan
    prices: PriceTable
    warnings: tuple[Problem, ...] = field(default=())  # for the user; none stops the run


def prepare(
    path: Path,
    *,
    inputs: Mapping[str, str] | None = None,
    prices_file: Path | None = None,
    budget_usd: float | None = None,
    budget_tokens: int | None = None,
    estimate: bool = True,
    history: Path | None = None,
) -> Prepared:
    """The plan of the workflow at `path`, or AgentflowError (exit 2) carrying every
    problem, warnings included. `inputs` fill the workflow's inputs (--set); `budget_usd`
    and `budget_tokens` override the file's cap; `estimate` adds token and cost estimates;
    `history` is the run history to learn from (default: the state folder's)."""
    prices = load_prices(prices_file)
    validated = validate_workflow(path, prices)
    if not validated.ok or validated.workflow is None:
        raise AgentflowError([*validated.warnings, *validated.errors])
    workflow = validated.workflow
    try:
        plan = build_plan(
            validated,
            prices,
            inputs=inputs or {},
            budget=workflow.budget.overridden(usd=budget_usd, tokens=budget_tokens),
            learned=learn_from_history(workflow, prices, path=history),
            durations=learned_durations(workflow.name, path=history),
            estimate=estimate,
        )
    except AgentflowError as error:  # a missing input: the warnings still deserve a look
        raise AgentflowError([*validated.warnings, *error.problems], error.exit_code) from None
    return Prepared(plan, prices, (*validated.warnings, *weak_agent_warnings(workflow, plan)))


def weak_agent_warnings(workflow: Workflow, plan: Plan) -> list[Problem]:
    """`agent: auto` picks that are not convincing: the user should name the agent."""
    found = []
    for task in plan.tasks.values():
        if task.agent_weak:
            words = ", ".join(task.agent_matched) or "nothing"
            line, col = workflow.position(("tasks", task.id, "agent"))
            found.append(
                Problem(
                    str(workflow.path),
                    f"task {task.id!r}: agent: auto picked {task.agent!r} with a weak match "
                    f"(score {task.agent_score or 0:.2f}; matched: {words})",
                    line,
                    col,
                    "name the agent, or describe the task in the agent's words",
                    "warning",
                )
            )
    return found

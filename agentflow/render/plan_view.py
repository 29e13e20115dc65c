"""The plan as a table for people and as the contract JSON for programs."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from agentflow.errors import Problem
from agentflow.plan import Plan, PlannedTask
from agentflow.render.console import count, table_box, usd


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "workflow": plan.workflow.name,
        "file": str(plan.workflow.path),
        "waves": [list(w) for w in plan.waves],
        "critical_path": list(plan.critical_path),
        "critical_path_seconds": round(plan.critical_path_seconds, 3),
        "tasks": {
            t.id: {
                "wave": t.wave,
                "needs": list(t.needs),
                "agent": t.agent,
                "agent_score": None if t.agent_score is None else round(t.agent_score, 3),
                "agent_matched": list(t.agent_matched),
                "model": t.model,
                "model_reason": t.model_reason,
                "tier": t.tier,
                "escalate": list(t.escalate),
                "tools": list(t.tools),
                "max_turns": t.max_turns,
                "est_input_tokens": t.est_input_tokens,
                "max_input_tokens": t.max_input_tokens,
                "max_output_tokens": t.max_output_tokens,
                "attempts": t.attempts,
                "max_cost_usd": round(t.max_cost_usd, 6),
                "est_cost_usd": round(t.est_cost_usd, 6),
                "est_cache_write_tokens": t.est_cache_write_tokens,
                "est_cache_read_tokens": t.est_cache_read_tokens,
                "budget_covered": t.budget_covered,
            }
            for t in plan.tasks.values()
        },
        "totals": {
            "tasks": len(plan.tasks),
            "max_cost_usd": round(plan.max_cost_usd, 6),
            "est_cost_usd": round(plan.est_cost_usd, 6),
            "est_cache_read_tokens": sum(t.est_cache_read_tokens for t in plan.tasks.values()),
            "est_cache_write_tokens": sum(t.est_cache_write_tokens for t in plan.tasks.values()),
        },
        "budget": {
            "usd": plan.budget.usd,
            "tokens": plan.budget.tokens,
            "fits": plan.budget.fits,
            "uncovered": list(plan.budget.uncovered),
        },
    }


def render_plan(plan: Plan, console: Console) -> None:
    wf = plan.workflow
    console.print(
        f"Plan for {wf.name} ({wf.path}): {len(plan.tasks)} tasks in "
        f"{len(plan.waves)} waves, no API call made"
    )
    table = Table(box=table_box(console), show_footer=True)
    table.add_column("wave", justify="right", footer="")
    table.add_column("task", footer="total")
    table.add_column("needs")
    table.add_column("agent")
    table.add_column("model")
    table.add_column("why")
    table.add_column("in tok (est)", justify="right")
    table.add_column("max out", justify="right")
    table.add_column("est cost", justify="right", footer=usd(plan.est_cost_usd))
    table.add_column("max cost", justify="right", footer=usd(plan.max_cost_usd))
    for t in plan.tasks.values():
        table.add_row(
            str(t.wave),
            t.id,
            ", ".join(t.needs) or "-",
            _agent_cell(t),
            t.model,
            t.model_reason,
            count(t.est_input_tokens),
            count(t.max_output_tokens),
            usd(t.est_cost_usd),
            usd(t.max_cost_usd),
        )
    console.print(table)
    console.print(
        f"Critical path: {' -> '.join(plan.critical_path)} (~{plan.critical_path_seconds:.0f}s)"
    )
    _render_loops(plan, console)
    _render_prompt_cache(plan, console)
    _render_budget(plan, console)


def _render_loops(plan: Plan, console: Console) -> None:
    """Tasks that run as tool-use loops, and tasks that wait for shared state: neither shows
    in the waves, which follow `needs` only."""
    for t in plan.tasks.values():
        if t.tools:
            console.print(
                f"Tool loop: {t.id} with {', '.join(t.tools)}, at most {t.max_turns} turns "
                f"(max cost counts {t.max_turns} turns of the first one's size)"
            )
    workflow = plan.workflow
    for task in workflow.tasks.values():
        for key in task.waits_for:
            setters = [t.id for t in workflow.tasks.values() if key in t.sets and t.id != task.id]
            console.print(
                f"Waits: {task.id} starts once state.{key} is set (by {', '.join(setters)})"
            )


def _agent_cell(task: PlannedTask) -> str:
    if task.agent_score is None:
        return task.agent or "-"
    weak = ", weak" if task.agent_weak else ""
    return f"{task.agent or '-'} (auto {task.agent_score:.1f}{weak})"


def weak_agent_warnings(plan: Plan) -> list[Problem]:
    """`agent: auto` picks that are not convincing: the user should name the agent."""
    found = []
    for task in plan.tasks.values():
        if task.agent_weak:
            words = ", ".join(task.agent_matched) or "nothing"
            line, col = plan.workflow.position(("tasks", task.id, "agent"))
            found.append(
                Problem(
                    str(plan.workflow.path),
                    f"task {task.id!r}: agent: auto picked {task.agent!r} with a weak match "
                    f"(score {task.agent_score or 0:.2f}; matched: {words})",
                    line,
                    col,
                    "name the agent, or describe the task in the agent's words",
                    "warning",
                )
            )
    return found


def _render_prompt_cache(plan: Plan, console: Console) -> None:
    reads = sum(t.est_cache_read_tokens for t in plan.tasks.values())
    writes = sum(t.est_cache_write_tokens for t in plan.tasks.values())
    if not reads and not writes:
        console.print("Prompt caching: no system prompt is long enough to cache")
        return
    sharing = sum(1 for t in plan.tasks.values() if t.est_cache_read_tokens)
    console.print(
        f"Prompt caching: expect {count(writes)} tokens written to the cache and "
        f"{count(reads)} read from it ({sharing} tasks reuse a cached agent prompt)"
    )


def _render_budget(plan: Plan, console: Console) -> None:
    budget = plan.budget
    if budget.usd is None and budget.tokens is None:
        console.print(
            f"Budget: none set (worst case {usd(plan.max_cost_usd)}, every retry included)"
        )
        return
    caps = " and ".join(
        part
        for part in (
            f"{usd(budget.usd)}" if budget.usd is not None else "",
            f"{count(budget.tokens)} tokens" if budget.tokens is not None else "",
        )
        if part
    )
    if budget.fits:
        console.print(f"Budget: {caps}: the worst case ({usd(plan.max_cost_usd)}) fits")
    else:
        console.print(
            f"Budget: {caps}: the worst case ({usd(plan.max_cost_usd)}) does not fit; "
            f"not covered in the worst case: {', '.join(budget.uncovered)}"
        )

"""The plan as a table for people and as the contract JSON for programs."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from agentflow.plan.model import Estimate, Plan, PlannedTask, TaskEstimate
from agentflow.render.console import count, table_box, usd


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """The contract JSON of `plan --json` (a plan made with its estimate)."""
    estimate = _estimate(plan)
    return {
        "workflow": plan.name,
        "file": str(plan.file),
        "waves": [list(w) for w in plan.waves],
        "critical_path": list(plan.critical_path),
        "critical_path_seconds": round(plan.critical_path_seconds, 3),
        "learned_durations": sum(1 for t in plan.tasks.values() if t.learned is not None),
        "tasks": {t.id: _task_json(t, estimate.tasks[t.id]) for t in plan.tasks.values()},
        "totals": {
            "tasks": len(plan.tasks),
            "max_cost_usd": round(estimate.max_cost_usd, 6),
            # How the worst case counts input: "bytes", an upper bound whatever the text.
            "input_bound": "bytes",
            "est_cost_usd": round(estimate.cost_usd, 6),
            "est_cache_read_tokens": sum(e.cache_read_tokens for e in estimate.tasks.values()),
            "est_cache_write_tokens": sum(e.cache_write_tokens for e in estimate.tasks.values()),
        },
        "budget": {
            "usd": plan.budget.usd,
            "tokens": plan.budget.tokens,
            "fits": estimate.fits,
            "uncovered": list(estimate.uncovered),
        },
    }


def _estimate(plan: Plan) -> Estimate:
    if plan.estimate is None:
        raise ValueError("the plan was made without its estimate (build_plan(estimate=True))")
    return plan.estimate


def _task_json(t: PlannedTask, e: TaskEstimate) -> dict[str, Any]:
    return {
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
        "est_seconds": round(t.est_seconds, 3),
        "learned_seconds": None if t.learned is None else round(t.learned.seconds, 3),
        "learned_runs": 0 if t.learned is None else t.learned.runs,
        "est_input_tokens": e.input_tokens,
        "max_input_tokens": e.max_input_tokens,
        "max_output_tokens": e.max_output_tokens,
        "attempts": t.attempts,
        "max_cost_usd": round(e.max_cost_usd, 6),
        "est_cost_usd": round(e.cost_usd, 6),
        "est_cache_write_tokens": e.cache_write_tokens,
        "est_cache_read_tokens": e.cache_read_tokens,
        "budget_covered": e.budget_covered,
    }


def render_plan(plan: Plan, console: Console) -> None:
    estimate = _estimate(plan)
    console.print(
        f"Plan for {plan.name} ({plan.file}): {len(plan.tasks)} tasks in "
        f"{len(plan.waves)} waves, no API call made"
    )
    rows = [_row(t, estimate.tasks[t.id]) for t in plan.tasks.values()]
    footer = [
        "",
        "total",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        usd(estimate.cost_usd),
        usd(estimate.max_cost_usd),
    ]
    if len(rows) > LARGE_PLAN_TASKS:
        _plain_table(rows, footer, console)
    else:
        table = Table(box=table_box(console), show_footer=True)
        for (header, right), bottom in zip(_COLUMNS, footer, strict=True):
            table.add_column(header, justify="right" if right else "left", footer=bottom)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    console.print(
        f"Critical path: {' -> '.join(plan.critical_path)} (~{plan.critical_path_seconds:.0f}s)"
    )
    _render_durations(plan, console)
    _render_loops(plan, console)
    _render_prompt_cache(estimate, console)
    _render_budget(plan, estimate, console)


# Above this many tasks the table is laid out here, in one pass over the rows: rich takes
# milliseconds a row to measure and wrap cells, minutes for 100,000 tasks.
LARGE_PLAN_TASKS = 1_000
_COLUMNS = (  # (header, right-aligned)
    ("wave", True),
    ("task", False),
    ("needs", False),
    ("agent", False),
    ("model", False),
    ("why", False),
    ("time", True),
    ("in tok (est)", True),
    ("max out", True),
    ("est cost", True),
    ("max cost", True),
)


def _row(t: PlannedTask, e: TaskEstimate) -> list[str]:
    return [
        str(t.wave),
        t.id,
        ", ".join(t.needs) or "-",
        _agent_cell(t),
        t.model,
        t.model_reason,
        _time_cell(t),
        count(e.input_tokens),
        count(e.max_output_tokens),
        usd(e.cost_usd),
        usd(e.max_cost_usd),
    ]


def _plain_table(rows: list[list[str]], footer: list[str], console: Console) -> None:
    """The same columns as plain aligned text, each column as wide as its widest cell."""
    headers = [header for header, _ in _COLUMNS]
    widths = [len(h) for h in headers]
    for row in (*rows, footer):
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(w) if right else cell.ljust(w)
            for cell, w, (_, right) in zip(cells, widths, _COLUMNS, strict=True)
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = [line(headers), rule, *(line(row) for row in rows), rule, line(footer)]
    for start in range(0, len(lines), 10_000):
        console.out("\n".join(lines[start : start + 10_000]), highlight=False)


def _render_loops(plan: Plan, console: Console) -> None:
    """Tasks that run as tool-use loops, and tasks that wait for shared state: neither shows
    in the waves, which follow `needs` only."""
    for t in plan.tasks.values():
        if t.tools:
            console.print(
                f"Tool loop: {t.id} with {', '.join(t.tools)}, at most {t.max_turns} turns "
                f"(max cost counts {t.max_turns} turns of the first one's size)"
            )
    ordered = _in_file_order(plan)
    setters: dict[str, list[str]] = {}  # state key -> the tasks that declare they set it
    for t in ordered:
        for key in t.sets:
            setters.setdefault(key, []).append(t.id)
    for task in ordered:
        for key in task.waits_for:
            by = ", ".join(s for s in setters.get(key, ()) if s != task.id)
            console.print(f"Waits: {task.id} starts once state.{key} is set (by {by})")


def _time_cell(task: PlannedTask) -> str:
    if task.learned is None:
        return f"~{task.est_seconds:.0f}s"
    return f"{task.learned.seconds:.2f}s learned"


def _render_durations(plan: Plan, console: Console) -> None:
    """Whether the priorities (and the critical path) come from real durations."""
    learned = [t for t in plan.tasks.values() if t.learned is not None]
    if not learned:
        console.print("Durations: estimated (no earlier run of this workflow to learn from)")
        return
    runs = max(t.learned.runs for t in learned if t.learned is not None)
    rest = len(plan.tasks) - len(learned)
    console.print(
        f"Durations: learned for {len(learned)} of {len(plan.tasks)} tasks (the median of "
        f"their last {runs} run{'s' if runs > 1 else ''} at most)"
        + (f", estimated for {rest}" if rest else "")
        + "; a run starts the ready task with the longest remaining path first"
    )


def _in_file_order(plan: Plan) -> list[PlannedTask]:
    return sorted(plan.tasks.values(), key=lambda t: t.position)


def _agent_cell(task: PlannedTask) -> str:
    if task.agent_score is None:
        return task.agent or "-"
    weak = ", weak" if task.agent_weak else ""
    return f"{task.agent or '-'} (auto {task.agent_score:.1f}{weak})"


def _render_prompt_cache(estimate: Estimate, console: Console) -> None:
    reads = sum(e.cache_read_tokens for e in estimate.tasks.values())
    writes = sum(e.cache_write_tokens for e in estimate.tasks.values())
    if not reads and not writes:
        console.print("Prompt caching: no system prompt is long enough to cache")
        return
    sharing = sum(1 for e in estimate.tasks.values() if e.cache_read_tokens)
    console.print(
        f"Prompt caching: expect {count(writes)} tokens written to the cache and "
        f"{count(reads)} read from it ({sharing} tasks reuse a cached agent prompt)"
    )


def _render_budget(plan: Plan, estimate: Estimate, console: Console) -> None:
    budget = plan.budget
    worst = usd(estimate.max_cost_usd)
    if budget.usd is None and budget.tokens is None:
        console.print(f"Budget: none set (worst case {worst}, every retry included)")
        return
    caps = " and ".join(
        part
        for part in (
            f"{usd(budget.usd)}" if budget.usd is not None else "",
            f"{count(budget.tokens)} tokens" if budget.tokens is not None else "",
        )
        if part
    )
    console.print(
        "Worst case: each prompt's input bounded by its UTF-8 bytes (a token is at least a "
        "byte, so this holds whatever the text); the run reserves the same bound, or the "
        "API's own count with --exact-count"
    )
    if estimate.fits:
        console.print(f"Budget: {caps}: the worst case ({worst}) fits")
    else:
        console.print(
            f"Budget: {caps}: the worst case ({worst}) does not fit; "
            f"not covered in the worst case: {', '.join(estimate.uncovered)}"
        )

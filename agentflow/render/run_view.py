"""A run for people: the live view while it runs, the tables when it ends."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from agentflow.engine.results import RunResult, TaskResult
from agentflow.prices import Usage
from agentflow.render.console import count, plural, table_box, usd
from agentflow.render.text import printable

STATUS_STYLE = {
    "pending": "dim",
    "running": "cyan",
    "succeeded": "green",
    "cached": "green",
    "failed": "red",
    "skipped": "yellow",
    "budget": "magenta",
    "cancelled": "yellow",
}


def _seconds(task: TaskResult) -> str:
    if task.started_at is None:
        return "-"
    end = task.ended_at or time.time()
    return f"{end - task.started_at:.1f}s"


def _status(task: TaskResult) -> Text:
    return Text(printable(task.status), style=STATUS_STYLE.get(task.status, ""))


class LiveBoard:
    """The live view: one line per task, fed by the engine's task events."""

    def __init__(self, tasks: list[TaskResult]) -> None:
        self.tasks = {task.id: task for task in tasks}

    def update(self, task: TaskResult) -> None:
        self.tasks[task.id] = task

    def __rich__(self) -> Table:
        table = Table(box=None, pad_edge=False)
        for name in ("task", "status", "model", "tokens in/out", "cost", "time"):
            table.add_column(name, justify="right" if name in ("cost", "time") else "left")
        for task in self.tasks.values():
            usage = task.usage
            table.add_row(
                task.id,
                _status(task),
                task.model,
                f"{count(usage.total_input_tokens)}/{count(usage.output_tokens)}",
                usd(task.cost_usd),
                _seconds(task),
            )
        return table


def _cut(text: str | None, width: int = 60) -> str:
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _cost(amount: float, estimated: float) -> str:
    """A cost; `≤` when part of it is an upper bound (attempts whose outcome is unknown)."""
    return f"≤{usd(amount)}" if estimated > 0 else usd(amount)


def _note(task: TaskResult) -> str:
    note = _what_happened(task)
    if task.truncated:
        return f"truncated at max_tokens; {note}" if note else "truncated at max_tokens"
    return note


def _what_happened(task: TaskResult) -> str:
    models = list(dict.fromkeys(a.model for a in task.attempts if a.purpose == "answer"))
    classified = [a for a in task.attempts if a.purpose == "classify"]
    if classified and len(models) == 1:
        if any(a.ok for a in classified):
            return f"tier chosen by {classified[0].model}"
        return f"no usable tier from {classified[0].model}; offline tier: {models[0]}"
    if len(models) > 1:
        escalated = f"escalated {' -> '.join(models)}"
        return f"{escalated}; {_cut(task.error, 40)}" if task.error else escalated
    if task.turns:
        asked = len({a.purpose for a in task.attempts if a.purpose.startswith("ask:")})
        loop = f"{plural(task.turns, 'turn')}, {plural(task.tool_calls, 'tool call')}"
        loop += f", asked {plural(asked, 'agent')}" if asked else ""
        loop += " (from the cache)" if task.source == "cache" else ""
        return f"{loop}; {_cut(task.error, 60)}" if task.error else loop
    if task.source == "cache":
        return "response cache"
    if task.source == "resume":
        return "resumed from an earlier run"
    return _cut(task.error)


def _saved(task: TaskResult) -> float:
    return task.saved_usd + task.prompt_cache_saved_usd


def tasks_table(run: RunResult, console: Console) -> Table:
    table = Table(box=table_box(console), show_footer=True, title=f"run {run.run_id}")
    usage = run.usage
    columns = [
        ("task", "total"),
        ("status", run.status),
        ("agent", ""),
        ("model", ""),
        ("tries", str(run.requests)),
        ("input", count(usage.input_tokens)),
        ("output", count(usage.output_tokens)),
        ("cache write", count(usage.cache_creation_input_tokens)),
        ("cache read", count(usage.cache_read_input_tokens)),
        ("cost", _cost(run.cost_usd, run.estimated_usd)),
        ("saved", usd(run.saved_usd)),
        ("time", f"{run.wall_seconds:.1f}s"),
        ("note", ""),
    ]
    for name, footer in columns:
        right = name not in ("task", "status", "agent", "model", "note")
        table.add_column(name, footer=footer, justify="right" if right else "left")
    for task in run.tasks.values():
        u = task.usage
        table.add_row(
            task.id,
            _status(task),
            task.agent or "-",
            task.model,
            str(task.requests),
            count(u.input_tokens),
            count(u.output_tokens),
            count(u.cache_creation_input_tokens),
            count(u.cache_read_input_tokens),
            _cost(task.cost_usd, task.estimated_usd),
            usd(_saved(task)),
            _seconds(task),
            _note(task),
        )
    return table


@dataclass
class _Group:
    tasks: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float = 0.0
    saved: float = 0.0


def cost_table(run: RunResult, console: Console, by: str) -> Table:
    """Spend and savings grouped by `model` (each attempt on the model it was made on, so
    an escalated task's cost is split between its models) or `agent`."""
    groups: dict[str, _Group] = defaultdict(_Group)
    for task in run.tasks.values():
        if not task.attempts and not task.source:
            continue
        if by == "model":
            _by_model(task, groups)
            continue
        group = groups[task.agent or "(no agent)"]
        group.tasks += 1
        group.usage = group.usage + task.usage
        group.cost += task.cost_usd
        group.saved += _saved(task)
    table = Table(box=table_box(console), title=f"cost by {by}")
    for name in (by, "tasks", "input", "output", "cache write", "cache read", "cost", "saved"):
        table.add_column(name, justify="left" if name == by else "right")
    for key, group in sorted(groups.items(), key=lambda item: -item[1].cost):
        u = group.usage
        table.add_row(
            key,
            str(group.tasks),
            count(u.input_tokens),
            count(u.output_tokens),
            count(u.cache_creation_input_tokens),
            count(u.cache_read_input_tokens),
            usd(group.cost),
            usd(group.saved),
        )
    return table


def _by_model(task: TaskResult, groups: dict[str, _Group]) -> None:
    """A task's attempts under the models they were made on; what a cache or an earlier run
    saved, under the model of its answer."""
    models = list(dict.fromkeys(a.model for a in task.attempts)) or [task.model]
    for model in models:
        groups[model].tasks += 1
    for attempt in task.attempts:
        group = groups[attempt.model]
        group.usage = group.usage + attempt.usage
        group.cost += attempt.cost_usd
        group.saved += attempt.prompt_cache_saved_usd
    groups[task.model].saved += task.saved_usd


def render_run(run: RunResult, console: Console) -> None:
    console.print(tasks_table(run, console))
    if run.requests or any(t.source for t in run.tasks.values()):
        console.print(Group(cost_table(run, console, "model"), cost_table(run, console, "agent")))
    if run.estimated_usd > 0:
        abandoned = sum(a.estimated for t in run.tasks.values() for a in t.attempts)
        console.print(
            f"≤: {plural(abandoned, 'attempt')} ended without a known outcome (timed out, "
            f"cancelled or unreadable) and {'is' if abandoned == 1 else 'are'} charged at "
            f"the most the API can bill ({usd(run.estimated_usd)} in all)"
        )
    counts = ", ".join(f"{n} {status}" for status in STATUS_STYLE if (n := run.count(status)))
    console.print(f"{run.workflow}: {run.status} ({counts}); outputs in {run.run_dir}")

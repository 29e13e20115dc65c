"""The run history for people (`runs list`, `report` tables) and programs (their JSON)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agentflow.render.console import count, table_box, usd
from agentflow.render.run_view import STATUS_STYLE
from agentflow.render.text import printable
from agentflow.store.queries import Report, RunRow, Spend

RUN_STATUS_STYLE = {
    **STATUS_STYLE,
    "budget_exceeded": "magenta",
    "interrupted": "yellow",
}


def _when(seconds: float | None) -> str:
    # UTC, like run ids and report days, so the three agree wherever the history is read.
    return "-" if seconds is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


def _round(value: float) -> float:
    return round(value, 8)  # as in the run summary: no float noise in JSON


def runs_to_json(rows: list[RunRow]) -> list[dict[str, Any]]:
    return [
        {
            "run_id": row.run_id,
            "workflow": row.workflow,
            "workflow_file": row.workflow_file,
            "status": row.status,
            "started_at": row.started_at,
            "ended_at": row.ended_at,
            "tasks": row.tasks,
            "succeeded": row.succeeded,
            "failed": row.failed,
            "requests": row.requests,
            "usage": row.usage.as_dict(),
            "cost_usd": _round(row.cost_usd),
            "saved_usd": _round(row.saved_usd),
        }
        for row in rows
    ]


def render_runs(rows: list[RunRow], console: Console) -> None:
    if not rows:
        console.print("no runs recorded yet (agentflow run WORKFLOW records one)")
        return
    table = Table(box=table_box(console), title=f"{len(rows)} runs (newest first, UTC)")
    columns = ("run id", "workflow", "status", "started", "time", "tasks ok/all", "requests")
    for name in (*columns, "input", "output", "cost", "saved"):
        left = name in ("run id", "workflow", "status", "started")
        table.add_column(name, justify="left" if left else "right", no_wrap=name == "run id")
    for row in rows:
        duration = "-" if row.ended_at is None else f"{row.ended_at - row.started_at:.1f}s"
        table.add_row(
            row.run_id,
            row.workflow,
            Text(printable(row.status), style=RUN_STATUS_STYLE.get(row.status, "")),
            _when(row.started_at),
            duration,
            f"{row.succeeded}/{row.tasks}",
            str(row.requests),
            count(row.usage.total_input_tokens),
            count(row.usage.output_tokens),
            usd(row.cost_usd),
            usd(row.saved_usd),
        )
    console.print(table)


def _spend_json(spend: Spend, key: str) -> dict[str, Any]:
    return {
        key: spend.key,
        "runs": spend.runs,
        "requests": spend.requests,
        "usage": spend.usage.as_dict(),
        "cost_usd": _round(spend.cost_usd),
        "saved_usd": _round(spend.saved_usd),
    }


def report_to_json(report: Report) -> dict[str, Any]:
    total = _spend_json(report.total, "key")
    del total["key"]
    return {
        "since": report.since,
        "workflow": report.workflow,
        "totals": total,
        "by_day": [_spend_json(s, "day") for s in report.by_day],
        "by_model": [_spend_json(s, "model") for s in report.by_model],
        "by_agent": [_spend_json(s, "agent") for s in report.by_agent],
        "by_workflow": [_spend_json(s, "workflow") for s in report.by_workflow],
    }


def _spend_table(title: str, key: str, rows: tuple[Spend, ...], console: Console) -> Table:
    table = Table(box=table_box(console), title=title)
    names = (key, "runs", "requests", "input", "output", "cache write", "cache read")
    for name in (*names, "cost", "saved"):
        table.add_column(name, justify="left" if name == key else "right")
    for spend in rows:
        u = spend.usage
        table.add_row(
            spend.key,
            str(spend.runs),
            str(spend.requests),
            count(u.input_tokens),
            count(u.output_tokens),
            count(u.cache_creation_input_tokens),
            count(u.cache_read_input_tokens),
            usd(spend.cost_usd),
            usd(spend.saved_usd),
        )
    return table


def render_report(report: Report, console: Console) -> None:
    scope = f"since {_when(report.since)} UTC" if report.since is not None else "all time"
    if report.workflow:
        scope += f", workflow {report.workflow}"
    total = report.total
    if not total.requests and not total.saved_usd:
        console.print(f"nothing recorded ({scope})")
        return
    for title, key, rows in (
        ("by day (UTC)", "day", report.by_day),
        ("by model", "model", report.by_model),
        ("by agent", "agent", report.by_agent),
        ("by workflow", "workflow", report.by_workflow),
    ):
        console.print(_spend_table(f"spend {title}", key, rows, console))
    console.print(
        f"{scope}: {usd(total.cost_usd)} spent over {total.requests} requests in "
        f"{total.runs} runs; {count(total.usage.total_input_tokens)} tokens in, "
        f"{count(total.usage.output_tokens)} out; {usd(total.saved_usd)} saved by caching"
    )

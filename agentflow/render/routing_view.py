"""`agentflow report --routing`: what the history taught about models."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from rich.console import Console
from rich.table import Table

from agentflow.render.console import table_box, usd
from agentflow.store.routing import RoutingReport


def routing_to_json(reports: list[RoutingReport]) -> dict[str, Any]:
    return {
        "workflows": [
            {
                "workflow": r.workflow,
                "models": [asdict(s) for s in r.stats],
                "suggestions": [asdict(s) for s in r.suggestions],
            }
            for r in reports
        ]
    }


def render_routing(reports: list[RoutingReport], console: Console) -> None:
    if not reports:
        console.print("no runs recorded yet: routing has nothing to learn from")
        return
    for report in reports:
        table = Table(
            box=table_box(console), title=f"{report.workflow}: models per task (recent runs)"
        )
        for name in ("task", "model", "runs", "passed", "failed checks", "cost/run"):
            table.add_column(name, justify="left" if name in ("task", "model") else "right")
        for stat in report.stats:
            table.add_row(
                stat.task_id,
                stat.model,
                str(stat.runs),
                str(stat.passes),
                str(stat.check_failures),
                usd(stat.cost_per_run_usd),
            )
        console.print(table)
        for s in report.suggestions:
            console.print(
                f"suggestion: pin task {s.task_id!r} to {s.pin_model} (passed "
                f"{s.passes} runs in a row): saves {usd(s.saving_per_run_usd)} per run"
            )
        if not report.suggestions:
            console.print("no suggestions yet")

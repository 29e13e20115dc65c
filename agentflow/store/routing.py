"""The run history's view of routing: which model passed which task's checks, per run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agentflow.prices import PriceTable
from agentflow.routing.adaptive import (
    RECENT_RUNS,
    LearnedStart,
    ModelRecord,
    RouteStat,
    Suggestion,
    learned_starts,
    route_stats,
    suggestions,
)
from agentflow.routing.choose import escalate_chain
from agentflow.spec.workflow import Workflow
from agentflow.store.db import reading
from agentflow.store.migrations import SIMULATED

_RECORDS = f"""
SELECT a.run_id, a.task_id, a.model,
       MAX(a.ok) AS passed,
       MAX(CASE WHEN a.error_kind = 'invalid_output' THEN 1 ELSE 0 END) AS failed_checks,
       SUM(a.cost_usd) AS cost_usd,
       MAX(r.started_at) AS started_at
FROM attempts a JOIN runs r ON r.run_id = a.run_id
WHERE a.purpose = 'answer' AND r.run_id IN (
    SELECT run_id FROM runs WHERE workflow = :workflow AND coalesce(provider, '') != '{SIMULATED}'
    ORDER BY started_at DESC LIMIT :runs)
GROUP BY a.run_id, a.task_id, a.model
ORDER BY started_at DESC, a.task_id, MIN(a.number)
"""


def model_records(
    workflow: str, runs: int = RECENT_RUNS, path: Path | None = None
) -> list[ModelRecord]:
    """Per run (newest first), task and model: did that model give the accepted answer, or
    fail the checks; and what its attempts cost."""
    with reading(path) as db:
        if db is None:
            return []
        rows = db.execute(_RECORDS, {"workflow": workflow, "runs": runs}).fetchall()
    return [
        ModelRecord(
            row["run_id"],
            row["task_id"],
            row["model"],
            bool(row["passed"]),
            bool(row["failed_checks"]) and not row["passed"],
            float(row["cost_usd"]),
        )
        for row in rows
    ]


def learn_from_history(
    workflow: Workflow, prices: PriceTable, path: Path | None = None
) -> dict[str, LearnedStart]:
    """Escalate starts for `routing: {adaptive: true}`; empty when adaptive is off."""
    if not workflow.routing.adaptive:
        return {}
    chains = {
        tid: tuple(prices.resolve(m) for m in chain)
        for tid, task in workflow.tasks.items()
        if (chain := escalate_chain(workflow, task))
    }
    if not chains:
        return {}
    return learned_starts(chains, model_records(workflow.name, path=path))


@dataclass(frozen=True)
class RoutingReport:
    workflow: str
    stats: tuple[RouteStat, ...]
    suggestions: tuple[Suggestion, ...]


def routing_report(workflow: str | None, path: Path | None = None) -> list[RoutingReport]:
    """The learned table of each workflow in the history (or of one)."""
    with reading(path) as db:
        if db is None:
            return []
        if workflow is None:
            names = [
                row[0] for row in db.execute("SELECT DISTINCT workflow FROM runs ORDER BY workflow")
            ]
        else:
            names = [workflow]
    reports = []
    for name in names:
        records = model_records(name, path=path)
        if records:
            reports.append(
                RoutingReport(name, tuple(route_stats(records)), tuple(suggestions(records)))
            )
    return reports

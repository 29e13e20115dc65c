"""Reading the run history: list runs, rebuild one and its messages, find outputs to resume,
add up spend.

Reads never create the database: with no history yet, a listing is empty and a run id is
unknown, and no `.agentflow` folder appears in a directory where nothing was ever run.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from agentflow.engine.results import FINISHED_OK, Attempt, PriorOutput, RunResult, TaskResult
from agentflow.errors import AgentflowError
from agentflow.events import Event
from agentflow.prices import Usage
from agentflow.store.db import reading
from agentflow.store.messages import read_messages
from agentflow.store.migrations import SAVED_COLUMNS, SIMULATED, USAGE_COLUMNS
from agentflow.store.paths import history_path

LIST_HINT = "see `agentflow runs list` for run ids"
SQLITE_MAX_INTEGER = 2**63 - 1  # a larger --limit means "all of them"


@dataclass(frozen=True)
class RunRow:
    """One line of `runs list`."""

    run_id: str
    workflow: str
    workflow_file: str
    status: str
    started_at: float
    ended_at: float | None
    tasks: int
    succeeded: int  # succeeded or cached
    failed: int
    requests: int
    usage: Usage
    cost_usd: float
    saved_usd: float


@dataclass(frozen=True)
class Spend:
    """What one group (a day, a model, an agent, a workflow, or everything) used."""

    key: str
    runs: int
    requests: int
    usage: Usage
    cost_usd: float
    saved_usd: float


@dataclass(frozen=True)
class Report:
    since: float | None
    workflow: str | None
    total: Spend
    by_day: tuple[Spend, ...]  # oldest first
    by_model: tuple[Spend, ...]  # the others: most expensive first
    by_agent: tuple[Spend, ...]
    by_workflow: tuple[Spend, ...]


def _usage(row: sqlite3.Row, columns: tuple[str, ...] = USAGE_COLUMNS) -> Usage:
    return Usage(*(int(row[name] or 0) for name in columns))


def list_runs(
    limit: int = 20, workflow: str | None = None, path: Path | None = None
) -> list[RunRow]:
    """The newest `limit` runs, newest first, optionally of one workflow only."""
    with reading(path) as db:
        if db is None:
            return []
        rows = db.execute(
            f"""SELECT r.*,
                   (SELECT count(*) FROM tasks t WHERE t.run_id = r.run_id) AS n_tasks,
                   (SELECT count(*) FROM tasks t WHERE t.run_id = r.run_id
                       AND t.status IN ({", ".join("?" for _ in FINISHED_OK)})) AS n_ok,
                   (SELECT count(*) FROM tasks t WHERE t.run_id = r.run_id
                       AND t.status = 'failed') AS n_failed
                FROM runs r
                WHERE ? IS NULL OR r.workflow = ?
                ORDER BY r.started_at DESC, r.run_id DESC
                LIMIT ?""",
            (*sorted(FINISHED_OK), workflow, workflow, min(limit, SQLITE_MAX_INTEGER)),
        ).fetchall()
    return [
        RunRow(
            run_id=row["run_id"],
            workflow=row["workflow"],
            workflow_file=row["workflow_file"],
            status=row["status"],
            started_at=row["started_at"],
            ended_at=row["ended_at"],
            tasks=row["n_tasks"],
            succeeded=row["n_ok"],
            failed=row["n_failed"],
            requests=row["requests"],
            usage=_usage(row),
            cost_usd=row["cost_usd"],
            saved_usd=row["saved_usd"],
        )
        for row in rows
    ]


def last_run_id(workflow_name: str, path: Path | None = None) -> str | None:
    """The newest run of this workflow, whatever its status; None if it never ran."""
    with reading(path) as db:
        if db is None:
            return None
        row = db.execute(
            "SELECT run_id FROM runs WHERE workflow = ? ORDER BY started_at DESC, run_id DESC "
            "LIMIT 1",
            (workflow_name,),
        ).fetchone()
    return None if row is None else str(row["run_id"])


def resolve_run_id(db: sqlite3.Connection | None, run_id: str, path: Path | None) -> str:
    """A full run id from a full id or a unique prefix of one; AgentflowError otherwise."""
    where = str(path or history_path())
    if db is not None and run_id:
        exact = db.execute("SELECT run_id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if exact is not None:
            return str(exact["run_id"])
        # LIKE with escaping, since `_` and `%` are wildcards; ids are ASCII, so case is moot.
        pattern = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches = [
            str(row["run_id"])
            for row in db.execute(
                "SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' "
                "ORDER BY started_at DESC LIMIT 6",
                (pattern,),
            )
        ]
        if len(matches) == 1:
            return matches[0]
        if matches:
            shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
            raise AgentflowError.single(
                where,
                f"run id prefix {run_id!r} matches several runs: {shown}",
                hint="give more of the run id",
            )
    raise AgentflowError.single(where, f"no run {run_id!r} in the run history", hint=LIST_HINT)


def load_run(run_id: str, path: Path | None = None) -> RunResult:
    """The run as it was recorded, with its tasks and attempts (accepts a unique prefix)."""
    with reading(path) as db:
        full_id = resolve_run_id(db, run_id, path)
        assert db is not None  # resolve_run_id raised otherwise
        run = db.execute("SELECT * FROM runs WHERE run_id = ?", (full_id,)).fetchone()
        task_rows = db.execute(
            "SELECT * FROM tasks WHERE run_id = ? ORDER BY position IS NULL, position, rowid",
            (full_id,),
        ).fetchall()
        attempts: dict[str, list[Attempt]] = {}
        for row in db.execute(
            "SELECT * FROM attempts WHERE run_id = ? ORDER BY task_id, number", (full_id,)
        ):
            attempts.setdefault(row["task_id"], []).append(_attempt(row))
    tasks = {row["task_id"]: _task(row, attempts.get(row["task_id"], [])) for row in task_rows}
    return RunResult(
        run_id=run["run_id"],
        workflow=run["workflow"],
        run_dir=Path(run["run_dir"]),
        tasks=tasks,
        started_at=run["started_at"],
        ended_at=run["ended_at"] or 0.0,
        # A run still "running" here was killed or is in progress; RunResult has no such
        # status, but render_run and run_summary show it as it is.
        status=run["status"],
        peak_in_flight=run["peak_in_flight"],
        throttle_events=run["throttle_events"],
        workflow_file=run["workflow_file"],
        workflow_hash=run["workflow_hash"],
        budget_usd=run["budget_usd"],
        budget_tokens=run["budget_tokens"],
        provider=run["provider"] or "",
    )


def load_messages(run_id: str, path: Path | None = None) -> list[Event]:
    """A recorded run's messages in sequence order (accepts a unique prefix of the run id;
    an unknown or ambiguous id is an AgentflowError, as for load_run). Empty for a run
    recorded before messages were, or one whose agents used no tools."""
    with reading(path) as db:
        full_id = resolve_run_id(db, run_id, path)
        assert db is not None  # resolve_run_id raised otherwise
        return read_messages(db, full_id)


def _attempt(row: sqlite3.Row) -> Attempt:
    return Attempt(
        number=row["number"],
        model=row["model"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        ok=bool(row["ok"]),
        usage=_usage(row),
        cost_usd=row["cost_usd"],
        error=row["error"],
        error_kind=row["error_kind"],
        status_code=row["status_code"],
        prompt_cache_saved_usd=row["prompt_cache_saved_usd"],
        purpose=row["purpose"],
        estimated=bool(row["estimated"]),
    )


def _task(row: sqlite3.Row, attempts: list[Attempt]) -> TaskResult:
    document = row["document_json"]
    return TaskResult(
        id=row["task_id"],
        agent=row["agent"],
        model=row["model"],
        status=row["status"],
        attempts=attempts,
        output=row["output"],
        document=None if document is None else json.loads(document),
        error=row["error"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        request_hash=row["request_hash"],
        source=row["source"],
        saved_usage=_usage(row, SAVED_COLUMNS),
        saved_usd=row["saved_usd"],
        turns=row["turns"],
        tool_calls=row["tool_calls"],
        truncated=bool(row["truncated"]),
    )


def resumable_outputs(run_id: str, path: Path | None = None) -> dict[str, PriorOutput]:
    """Outputs of the run's tasks that finished well (succeeded or cached) and have a request
    hash to match against, by task id. Accepts a unique prefix of the run id."""
    with reading(path) as db:
        full_id = resolve_run_id(db, run_id, path)
        assert db is not None
        rows = db.execute(
            f"""SELECT * FROM tasks
                WHERE run_id = ? AND output IS NOT NULL AND request_hash IS NOT NULL
                  AND status IN ({", ".join("?" for _ in FINISHED_OK)})""",
            (full_id, *sorted(FINISHED_OK)),
        ).fetchall()
    return {
        row["task_id"]: PriorOutput(
            run_id=full_id,
            request_hash=row["request_hash"],
            output=row["output"],
            document=None if row["document_json"] is None else json.loads(row["document_json"]),
            model=row["model"],
            # what the output cost when it was first asked for (an API answer's cost, or
            # what the cache hit or resume that gave it then saved): what reusing it saves
            usage=_usage(row) + _usage(row, SAVED_COLUMNS),
            cost_usd=float(row["cost_usd"] or 0) + float(row["saved_usd"] or 0),
        )
        for row in rows
    }


# Every priced request (an attempt), plus the savings of tasks answered without one (a cache
# hit or a resume), as rows with a time, the four group keys and the figures to add up.
# Simulated runs spent nothing: they are left out.
_REAL = f"coalesce(r.provider, '') != '{SIMULATED}'"
_ITEMS = f"""
WITH items AS (
    SELECT a.started_at AS at, a.model AS model, t.agent AS agent, r.workflow AS workflow,
           a.run_id AS run_id, 1 AS requests,
           {", ".join(f"a.{c} AS {c}" for c in USAGE_COLUMNS)},
           a.cost_usd AS cost_usd, a.prompt_cache_saved_usd AS saved_usd
    FROM attempts a
    JOIN tasks t ON t.run_id = a.run_id AND t.task_id = a.task_id
    JOIN runs r ON r.run_id = a.run_id
    WHERE a.started_at >= :since AND (:workflow IS NULL OR r.workflow = :workflow) AND {_REAL}
    UNION ALL
    SELECT coalesce(t.ended_at, t.started_at, r.started_at), t.model, t.agent, r.workflow,
           t.run_id, 0, {", ".join("0" for _ in USAGE_COLUMNS)}, 0.0, t.saved_usd
    FROM tasks t JOIN runs r ON r.run_id = t.run_id
    WHERE t.saved_usd != 0
      AND coalesce(t.ended_at, t.started_at, r.started_at) >= :since
      AND (:workflow IS NULL OR r.workflow = :workflow) AND {_REAL}
)
SELECT {{key}} AS key, count(DISTINCT run_id) AS runs, sum(requests) AS requests,
       {", ".join(f"sum({c}) AS {c}" for c in USAGE_COLUMNS)},
       sum(cost_usd) AS cost_usd, sum(saved_usd) AS saved_usd
FROM items {{group}}
"""

_GROUPS = {
    "day": ("date(at, 'unixepoch')", "key"),  # UTC date
    "model": ("model", "cost_usd DESC, key"),
    "agent": ("coalesce(agent, '(no agent)')", "cost_usd DESC, key"),
    "workflow": ("workflow", "cost_usd DESC, key"),
}


def _spend(row: sqlite3.Row) -> Spend:
    return Spend(
        key=str(row["key"]),
        runs=row["runs"] or 0,
        requests=row["requests"] or 0,
        usage=_usage(row),
        cost_usd=row["cost_usd"] or 0.0,
        saved_usd=row["saved_usd"] or 0.0,
    )


def report(
    since: float | None = None, workflow: str | None = None, path: Path | None = None
) -> Report:
    """Spend, tokens, requests and savings since a Unix time (None: all), in total and by
    UTC day, model, agent and workflow."""
    params = {"since": since if since is not None else float("-inf"), "workflow": workflow}
    groups: dict[str, tuple[Spend, ...]] = {name: () for name in _GROUPS}
    total = Spend("total", 0, 0, Usage(), 0.0, 0.0)
    with reading(path) as db:
        if db is not None:
            row = db.execute(_ITEMS.format(key="'total'", group=""), params).fetchone()
            total = _spend(row)
            for name, (key, order) in _GROUPS.items():
                query = _ITEMS.format(key=key, group=f"GROUP BY 1 ORDER BY {order}")
                groups[name] = tuple(_spend(r) for r in db.execute(query, params))
    return Report(
        since=since,
        workflow=workflow,
        total=total,
        by_day=groups["day"],
        by_model=groups["model"],
        by_agent=groups["agent"],
        by_workflow=groups["workflow"],
    )

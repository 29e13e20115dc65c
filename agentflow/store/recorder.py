"""The run history's writer: a run, its tasks, attempts and messages go into the SQLite file
(agentflow.store.db) as they happen, so a run killed half-way still adds up.

The run folder (agentflow.store.run_folder) keeps a run's outputs; this database keeps every
run side by side so they can be listed, shown again, resumed and added up
(agentflow.store.queries).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentflow.engine.recorder import Recorder
from agentflow.engine.results import Attempt, RunResult, TaskResult
from agentflow.events import Event
from agentflow.store.db import connect, transaction, upsert
from agentflow.store.messages import save_message
from agentflow.store.migrations import USAGE_COLUMNS
from agentflow.store.paths import history_path


def _run_row(run: RunResult, status: str) -> dict[str, Any]:
    usage = run.usage
    return {
        "run_id": run.run_id,
        "workflow": run.workflow,
        "workflow_file": run.workflow_file,
        "workflow_hash": run.workflow_hash,
        "run_dir": str(run.run_dir),
        "status": status,
        "started_at": run.started_at,
        "ended_at": run.ended_at or None,  # 0.0 means "not ended yet" in RunResult
        "budget_usd": run.budget_usd,
        "budget_tokens": run.budget_tokens,
        "provider": run.provider or None,
        "requests": run.requests,
        **usage.as_dict(),
        "cost_usd": run.cost_usd,
        "saved_usd": run.saved_usd,
        "peak_in_flight": run.peak_in_flight,
        "throttle_events": run.throttle_events,
    }


def _task_row(run_id: str, task: TaskResult, position: int | None) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "task_id": task.id,
        "position": position,
        "status": task.status,
        "agent": task.agent,
        "model": task.model,
        "source": task.source,
        "request_hash": task.request_hash,
        "output": task.output,
        "document_json": (
            None if task.document is None else json.dumps(task.document, ensure_ascii=False)
        ),
        "error": task.error,
        "started_at": task.started_at,
        "ended_at": task.ended_at,
        **task.usage.as_dict(),
        "cost_usd": task.cost_usd,
        "saved_usd": task.saved_usd,
        **{f"saved_{name}": n for name, n in task.saved_usage.as_dict().items()},
        "turns": task.turns,
        "tool_calls": task.tool_calls,
    }


def _attempt_row(run_id: str, task_id: str, attempt: Attempt) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "task_id": task_id,
        "number": attempt.number,
        "model": attempt.model,
        "ok": int(attempt.ok),
        "error": attempt.error,
        "error_kind": attempt.error_kind,
        "status_code": attempt.status_code,
        "started_at": attempt.started_at,
        "ended_at": attempt.ended_at,
        **attempt.usage.as_dict(),
        "cost_usd": attempt.cost_usd,
        "prompt_cache_saved_usd": attempt.prompt_cache_saved_usd,
        "purpose": attempt.purpose,
    }


_LIVE_TOTALS = f"""
UPDATE runs SET (requests, {", ".join(USAGE_COLUMNS)}, cost_usd, saved_usd) = (
    SELECT count(*), {", ".join(f"coalesce(sum(a.{c}), 0)" for c in USAGE_COLUMNS)},
           coalesce(sum(a.cost_usd), 0),
           coalesce(sum(a.prompt_cache_saved_usd), 0)
             + (SELECT coalesce(sum(t.saved_usd), 0) FROM tasks t WHERE t.run_id = runs.run_id)
    FROM attempts a WHERE a.run_id = runs.run_id
)
WHERE run_id = ?
"""


def _stand_in_run(db: sqlite3.Connection, run_id: str, at: float) -> None:
    """A placeholder run row if run_started never came; run_finished fills it in."""
    db.execute(
        "INSERT OR IGNORE INTO runs (run_id, workflow, status, started_at) "
        "VALUES (?, '', 'running', ?)",
        (run_id, at),
    )


class HistoryRecorder(Recorder):
    """Writes a run into the history database as it happens: one transaction per call.

    Everything stored comes from RunResult / TaskResult / Attempt and the run's Events,
    which hold no secrets (the API key never reaches them). A database error never sinks
    the run (the run folder still has everything): it is kept in `errors` for the caller
    to report.
    """

    def __init__(self, path: Path | None = None, run_id: str | None = None) -> None:
        self.path = path or history_path()
        self.run_id = run_id  # known at once if given; otherwise from run_started
        self.errors: list[str] = []
        self._positions: dict[str, int] = {}
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    # The engine's calls -------------------------------------------------------------------

    def run_started(self, run: RunResult) -> None:
        self.run_id = run.run_id
        self._positions = {tid: i for i, tid in enumerate(run.tasks)}
        # Every task goes in at once (pending), so `runs show` on a live run lists them all.
        self._write(lambda db: self._save_run(db, run, "running", with_tasks=True))

    def task_finished(self, task: TaskResult) -> None:
        if self.run_id is None:
            return  # not started and no run id given: run_finished will store every task
        run_id = self.run_id

        def write(db: sqlite3.Connection) -> None:
            _stand_in_run(db, run_id, task.started_at or time.time())
            self._save_task(db, run_id, task)
            # Keep the run's totals current, so a run killed mid-way still adds up. Summed
            # in SQL from what is stored: cheap, where re-adding the whole RunResult in
            # Python after every task would be quadratic in the number of tasks.
            db.execute(_LIVE_TOTALS, (run_id,))

        self._write(write)

    def message(self, event: Event) -> None:
        if self.run_id is None:
            return  # the engine sends messages only after run_started, which sets the id
        run_id = self.run_id

        def write(db: sqlite3.Connection) -> None:
            _stand_in_run(db, run_id, event.at)
            save_message(db, run_id, event)

        self._write(write)

    def run_finished(self, run: RunResult) -> None:
        self.run_id = run.run_id
        self._positions = {tid: i for i, tid in enumerate(run.tasks)}
        # Some tasks are only marked at the end (skipped, cancelled before starting).
        self._write(lambda db: self._save_run(db, run, run.status, with_tasks=True))
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # Storage ------------------------------------------------------------------------------

    def _write(self, action: Callable[[sqlite3.Connection], None]) -> None:
        with self._lock:
            try:
                if self._db is None:
                    self._db = connect(self.path)
                with transaction(self._db):
                    action(self._db)
            except (sqlite3.Error, OSError) as exc:
                self.errors.append(f"{self.path}: history not recorded: {exc}")

    def _save_run(
        self, db: sqlite3.Connection, run: RunResult, status: str, with_tasks: bool
    ) -> None:
        row = _run_row(run, status)
        db.execute(upsert("runs", ("run_id",), tuple(row)), row)
        if with_tasks:
            for task in run.tasks.values():
                self._save_task(db, run.run_id, task)

    def _save_task(self, db: sqlite3.Connection, run_id: str, task: TaskResult) -> None:
        row = _task_row(run_id, task, self._positions.get(task.id))
        db.execute(upsert("tasks", ("run_id", "task_id"), tuple(row), ("position",)), row)
        for attempt in task.attempts:
            attempt_row = _attempt_row(run_id, task.id, attempt)
            db.execute(
                upsert("attempts", ("run_id", "task_id", "number"), tuple(attempt_row)),
                attempt_row,
            )

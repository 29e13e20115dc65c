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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
        "truncated": int(task.truncated),
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
        "estimated": int(attempt.estimated),
    }


_TOTAL_COLUMNS = ("requests", *USAGE_COLUMNS, "cost_usd", "saved_usd")
_LIVE_TOTALS = (
    f"UPDATE runs SET ({', '.join(_TOTAL_COLUMNS)}) = "
    f"({', '.join('?' for _ in _TOTAL_COLUMNS)}) WHERE run_id = ?"
)
BATCH_LIMIT = 500  # writes held at most before they are committed together


def _task_totals(task: TaskResult) -> tuple[float, ...]:
    """What one task adds to its run's totals, in the order of _TOTAL_COLUMNS."""
    requests = cost = saved = 0.0
    tokens = [0, 0, 0, 0]
    for attempt in task.attempts:
        requests += 1
        usage = attempt.usage
        tokens[0] += usage.input_tokens
        tokens[1] += usage.output_tokens
        tokens[2] += usage.cache_creation_input_tokens
        tokens[3] += usage.cache_read_input_tokens
        cost += attempt.cost_usd
        saved += attempt.prompt_cache_saved_usd
    return (requests, *tokens, cost, saved + task.saved_usd)


class _RunTotals:
    """The run's live totals, kept as tasks finish: each task's share is replaced when it
    is recorded again, so the cost per task does not grow with the run."""

    def __init__(self) -> None:
        self._shares: dict[str, tuple[float, ...]] = {}
        self._sums = [0.0] * len(_TOTAL_COLUMNS)
        self.changed = False

    def add(self, task: TaskResult) -> None:
        share = _task_totals(task)
        old = self._shares.get(task.id)
        self._shares[task.id] = share
        for i, value in enumerate(share):
            self._sums[i] += value - (old[i] if old else 0.0)
        self.changed = True

    def values(self) -> tuple[float | int, ...]:
        # Counts back to integers; dollars as they are.
        return tuple(
            round(v) if name not in ("cost_usd", "saved_usd") else v
            for name, v in zip(_TOTAL_COLUMNS, self._sums, strict=True)
        )


def _saved_state(task: TaskResult) -> tuple[Any, ...]:
    """What decides whether a task's stored row is still current."""
    return (task.status, len(task.attempts), task.ended_at, task.turns, task.error)


def _stand_in_run(db: sqlite3.Connection, run_id: str, at: float) -> None:
    """A placeholder run row if run_started never came; run_finished fills it in."""
    db.execute(
        "INSERT OR IGNORE INTO runs (run_id, workflow, status, started_at) "
        "VALUES (?, '', 'running', ?)",
        (run_id, at),
    )


class HistoryRecorder(Recorder):
    """Writes a run into the history database as it happens.

    Writes made inside `batch()` (the background recorder wraps each batch of queued calls
    in one) are committed together, in one transaction; outside it, each call is its own.
    The run's totals are kept here as tasks finish and written with them, so a run killed
    mid-way still adds up, at a cost per task that does not grow with the run.

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
        self._lock = threading.RLock()
        self._pending: list[Callable[[sqlite3.Connection], None]] = []
        self._held = 0  # depth of batch()
        self._totals = _RunTotals()
        self._saved: dict[str, tuple[Any, ...]] = {}  # task -> its state when last stored

    # The engine's calls -------------------------------------------------------------------

    def run_started(self, run: RunResult) -> None:
        self.run_id = run.run_id
        self._positions = {tid: i for i, tid in enumerate(run.tasks)}
        # Every task goes in at once (pending), so `runs show` on a live run lists them all.
        self._write(lambda db: self._save_run(db, run, "running"))

    def task_finished(self, task: TaskResult) -> None:
        if self.run_id is None:
            return  # not started and no run id given: run_finished will store every task
        run_id = self.run_id
        self._totals.add(task)
        self._write(lambda db: self._save_task(db, run_id, task))

    def message(self, event: Event) -> None:
        if self.run_id is None:
            return  # the engine sends messages only after run_started, which sets the id
        run_id = self.run_id
        self._write(lambda db: save_message(db, run_id, event))

    def run_finished(self, run: RunResult) -> None:
        self.run_id = run.run_id
        self._positions = {tid: i for i, tid in enumerate(run.tasks)}
        self._totals.changed = False  # the run's own figures follow
        # Some tasks are only marked at the end (skipped, cancelled before starting).
        self._write(lambda db: self._save_run(db, run, run.status))
        self.close()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold the writes made inside, and commit them in one transaction at the end."""
        with self._lock:
            self._held += 1
        try:
            yield
        finally:
            with self._lock:
                self._held -= 1
                if not self._held:
                    self.flush()

    def flush(self) -> None:
        """Commit the writes held so far (with the run's current totals)."""
        with self._lock:
            pending, self._pending = self._pending, []
            if not pending:
                return
            if self._totals.changed and self.run_id is not None:
                pending.append(self._live_totals(self.run_id))
                self._totals.changed = False
            try:
                self._commit(pending)
            except (sqlite3.Error, OSError):
                self._saved.clear()  # rolled back: run_finished stores every task again
                # One bad write must not cost the others: each again, on its own.
                for action in pending:
                    try:
                        self._commit([action])
                    except (sqlite3.Error, OSError) as exc:
                        self.errors.append(f"{self.path}: history not recorded: {exc}")

    def close(self) -> None:
        with self._lock:
            self.flush()
            if self._db is not None:
                self._db.close()
                self._db = None

    # Storage ------------------------------------------------------------------------------

    def _write(self, action: Callable[[sqlite3.Connection], None]) -> None:
        with self._lock:
            self._pending.append(action)
            if not self._held or len(self._pending) >= BATCH_LIMIT:
                self.flush()

    def _commit(self, actions: list[Callable[[sqlite3.Connection], None]]) -> None:
        if self._db is None:
            self._db = connect(self.path)
        with transaction(self._db):
            if self.run_id is not None:
                # A placeholder if run_started's write was lost; run_finished fills it in.
                _stand_in_run(self._db, self.run_id, time.time())
            for action in actions:
                action(self._db)

    def _live_totals(self, run_id: str) -> Callable[[sqlite3.Connection], None]:
        values = self._totals.values()
        return lambda db: db.execute(_LIVE_TOTALS, (*values, run_id))

    def _save_run(self, db: sqlite3.Connection, run: RunResult, status: str) -> None:
        row = _run_row(run, status)
        db.execute(upsert("runs", ("run_id",), tuple(row)), row)
        for task in run.tasks.values():
            if self._saved.get(task.id) != _saved_state(task):
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
        self._saved[task.id] = _saved_state(task)

"""The run history's schema, as numbered migrations (see agentflow.store.recorder).

Each step is a small function applied once, in order, and recorded by name in
`_migrations`. Never edit or reorder a released step: add a new one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

USAGE_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)
SAVED_COLUMNS = tuple(f"saved_{name}" for name in USAGE_COLUMNS)
SIMULATED = "simulate"  # the provider whose runs never count as spend nor teach routing

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    """Register one schema step. Never edit or reorder a released one: add a new one."""
    MIGRATIONS.append(fn)
    return fn


def _tokens(prefix: str = "") -> str:
    return ", ".join(f"{prefix}{name} INTEGER NOT NULL DEFAULT 0" for name in USAGE_COLUMNS)


@migration
def m001_runs(db: sqlite3.Connection) -> None:
    db.execute(
        f"""CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            workflow TEXT NOT NULL,
            workflow_file TEXT NOT NULL DEFAULT '',
            workflow_hash TEXT NOT NULL DEFAULT '',
            run_dir TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,
            started_at REAL NOT NULL,
            ended_at REAL,
            budget_usd REAL,
            budget_tokens INTEGER,
            requests INTEGER NOT NULL DEFAULT 0,
            {_tokens()},
            cost_usd REAL NOT NULL DEFAULT 0,
            saved_usd REAL NOT NULL DEFAULT 0,
            peak_in_flight INTEGER NOT NULL DEFAULT 0,
            throttle_events INTEGER NOT NULL DEFAULT 0
        )"""
    )


@migration
def m002_tasks(db: sqlite3.Connection) -> None:
    # `position` keeps the plan's task order, so a reloaded run lists its tasks as it did live.
    db.execute(
        f"""CREATE TABLE tasks (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            task_id TEXT NOT NULL,
            position INTEGER,
            status TEXT NOT NULL,
            agent TEXT,
            model TEXT NOT NULL,
            source TEXT,
            request_hash TEXT,
            output TEXT,
            document_json TEXT,
            error TEXT,
            started_at REAL,
            ended_at REAL,
            {_tokens()},
            cost_usd REAL NOT NULL DEFAULT 0,
            saved_usd REAL NOT NULL DEFAULT 0,
            {_tokens("saved_")},
            PRIMARY KEY (run_id, task_id)
        )"""
    )


@migration
def m003_attempts(db: sqlite3.Connection) -> None:
    db.execute(
        f"""CREATE TABLE attempts (
            run_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            number INTEGER NOT NULL,
            model TEXT NOT NULL,
            ok INTEGER NOT NULL,
            error TEXT,
            error_kind TEXT,
            status_code INTEGER,
            started_at REAL NOT NULL,
            ended_at REAL NOT NULL,
            {_tokens()},
            cost_usd REAL NOT NULL DEFAULT 0,
            prompt_cache_saved_usd REAL NOT NULL DEFAULT 0,
            PRIMARY KEY (run_id, task_id, number),
            FOREIGN KEY (run_id, task_id) REFERENCES tasks(run_id, task_id) ON DELETE CASCADE
        )"""
    )


@migration
def m004_indexes(db: sqlite3.Connection) -> None:
    # runs list (newest first, maybe one workflow), last_run_id, and report's time window.
    db.execute("CREATE INDEX runs_started_at ON runs(started_at)")
    db.execute("CREATE INDEX runs_workflow_started_at ON runs(workflow, started_at)")
    db.execute("CREATE INDEX attempts_started_at ON attempts(started_at)")
    db.execute("CREATE INDEX tasks_ended_at ON tasks(ended_at)")


@migration
def m005_attempt_purpose(db: sqlite3.Connection) -> None:
    # An attempt either answers the task or, with routing.classifier, picks its tier.
    db.execute("ALTER TABLE attempts ADD COLUMN purpose TEXT NOT NULL DEFAULT 'answer'")


@migration
def m006_messages(db: sqlite3.Connection) -> None:
    # What agents and tools said to each other (tools.base.Event); agentflow.store.messages.
    db.execute(
        """CREATE TABLE messages (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            at REAL NOT NULL,
            task_id TEXT NOT NULL,
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL, -- JSON
            PRIMARY KEY (run_id, seq)
        )"""
    )
    db.execute("CREATE INDEX messages_run_task ON messages(run_id, task_id)")


@migration
def m007_task_turns(db: sqlite3.Connection) -> None:
    # Tool-use loops: model turns and tool calls of each task's own conversation.
    db.execute("ALTER TABLE tasks ADD COLUMN turns INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE tasks ADD COLUMN tool_calls INTEGER NOT NULL DEFAULT 0")


@migration
def m008_run_provider(db: sqlite3.Connection) -> None:
    # The provider a run used: a simulated run is recorded, but never counted as spend nor
    # learned from. NULL: recorded before providers were, so taken as real.
    db.execute("ALTER TABLE runs ADD COLUMN provider TEXT")


@migration
def m009_blobs(db: sqlite3.Connection) -> None:
    # Long texts of messages (system prompts, prompts, answers, tool results), stored once
    # by their sha256 however many messages carry them; agentflow.store.messages.
    db.execute("CREATE TABLE blobs (hash TEXT PRIMARY KEY, text TEXT NOT NULL)")
    # A message's payload fields kept in `blobs`: JSON {field: hash}; NULL when none.
    db.execute("ALTER TABLE messages ADD COLUMN blob_fields TEXT")


@migration
def m010_estimates(db: sqlite3.Connection) -> None:
    # An attempt whose outcome was unknown (timed out, cancelled, unreadable) is charged its
    # worst case: `estimated` says its usage and cost are that bound, not a reported bill.
    db.execute("ALTER TABLE attempts ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0")
    # A task whose output was cut at max_tokens.
    db.execute("ALTER TABLE tasks ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0")

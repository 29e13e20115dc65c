"""A run's messages in the history database: what agents and tools said to each other.

Each agentflow.events.Event is one row of `messages` (migration m006_messages), keyed by
run and sequence number, its payload stored as JSON. The recorder writes rows with
`save_message`, the queries read them back with `read_messages`.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, cast

from agentflow.events import Event, EventKind

_COLUMNS = ("run_id", "seq", "at", "task_id", "sender", "recipient", "kind", "payload")

# Idempotent: the same event recorded twice (a retried write) is one row.
_UPSERT = (
    f"INSERT INTO messages ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join(':' + name for name in _COLUMNS)}) "
    "ON CONFLICT(run_id, seq) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _COLUMNS[2:])
)


def message_row(run_id: str, event: Event) -> dict[str, Any]:
    """The `messages` row of one event."""
    return {
        "run_id": run_id,
        "seq": event.seq,
        "at": event.at,
        "task_id": event.task,
        "sender": event.sender,
        "recipient": event.recipient,
        "kind": event.kind,
        # default=str: a value JSON cannot hold is kept as its text rather than losing the
        # whole event (the recorder runs on a worker thread, where a raise would stop it).
        "payload": json.dumps(dict(event.payload), ensure_ascii=False, default=str),
    }


def save_message(db: sqlite3.Connection, run_id: str, event: Event) -> None:
    """Insert or replace one event of the run (inside the caller's transaction)."""
    db.execute(_UPSERT, message_row(run_id, event))


def read_messages(db: sqlite3.Connection, run_id: str) -> list[Event]:
    """Every event of one run (its full id), in sequence order."""
    rows = db.execute(
        f"SELECT {', '.join(_COLUMNS[1:])} FROM messages WHERE run_id = ? ORDER BY seq",
        (run_id,),
    ).fetchall()
    return [
        Event(
            seq=int(seq),
            at=float(at),
            task=str(task_id),
            sender=str(sender),
            recipient=str(recipient),
            kind=cast(EventKind, kind),
            payload=json.loads(payload),
        )
        for seq, at, task_id, sender, recipient, kind, payload in rows
    ]

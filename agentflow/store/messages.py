"""A run's messages in the history database: what agents and tools said to each other.

Each agentflow.events.Event is one row of `messages` (migration m006_messages), keyed by
run and sequence number, its payload stored as JSON. A long text of the payload (a system
prompt, a prompt, an answer, a tool's result) is stored once in `blobs` (m009_blobs), by
its sha256, however many messages and runs carry it: every task of an agent sends the same
system prompt. The recorder writes rows with `save_message`, the queries read them back
with `read_messages`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from typing import Any, cast

from agentflow.events import Event, EventKind

_COLUMNS = (
    "run_id", "seq", "at", "task_id", "sender", "recipient", "kind", "payload", "blob_fields"
)  # fmt: skip
BLOB_MIN_CHARS = 100  # shorter texts stay in the payload: a reference would not be smaller
_SAVE_BLOB = "INSERT OR IGNORE INTO blobs (hash, text) VALUES (?, ?)"

# Idempotent: the same event recorded twice (a retried write) is one row.
_UPSERT = (
    f"INSERT INTO messages ({', '.join(_COLUMNS)}) "
    f"VALUES ({', '.join(':' + name for name in _COLUMNS)}) "
    "ON CONFLICT(run_id, seq) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _COLUMNS[2:])
)


def _split_blobs(
    payload: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, str], list[tuple[str, str]]]:
    """The payload without its long texts, {field: hash}, and the (hash, text) to store."""
    fields: dict[str, str] = {}
    blobs: list[tuple[str, str]] = []
    for name, value in payload.items():
        if isinstance(value, str) and len(value) >= BLOB_MIN_CHARS:
            digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
            fields[name] = digest
            blobs.append((digest, value))
    # Each long text's place is kept (as null), so the payload reads back in its order.
    kept = {name: None if name in fields else value for name, value in payload.items()}
    return kept, fields, blobs


def _row(
    run_id: str, event: Event, payload: dict[str, Any], fields: dict[str, str]
) -> dict[str, Any]:
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
        "payload": json.dumps(payload, ensure_ascii=False, default=str),
        "blob_fields": json.dumps(fields) if fields else None,
    }


def save_message(db: sqlite3.Connection, run_id: str, event: Event) -> None:
    """Insert or replace one event of the run (inside the caller's transaction), its long
    texts in `blobs`, each stored once."""
    payload, fields, blobs = _split_blobs(dict(event.payload))
    if blobs:
        db.executemany(_SAVE_BLOB, blobs)
    db.execute(_UPSERT, _row(run_id, event, payload, fields))


def _payload(db: sqlite3.Connection, payload: str, blob_fields: str | None) -> dict[str, Any]:
    """A stored payload with its long texts put back, in their places."""
    kept = json.loads(payload)
    if not blob_fields:
        return kept
    fields: dict[str, str] = json.loads(blob_fields)
    texts = dict(
        db.execute(
            f"SELECT hash, text FROM blobs WHERE hash IN ({', '.join('?' * len(fields))})",
            tuple(fields.values()),
        ).fetchall()
    )
    return {name: texts.get(fields[name], "") if name in fields else v for name, v in kept.items()}


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
            payload=_payload(db, payload, blob_fields),
        )
        for seq, at, task_id, sender, recipient, kind, payload, blob_fields in rows
    ]

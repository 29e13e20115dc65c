"""The run history's SQLite file: opening it, migrating it, one write transaction at a time.

Schema changes are migrations in the style of simonw/llm (agentflow.store.migrations):
small functions applied in order, each recorded by name in `_migrations`, so a database
made by any earlier version is brought up to date when it is opened and a current one is
left alone.

Several runs may write to one file at once (two terminals, CI jobs): WAL lets readers go on
while one writes, `busy_timeout` makes writers wait for each other instead of failing, and
each write is one short `BEGIN IMMEDIATE` transaction so no lock is held for long.
"""

from __future__ import annotations

import functools
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agentflow.errors import AgentflowError
from agentflow.store import migrations
from agentflow.store.paths import history_path

BUSY_TIMEOUT_MS = 10_000  # a writer waits this long for another run's transaction to end


def _applied(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM _migrations")}


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply the missing migrations; return their names (empty when already up to date)."""
    steps = migrations.MIGRATIONS  # read at each call: tests replay an older list
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    if _applied(db) >= {fn.__name__ for fn in steps}:
        return []  # the common case: no write lock taken
    with transaction(db):
        # Read again under the write lock: another process may have migrated meanwhile.
        done = _applied(db)
        applied: list[str] = []
        for fn in steps:
            if fn.__name__ not in done:
                fn(db)
                db.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                    (fn.__name__, time.time()),
                )
                applied.append(fn.__name__)
        return applied


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction; IMMEDIATE takes the write lock first, so two writers queue on
    busy_timeout instead of one failing when it upgrades a read lock to a write."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch the file to WAL (a lasting property of the file, so usually already done).

    Switching needs an exclusive lock and SQLite answers "locked" at once rather than
    waiting on busy_timeout, so two runs opening a fresh file together would fail without
    this retry loop.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            if str(db.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower() == "wal":
                return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("database is locked (cannot switch it to WAL)")
        time.sleep(0.01 + random.random() * 0.04)  # jitter, so waiting openers do not collide


def connect(path: Path | None = None) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the history database."""
    path = path or history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: transactions are explicit (transaction()), never implicit.
    # check_same_thread=False: a recorder may be built on one thread and fed on another;
    # HistoryRecorder serialises its own calls with a lock.
    db = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _use_wal(db)
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = NORMAL")  # durable enough under WAL, much faster
        migrate(db)
    except BaseException:
        db.close()
        raise
    db.row_factory = sqlite3.Row
    return db


@contextmanager
def reading(path: Path | None) -> Iterator[sqlite3.Connection | None]:
    """The database for reading, or None when there is no history yet: reads never create
    it, so no `.agentflow` folder appears where nothing was ever run."""
    path = path or history_path()
    if not path.exists():
        yield None
        return
    try:
        db = connect(path)
    except sqlite3.Error as exc:
        raise AgentflowError.single(
            str(path), f"cannot read the run history: {exc}", hint="is it a SQLite database?"
        ) from None
    try:
        yield db
    finally:
        db.close()


@functools.cache
def upsert(
    table: str, key: tuple[str, ...], columns: tuple[str, ...], keep: tuple[str, ...] = ()
) -> str:
    """INSERT ... ON CONFLICT DO UPDATE; a NULL in a `keep` column keeps the stored value."""
    updates = ", ".join(
        f"{name} = coalesce(excluded.{name}, {table}.{name})"
        if name in keep
        else f"{name} = excluded.{name}"
        for name in columns
        if name not in key
    )
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join(':' + name for name in columns)}) "
        f"ON CONFLICT({', '.join(key)}) DO UPDATE SET {updates}"
    )

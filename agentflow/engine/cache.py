"""The response cache: never pay twice for the same answer. This module is its one owner:
the key of a request, what an entry holds, reading and writing it.

One SQLite file (`responses.sqlite3`, WAL: safe for concurrent runs) in a folder the
command chooses (agentflow.store.paths.cache_dir by default). The key is a hash of
everything that decides the answer: provider, model, system prompt, the rendered
messages, max_tokens, output schema and tools. Only successful answers are stored, as
JSON text: reading the cache never unpickles anything, so a file planted in the folder
can hold no code that runs (the pickled `cache.db` of earlier versions is never opened).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agentflow.guard.redact import redact_data
from agentflow.prices import Usage
from agentflow.providers.base import ModelRequest, ModelResponse

CACHE_FILE = "responses.sqlite3"
TABLE = "answers"


def request_hash(
    provider: str,
    request: ModelRequest,
    tools: tuple[str, ...] = (),
    escalate: tuple[str, ...] = (),
) -> str:
    """A stable identity for a request: equal hashes mean the same question asked. For an
    escalate chain the chain is part of it: the answer is whichever model passed."""
    identity = {
        "provider": provider,
        "model": request.model,
        "system": request.system,
        "messages": [{"role": "user", "content": request.prompt}],
        "max_tokens": request.max_tokens,
        "output_schema": request.output_schema,
        "tools": list(tools),
    }
    if request.history or request.tools:  # a tool-use turn: the whole conversation so far
        identity["history"] = list(request.history)
        identity["tool_specs"] = list(request.tools)
    if escalate:
        identity["escalate"] = list(escalate)
    canonical = json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedAnswer:
    text: str
    document: Any
    model: str
    usage: Usage
    created_at: float = 0.0
    stop_reason: str | None = None
    content: tuple[dict[str, Any], ...] = ()  # a tool-use turn's blocks, to replay its calls

    @classmethod
    def of(
        cls, response: ModelResponse, document: Any, *, model: str, turn: bool = False
    ) -> CachedAnswer:
        """The entry for an answer to a request for `model` (the id it is priced by); a
        tool-use turn keeps its stop reason and blocks, to replay its calls."""
        content: tuple[dict[str, Any], ...] = ()
        if turn:
            blocks = response.content or ({"type": "text", "text": response.text},)
            content = tuple(dict(block) for block in blocks)
        return cls(
            response.text,
            document,
            model,
            response.usage,
            stop_reason=response.stop_reason if turn else None,
            content=content,
        )

    def as_response(self) -> ModelResponse:
        return ModelResponse(
            self.text, self.usage, self.model, self.stop_reason or "end_turn", None, self.content
        )


@dataclass(frozen=True)
class CacheStats:
    directory: str
    entries: int
    size_bytes: int
    oldest: float | None
    newest: float | None


class ResponseCache:
    """`read=False` (a refresh) answers nothing but still stores; the folder is opened on
    first use (`open` opens it now, to refuse an unusable folder before a run spends
    anything). `ResponseCache.off()` (--no-cache) neither answers nor stores.

    During a run the cache never fails an answer: a read that fails is a miss, a write that
    fails (a full disk, say) is kept in `errors` and ends the writing, and the answer goes
    on as if it had been stored."""

    def __init__(self, directory: Path, *, read: bool = True, write: bool = True) -> None:
        self.directory = directory
        self.read = read
        self.write = write
        self.errors: list[str] = []
        self._db: sqlite3.Connection | None = None

    def open(self) -> None:
        """Open the folder now; OSError or sqlite3.Error when it cannot be used."""
        if self.read or self.write:
            self._store()

    @classmethod
    def off(cls) -> ResponseCache:
        return cls(Path(), read=False, write=False)

    def _store(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = _connect(self.directory)
        return self._db

    def lookup(self, key: str) -> CachedAnswer | None:
        if not self.read:
            return None
        try:
            row = self._store().execute(f"SELECT entry FROM {TABLE} WHERE key = ?", (key,))
            found = row.fetchone()
        except Exception as exc:  # noqa: BLE001 - the cache only saves money: a miss
            self._failed("read", exc)
            self.read = False
            return None
        return None if found is None else _answer(found[0])

    def store(self, key: str, answer: CachedAnswer) -> None:
        if not self.write:
            return
        entry: dict[str, Any] = {
            "text": answer.text,
            "document": answer.document,
            "model": answer.model,
            "usage": asdict(answer.usage),
            "created_at": time.time(),
        }
        if answer.content:
            entry["stop_reason"] = answer.stop_reason
            entry["content"] = [dict(block) for block in answer.content]
        try:
            # Secrets of the environment never reach the disk (agentflow.guard.redact).
            text = json.dumps(redact_data(entry), ensure_ascii=False, allow_nan=False)
            with self._store() as db:
                db.execute(
                    f"INSERT OR REPLACE INTO {TABLE} (key, created_at, entry) VALUES (?, ?, ?)",
                    (key, entry["created_at"], text),
                )
        except Exception as exc:  # noqa: BLE001 - never lose a paid answer to the cache
            self._failed("write", exc)
            self.write = False  # a full disk stays full for the rest of the run

    def _failed(self, what: str, exc: Exception) -> None:
        self.errors.append(f"cannot {what} it: {exc}")

    def stats(self) -> CacheStats:
        query = f"SELECT count(*), min(created_at), max(created_at) FROM {TABLE}"
        entries, oldest, newest = self._store().execute(query).fetchone()
        size = sum(
            part.stat().st_size
            for part in (self.directory / f"{CACHE_FILE}{end}" for end in ("", "-wal"))
            if part.exists()
        )
        return CacheStats(str(self.directory), int(entries), size, oldest, newest)

    def clear(self, older_than_seconds: float | None = None) -> int:
        cutoff = float("inf") if older_than_seconds is None else time.time() - older_than_seconds
        with self._store() as db:
            removed = db.execute(f"DELETE FROM {TABLE} WHERE created_at < ?", (cutoff,))
            return int(removed.rowcount)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def _connect(directory: Path) -> sqlite3.Connection:
    """The cache's SQLite file in `directory` (made if need be): WAL, so concurrent runs
    read while one writes, and a busy wait instead of an error when two write at once."""
    directory.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(directory / CACHE_FILE, timeout=30, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} "
            "(key TEXT PRIMARY KEY, created_at REAL NOT NULL, entry TEXT NOT NULL)"
        )
        db.commit()
    except BaseException:
        db.close()
        raise
    return db


def _answer(text: object) -> CachedAnswer | None:
    """The answer an entry holds; None (a miss) for anything that is not an entry this
    version wrote: only JSON text is ever decoded, so a planted entry can hold no code."""
    try:
        raw = json.loads(text) if isinstance(text, str) else None
        if not isinstance(raw, dict):
            return None
        return CachedAnswer(
            str(raw["text"]),
            raw.get("document"),
            str(raw["model"]),
            Usage(**raw["usage"]),
            float(raw["created_at"]),
            raw.get("stop_reason"),
            tuple(dict(block) for block in raw.get("content") or ()),
        )
    except (KeyError, TypeError, ValueError):
        return None  # an entry from an incompatible version: a miss, not a crash

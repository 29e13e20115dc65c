"""The response cache: never pay twice for the same answer.

A disk cache (diskcache: SQLite underneath, safe for concurrent runs) under
`.agentflow/cache`, `--cache-dir` or $AGENTFLOW_CACHE_DIR. The key is a hash of
everything that decides the answer: provider, model, system prompt, the rendered
messages, max_tokens, output schema and tools. Only successful answers are stored.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import diskcache

from agentflow.prices import Usage
from agentflow.providers.base import ModelRequest

CACHE_DIR_ENV = "AGENTFLOW_CACHE_DIR"


def default_cache_dir(state: Path) -> Path:
    return Path(os.environ.get(CACHE_DIR_ENV) or state / "cache")


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
    created_at: float
    stop_reason: str | None = None
    content: tuple[dict[str, Any], ...] = ()  # a tool-use turn's blocks, to replay its calls


@dataclass(frozen=True)
class CacheStats:
    directory: str
    entries: int
    size_bytes: int
    oldest: float | None
    newest: float | None


class ResponseCache:
    def __init__(self, directory: Path, *, read: bool = True, write: bool = True) -> None:
        self.directory = directory
        self.read = read
        self.write = write
        self._cache: diskcache.Cache | None = None

    def _store(self) -> diskcache.Cache:
        if self._cache is None:
            self._cache = diskcache.Cache(str(self.directory))
        return self._cache

    def get(self, key: str) -> CachedAnswer | None:
        if not self.read:
            return None
        raw = self._store().get(key)
        if not isinstance(raw, dict):
            return None
        try:
            return CachedAnswer(
                raw["text"],
                raw.get("document"),
                raw["model"],
                Usage(**raw["usage"]),
                raw["created_at"],
                raw.get("stop_reason"),
                tuple(raw.get("content") or ()),
            )
        except (KeyError, TypeError):
            return None  # an entry from an incompatible version: a miss, not a crash

    def put(
        self,
        key: str,
        text: str,
        document: Any,
        model: str,
        usage: Usage,
        stop_reason: str | None = None,
        content: tuple[Any, ...] = (),
    ) -> None:
        if not self.write:
            return
        entry = {
            "text": text,
            "document": document,
            "model": model,
            "usage": asdict(usage),
            "created_at": time.time(),
        }
        if content:
            entry["stop_reason"] = stop_reason
            entry["content"] = [dict(block) for block in content]
        self._store().set(key, entry)

    def stats(self) -> CacheStats:
        store = self._store()
        times = [entry["created_at"] for entry in _entries(store)]
        return CacheStats(
            str(self.directory),
            len(store),
            int(store.volume()),
            min(times, default=None),
            max(times, default=None),
        )

    def clear(self, older_than_seconds: float | None = None) -> int:
        store = self._store()
        if older_than_seconds is None:
            return int(store.clear())
        cutoff = time.time() - older_than_seconds
        removed = 0
        for key in list(store.iterkeys()):
            entry = store.get(key)
            if not isinstance(entry, dict) or entry.get("created_at", 0) < cutoff:
                removed += bool(store.delete(key))
        return removed

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None


def _entries(store: diskcache.Cache) -> list[dict[str, Any]]:
    found = []
    for key in store.iterkeys():
        entry = store.get(key)
        if isinstance(entry, dict) and "created_at" in entry:
            found.append(entry)
    return found

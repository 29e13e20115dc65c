"""The response cache: never pay twice for the same answer. This module is its one owner:
the key of a request, what an entry holds, reading and writing it.

A disk cache (diskcache: SQLite underneath, safe for concurrent runs) in a folder the
command chooses (agentflow.store.paths.cache_dir by default). The key is a hash of
everything that decides the answer: provider, model, system prompt, the rendered
messages, max_tokens, output schema and tools. Only successful answers are stored.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentflow.prices import Usage
from agentflow.providers.base import ModelRequest, ModelResponse

if TYPE_CHECKING:
    import diskcache


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
        self._cache: diskcache.Cache | None = None

    def open(self) -> None:
        """Open the folder now; OSError or sqlite3.Error when it cannot be used."""
        if self.read or self.write:
            self._store()

    @classmethod
    def off(cls) -> ResponseCache:
        return cls(Path(), read=False, write=False)

    def _store(self) -> diskcache.Cache:
        if self._cache is None:
            import diskcache

            self._cache = diskcache.Cache(str(self.directory))
        return self._cache

    def lookup(self, key: str) -> CachedAnswer | None:
        if not self.read:
            return None
        try:
            raw = self._store().get(key)
        except Exception as exc:  # noqa: BLE001 - the cache only saves money: a miss
            self._failed("read", exc)
            self.read = False
            return None
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
            self._store().set(key, entry)
        except Exception as exc:  # noqa: BLE001 - never lose a paid answer to the cache
            self._failed("write", exc)
            self.write = False  # a full disk stays full for the rest of the run

    def _failed(self, what: str, exc: Exception) -> None:
        self.errors.append(f"cannot {what} it: {exc}")

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

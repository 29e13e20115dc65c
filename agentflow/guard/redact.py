"""Secrets in the environment never leave agentflow: not in a tool result a model sees, not
in what a run records (history, run folder, summary, --json).

A secret is the value of `ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`, `OPENAI_API_KEY` or
of any variable whose name ends with `_API_KEY`, `_TOKEN`, `_SECRET`, `_SECRET_KEY`,
`_ACCESS_KEY` or `_PASSWORD`, when the value is 8 characters or more (shorter ones would
match ordinary words). Each occurrence becomes `[redacted: NAME]`. The environment is read
on every call, so a key set after start-up is covered too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

NAMES = frozenset({"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY"})
SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_SECRET_KEY", "_ACCESS_KEY", "_PASSWORD")
MIN_CHARS = 8


def is_secret_name(name: str) -> bool:
    upper = name.upper()
    return upper in NAMES or upper.endswith(SUFFIXES)


def secrets(environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(value, name) of every secret in the environment, longest value first (so a key
    that contains another is replaced whole)."""
    if environ is not None:
        return _scan(environ)
    return _PROCESS.current()


def _scan(env: Mapping[str, str]) -> list[tuple[str, str]]:
    found = {
        value: name
        for name, value in env.items()
        if len(value) >= MIN_CHARS and is_secret_name(name)
    }
    return sorted(found.items(), key=lambda item: -len(item[0]))


class _ProcessSecrets:
    """The process environment's secrets, scanned again only when it changed: a new or
    removed variable, or a new value of a secret's variable. Every status change and
    message asks, so a full scan each time (decoding every variable) would cost the event
    loop tens of microseconds a call; the check compares the raw names at C speed."""

    def __init__(self) -> None:
        self._seen: tuple[frozenset[Any], tuple[tuple[Any, Any], ...], list[tuple[str, str]]]
        self._seen = (frozenset(), (), [])
        self._valid = False

    def current(self) -> list[tuple[str, str]]:
        raw = getattr(os.environ, "_data", None)  # the encoded names and values (CPython)
        if not isinstance(raw, dict):
            return _scan(os.environ)
        names, watched, found = self._seen
        if self._valid and raw.keys() == names and all(raw.get(k) == v for k, v in watched):
            return found
        found = _scan(os.environ)
        watched = tuple(
            (key, value) for key, value in raw.items() if is_secret_name(os.fsdecode(key))
        )
        self._seen, self._valid = (frozenset(raw.keys()), watched, found), True
        return found


_PROCESS = _ProcessSecrets()


def redact(text: str, found: list[tuple[str, str]] | None = None) -> str:
    """`text` with every secret's value replaced by `[redacted: NAME]`."""
    for value, name in secrets() if found is None else found:
        if value in text:
            text = text.replace(value, f"[redacted: {name}]")
    return text


def redact_data(data: Any, found: list[tuple[str, str]] | None = None) -> Any:
    """`data` (JSON-like: dicts, lists, strings) with secrets redacted in every string,
    keys included; other values as they are. The same object when there is nothing to do."""
    found = secrets() if found is None else found
    if not found:
        return data
    if isinstance(data, str):
        return redact(data, found)
    if isinstance(data, Mapping):
        return {redact_data(k, found): redact_data(v, found) for k, v in data.items()}
    if isinstance(data, list):
        return [redact_data(item, found) for item in data]
    if isinstance(data, tuple):
        return tuple(redact_data(item, found) for item in data)
    return data

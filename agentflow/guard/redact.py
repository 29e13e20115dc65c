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
    env = os.environ if environ is None else environ
    found = {
        value: name
        for name, value in env.items()
        if len(value) >= MIN_CHARS and is_secret_name(name)
    }
    return sorted(found.items(), key=lambda item: -len(item[0]))


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

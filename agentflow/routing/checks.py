"""Whether an answer is good enough: the task's `checks`, plus refusals and empty answers.

A failing answer is a failed attempt of kind `invalid_output`: it is retried on the same
model, or, for a task with an `escalate` chain, handed to the next model.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import regex

from agentflow.spec.workflow import Checks
from agentflow.tools.patterns import PatternError, compile_pattern, search

_MISSING = object()


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> regex.Pattern[str]:
    return compile_pattern(pattern, flags=regex.MULTILINE)


def _lookup(document: Any, path: tuple[str, ...]) -> Any:
    value = document
    for key in path:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif (
            isinstance(value, list)
            and key.lstrip("-").isdigit()
            and -len(value) <= int(key) < len(value)
        ):
            value = value[int(key)]
        else:
            return _MISSING
    return value


def _json_of(text: str, document: Any) -> Any:
    if document is not None:
        return document
    try:
        return json.loads(text)
    except ValueError:
        return _MISSING


def answer_problem(
    text: str, stop_reason: str | None, checks: Checks | None, document: Any = None
) -> str | None:
    """Why the answer fails, or None when it passes."""
    if stop_reason == "refusal":
        return "the model refused"
    if not text.strip():
        return "the answer is empty"
    if checks is None:
        return None
    return _text_problem(text, checks) or _json_problem(text, document, checks)


def _text_problem(text: str, checks: Checks) -> str | None:
    for needle in checks.contains:
        if needle not in text:
            return f"check failed: the answer does not contain {needle!r}"
    for needle in checks.not_contains:
        if needle in text:
            return f"check failed: the answer contains {needle!r}"
    if checks.regex is not None:
        try:
            if not search(_compiled(checks.regex), text):
                return f"check failed: the answer does not match /{checks.regex}/"
        except PatternError as error:
            return f"check failed: {error}"
    if checks.max_chars is not None and len(text) > checks.max_chars:
        return f"check failed: the answer has {len(text):,} characters (max {checks.max_chars:,})"
    return None


def _json_problem(text: str, document: Any, checks: Checks) -> str | None:
    if not checks.json_paths:
        return None
    parsed = _json_of(text, document)
    if parsed is _MISSING:
        return "check failed: json_path needs a JSON answer"
    for check in checks.json_paths:
        found = _lookup(parsed, check.path)
        where = ".".join(check.path)
        if found is _MISSING:
            return f"check failed: no {where} in the answer"
        if found != check.equals:
            return f"check failed: {where} is {found!r}, expected {check.equals!r}"
    return None


def regex_problem(pattern: str) -> str | None:
    """A message when `pattern` is not a valid regular expression (for `validate`)."""
    try:
        compile_pattern(pattern)
    except PatternError as error:
        return str(error)
    return None

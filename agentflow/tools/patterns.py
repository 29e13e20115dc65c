"""Regular expressions from models and authors, run in bounded time.

A pattern a model chooses (Grep, Glob) or an author writes (`checks.regex`) can backtrack
for hours on a short line (`(a|aa)+$` on forty characters), and Python's `re` never gives
the interpreter back meanwhile: no timeout fires, Ctrl-C is not heard. Patterns here run on
the `regex` module (Python's syntax, a superset of `re`'s) with a time limit on every
search, and release the interpreter while they search; past the limit the search fails
with a message saying so.
"""

from __future__ import annotations

import time
from typing import Any

import regex

SEARCH_SECONDS = 1.0  # one search of one text, at most


class PatternError(Exception):
    """A pattern that is not valid, or that took too long: say so, never hang."""


def compile_pattern(pattern: str, *, flags: int = 0) -> regex.Pattern[str]:
    try:
        return regex.compile(pattern, flags)
    except (regex.error, ValueError, OverflowError, RecursionError) as exc:
        raise PatternError(f"invalid regex {pattern!r}: {exc}") from None


class Deadline:
    """A time budget shared by many searches (one Grep over many lines, say)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def left(self) -> float:
        return self._end - time.monotonic()


def search(
    compiled: regex.Pattern[str],
    text: str,
    *,
    deadline: Deadline | None = None,
    full: bool = False,
) -> Any:
    """The match of `compiled` in `text` (the whole of it with `full`), or None; within
    SEARCH_SECONDS and what is left of `deadline`, else PatternError."""
    left = deadline.left() if deadline is not None else SEARCH_SECONDS
    try:
        if left <= 0:
            raise TimeoutError
        if full:
            return compiled.fullmatch(text, timeout=min(SEARCH_SECONDS, left), concurrent=True)
        return compiled.search(text, timeout=min(SEARCH_SECONDS, left), concurrent=True)
    except TimeoutError:
        if deadline is not None and deadline.left() <= 0:
            raise PatternError(
                f"searching with the regex {compiled.pattern!r} took longer than "
                f"{deadline.seconds:g} s in all; narrow the search or simplify the pattern"
            ) from None
        raise PatternError(
            f"the regex {compiled.pattern!r} took longer than {SEARCH_SECONDS:g} s on one "
            "text (nested repeats such as (a+)+ can backtrack without end); simplify it"
        ) from None

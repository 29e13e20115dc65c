"""Consoles and the plain-text fallback shared by every view."""

from __future__ import annotations

import os
import sys
from typing import Any

from rich import box
from rich.console import Console
from rich.text import Text

from agentflow.render.text import printable

PIPE_WIDTH = 200  # wide enough that piped tables do not wrap; stable for scripts


def is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


class SafeConsole(Console):
    """A console that shows text as text: every string it renders (table cells, lines,
    the live view) has its control characters escaped, and none is read as rich markup
    (a workflow named `[link=...]` stays as written)."""

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(printable(text), **options)


def make_console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    if is_terminal(stream):
        return SafeConsole(file=stream, stderr=stderr, markup=False, emoji=False)
    return SafeConsole(
        file=stream,
        stderr=stderr,
        markup=False,
        width=PIPE_WIDTH,
        no_color=True,
        highlight=False,
        emoji=False,
        force_terminal=False,
        soft_wrap=True,
    )


def table_box(console: Console) -> box.Box:
    return box.ROUNDED if console.is_terminal else box.ASCII2


def usd(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "$0"
    sign, value = ("-", -value) if value < 0 else ("", value)
    return sign + (f"${value:.4f}" if value < 1 else f"${value:,.2f}")


def plural(n: int, word: str) -> str:
    """`1 turn`, `2 turns`."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"

"""Text from files, servers and models made safe to show: no control characters reach the
terminal, and no message grows past a few kilobytes. Plain Python (no rich), so `--json`
output can use it too."""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and the bidirectional-text controls
# that reorder what a terminal shows (U+202E RIGHT-TO-LEFT OVERRIDE and its family).
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_ESCAPES = {"\r": "\\r", "\x1b": "\\x1b"}

QUOTE_LIMIT = 200  # a value quoted in a message is cut to this many characters
MESSAGE_LIMIT = 2000  # a whole message at most; what is over is cut, saying how much
_OVER = QUOTE_LIMIT + 1
_LONG_QUOTE = re.compile(f"'[^'\\n]{{{_OVER},}}'|\"[^\"\\n]{{{_OVER},}}\"")


def printable(text: str) -> str:
    """`text` with every control character written out as an escape (`\\x1b`, `\\u202e`),
    so it shows as what it is instead of acting on the terminal."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def cap_message(message: str) -> str:
    """A message of a few KB at most: each quoted value over QUOTE_LIMIT characters is cut
    with `…`, then the whole is cut at MESSAGE_LIMIT, saying how many characters went."""
    if len(message) <= QUOTE_LIMIT:
        return message
    message = _LONG_QUOTE.sub(_cut_quote, message)
    if len(message) <= MESSAGE_LIMIT:
        return message
    return f"{message[:MESSAGE_LIMIT]}… ({len(message) - MESSAGE_LIMIT:,} more characters)"


def _cut_quote(match: re.Match[str]) -> str:
    quoted = match.group()
    return f"{quoted[: QUOTE_LIMIT + 1]}…{quoted[-1]}"

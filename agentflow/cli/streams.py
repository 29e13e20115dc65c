"""Standard output and error when their reader goes away, as shell tools behave."""

from __future__ import annotations

import os
from typing import Any, TextIO


class ReaderGuard:
    """A text stream that writes through to `stream` until its reader has gone (a closed
    pipe: `agentflow runs list | head -n 1`), then drops the rest quietly: what the command
    does (a run and its record) goes on, and no BrokenPipeError ever reaches the user."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.reader_gone = False

    def write(self, text: str) -> int:
        if not self.reader_gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._gone()
        return len(text)

    def flush(self) -> None:
        if not self.reader_gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._gone()

    def _gone(self) -> None:
        """Point the descriptor at /dev/null: what is still buffered is dropped by the next
        flush instead of failing it again (at exit, say)."""
        self.reader_gone = True
        try:
            fileno = self._stream.fileno()
        except (OSError, ValueError, AttributeError):
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fileno)
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

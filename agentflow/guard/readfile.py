"""Reading an author's file (a workflow, an agent, a price file) safely.

Only a regular file is read: a FIFO would block for ever, `/dev/zero` would fill memory, a
symlink loop cannot be opened. The file is opened first (without blocking, so a FIFO
opens at once), then checked with `fstat` on the open descriptor, then read in chunks up
to its size limit, counted while reading (a size from `stat` can be wrong: /proc, a file
still growing). Every way it can fail is one `UnreadableFile` with a message and a hint.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_CHUNK = 1 << 16
_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


class UnreadableFile(Exception):
    """A file that cannot be read as text of the kind expected; what is wrong, and the fix."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _open(path: Path, what: str) -> int:
    try:
        return os.open(path, _FLAGS | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnreadableFile(
                f"{what} is a symlink loop (a link that leads back to itself)",
                "point the link at a real file, or name the file itself",
            ) from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise UnreadableFile(f"{what} not found", "check the path") from None
        raise _cannot(what, exc) from None


def read_limited(path: Path, *, limit: int, what: str) -> bytes:
    """The bytes of the regular file at `path` (links followed), at most `limit` of them;
    UnreadableFile for anything else (a folder, a FIFO, a device, a loop, too large)."""
    fd = _open(path, what)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UnreadableFile(f"{what} is a directory, not a file", "give the path of a file")
        if not stat.S_ISREG(mode):
            raise UnreadableFile(
                f"{what} is {_kind(mode)}, not a regular file",
                "give the path of a regular file; agentflow reads nothing else",
            )
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise UnreadableFile(
                f"{what} is too large (over {_size(limit)}); the limit is {_size(limit)}",
                "is this the right file?",
            )
        return b"".join(chunks)
    except OSError as exc:
        raise _cannot(what, exc) from None
    finally:
        os.close(fd)


def _cannot(what: str, exc: OSError) -> UnreadableFile:
    return UnreadableFile(f"cannot read {what}: {exc.strerror or exc}", "check the path")


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit / 1024 / 1024:g} MB"
    return f"{limit / 1024:g} KB"

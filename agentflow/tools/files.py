"""Read-only file tools with Claude Code's names and inputs: Read, Glob and Grep.

Everything happens inside one workspace folder (agentflow.tools.workspace): a path that
leaves it is refused, likely secrets are withheld, files are opened then verified. Output
is capped so one call cannot flood the context window, and a file is read only as far as
the call needs (a 50 GB file costs what its first lines cost).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import regex

from agentflow.tools.base import Tool, ToolCall, ToolContext, ToolError, ToolResult, ToolSpec
from agentflow.tools.patterns import Deadline, PatternError, compile_pattern, search
from agentflow.tools.workspace import Workspace

__all__ = ["GlobTool", "GrepTool", "ReadTool", "Workspace", "file_tools"]

MAX_LINES = 2000  # Read: lines per call (Claude Code's default)
MAX_BYTES = 256 * 1024  # Read: bytes per call
MAX_LINE_CHARS = 2000  # Read: a longer line is cut (minified files would eat the budget)
MAX_GLOB_FILES = 500
MAX_GREP_MATCHES = 200
MAX_GREP_LINE_CHARS = 500
MAX_GREP_FILE_BYTES = 2 * 1024 * 1024
BINARY_SNIFF_BYTES = 8192
SEARCH_SECONDS_IN_ALL = 10.0  # one Glob or Grep: its patterns' searches together, at most
MAX_SCAN_BYTES = 64 * 1024 * 1024  # Read: bytes read at most to find and count lines


def _field(call: ToolCall, name: str, kind: type, required: bool = False) -> Any:
    data = call.input if isinstance(call.input, Mapping) else {}
    value = data.get(name)
    if value is None:
        if required:
            raise ToolError(f"missing required field `{name}`")
        return None
    # bool is an int subclass: {"offset": true} must not pass as a line number
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        json_type = {str: "a string", int: "an integer", bool: "a boolean"}[kind]
        raise ToolError(f"field `{name}` must be {json_type}, got {value!r}")
    if kind is str and required and not value:
        raise ToolError(f"field `{name}` must not be empty")
    return value


async def _run(call: ToolCall, work: Callable[[], str]) -> ToolResult:
    # File work runs in a thread so a big Grep does not stall the other tasks' event loop.
    try:
        return ToolResult(call.id, await asyncio.to_thread(work))
    except (ToolError, PatternError) as error:
        return ToolResult(call.id, str(error), is_error=True)
    except OSError as error:
        return ToolResult(call.id, f"{call.name} failed: {error}", True)
    except Exception as error:  # a tool never raises to the loop (see base.py)
        return ToolResult(call.id, f"{call.name} failed: {type(error).__name__}: {error}", True)


def _is_binary(head: bytes) -> bool:
    return b"\x00" in head


def _load_text(workspace: Workspace, file: str, name: str) -> str:
    """A file's text for Grep; a ToolError for binary files and files over 2 MB (counted
    while reading)."""
    with open(workspace.open_file(file, name), "rb") as handle:
        data = handle.read(MAX_GREP_FILE_BYTES + 1)
    if len(data) > MAX_GREP_FILE_BYTES:
        raise ToolError(f"file too large to search: {name} (over 2 MB)")
    if _is_binary(data[:BINARY_SNIFF_BYTES]):
        raise ToolError(f"binary file: {name}; Grep searches text files only")
    return data.decode("utf-8", "replace")


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:  # gone since the walk listed it
        return 0.0


def _glob_regex(pattern: str) -> str:
    """Glob to regex: `*` and `?` stay in one segment, a whole `**` segment spans any
    number of folders, `[...]` is a class (`!` negates), `{a,b}` is an alternation."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**", i) and (i == 0 or pattern[i - 1] == "/"):
            end = i + 2
            if end == n:
                out.append(".*")
                i = end
                continue
            if pattern[end] == "/":
                out.append("(?:[^/]*/)*")
                i = end + 1
                continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[" and (close := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : close]
            negate = body[0] in "!^"
            body = "".join("\\" + ch if ch in "\\[]^" else ch for ch in body[negate:])
            out.append(f"[{'^/' if negate else ''}{body}]")
            i = close + 1
            continue
        elif c == "{" and (close := pattern.find("}", i)) != -1:
            alternatives = pattern[i + 1 : close].split(",")
            out.append("(?:" + "|".join(_glob_regex(a) for a in alternatives) + ")")
            i = close + 1
            continue
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _compile_glob(pattern: str) -> regex.Pattern[str]:
    return compile_pattern(_glob_regex(pattern), flags=regex.DOTALL)


def _spec(name: str, description: str, example: str, **fields: tuple[str, str]) -> ToolSpec:
    """A ToolSpec from `field=(json type, description)`; the first field is required, and
    `example` an example of it (the simulate provider calls the tool with it)."""
    properties: dict[str, dict[str, Any]] = {
        key: {"type": t, "description": d} for key, (t, d) in fields.items()
    }
    properties[next(iter(properties))]["examples"] = [example]
    return ToolSpec(
        name,
        description,
        {"type": "object", "properties": properties, "required": [next(iter(properties))]},
    )


class _FileTool:
    spec: ToolSpec

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    async def run(self, call: ToolCall, context: ToolContext) -> ToolResult:
        return await _run(call, lambda: self._work(call))

    def _work(self, call: ToolCall) -> str:
        raise NotImplementedError


class ReadTool(_FileTool):
    spec = _spec(
        "Read",
        "Read a text file of the workspace. Output has line numbers like `cat -n`; "
        f"at most {MAX_LINES} lines per call, use offset/limit for more.",
        "README.md",
        file_path=("string", "The file to read"),
        offset=("integer", "First line (1-based)"),
        limit=("integer", "How many lines to read"),
    )

    def _work(self, call: ToolCall) -> str:
        file_path: str = _field(call, "file_path", str, required=True)
        offset: int | None = _field(call, "offset", int)
        limit: int | None = _field(call, "limit", int)
        if (offset is not None and offset < 0) or (limit is not None and limit < 1):
            raise ToolError("field `offset` must be 1 or more, `limit` 1 or more")
        offset = offset or 1  # models often send 0 meaning "from the start"
        path = self.workspace.resolve(file_path)
        if path.is_dir():
            raise ToolError(f"{file_path} is a directory, not a file; use Glob to list its files")
        if not path.exists():
            raise ToolError(f"file not found: {file_path} (workspace: {self.workspace.root})")
        with open(self.workspace.open_file(path, file_path), "rb") as handle:
            if _is_binary(handle.read(BINARY_SNIFF_BYTES)):
                raise ToolError(f"binary file: {file_path}; Read shows text files only")
            handle.seek(0)
            window = _numbered_lines(handle, offset, limit or MAX_LINES)
        if window.total == 0:
            return f"(empty file: {file_path})"
        if window.last == 0 and window.total is not None:
            raise ToolError(
                f"offset {offset} is past the end of {file_path} ({window.total} lines)"
            )
        if window.last == 0:
            raise ToolError(
                f"line {offset} of {file_path} is beyond the first {MAX_SCAN_BYTES >> 20} MB, "
                "as far as Read looks"
            )
        shown = window.lines
        if window.total is None:
            shown.append(
                f"[cut: showing lines {offset}-{window.last}; the file goes on; use offset/limit]"
            )
        elif window.last < window.total:
            shown.append(
                f"[cut: showing lines {offset}-{window.last} of {window.total}; use offset/limit]"
            )
        return "\n".join(shown)


@dataclass
class _Window:
    lines: list[str]  # as `cat -n` shows them
    last: int  # the last line shown (0: none)
    total: int | None  # the file's lines; None: more than Read looked at


def _numbered_lines(handle: BinaryIO, offset: int, limit: int) -> _Window:
    """Lines offset..offset+limit-1 within MAX_BYTES, reading no further than they (and
    counting the rest of the lines, within MAX_SCAN_BYTES in all)."""
    window = _Window([], 0, None)
    used, number, scanned, continued = 0, 0, 0, False
    # readline with a cap: a file without newlines must not be read whole at once
    for raw in iter(lambda: handle.readline(1 << 20), b""):
        scanned += len(raw)
        if scanned > MAX_SCAN_BYTES:
            return window
        if continued:  # the rest of a line longer than the cap
            continued = not raw.endswith(b"\n")
            continue
        continued = not raw.endswith(b"\n")
        number += 1
        if number < offset:
            continue
        entry = f"{number:>6}\t{_shown_line(raw)}"
        size = len(entry.encode()) + 1
        if number >= offset + limit or used + size > MAX_BYTES:
            number -= 1
            handle.seek(-len(raw), os.SEEK_CUR)
            break
        window.lines.append(entry)
        used += size
        window.last = number
    window.total = _count_rest(handle, number, MAX_SCAN_BYTES - scanned)
    return window


def _count_rest(handle: BinaryIO, number: int, budget: int) -> int | None:
    """`number` plus the lines from here to the end; None past `budget` bytes."""
    last = b"\n"
    while budget > 0:
        chunk = handle.read(min(1 << 20, budget))
        if not chunk:
            return number + (last != b"\n")
        number += chunk.count(b"\n")
        last, budget = chunk[-1:], budget - len(chunk)
    return None if handle.read(1) else number + (last != b"\n")


def _shown_line(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    return text[:MAX_LINE_CHARS] + " [line cut]" if len(text) > MAX_LINE_CHARS else text


class GlobTool(_FileTool):
    spec = _spec(
        "Glob",
        "Find files of the workspace by glob pattern (`**` spans folders, `{a,b}` "
        "alternates), newest first.",
        "**/*",
        pattern=("string", "e.g. **/*.py"),
        path=("string", "Folder to search in"),
    )

    def _work(self, call: ToolCall) -> str:
        pattern: str = _field(call, "pattern", str, required=True)
        base = self.workspace.resolve(_field(call, "path", str) or ".")
        if not base.is_dir():
            raise ToolError(f"not a folder: {call.input.get('path')}")
        # Literal leading segments narrow the walk (and go through resolve, so an
        # absolute or `..` prefix is checked); the rest is matched against relative paths.
        segments = pattern.split("/")
        literal = 0
        while literal < len(segments) and not any(c in segments[literal] for c in "*?[{"):
            literal += 1
        rest = [s for s in segments[literal:] if s != "."]
        if ".." in rest:
            raise ToolError("`..` is not allowed after a wildcard; use `path` to pick a folder")
        prefix = "/".join(segments[:literal]) or "."
        start = self.workspace.resolve(os.path.join(base, prefix))
        if not rest:  # no wildcard at all: the pattern names one file
            found = [str(start)] if start.is_file() else []
        elif not start.is_dir():
            found = []
        else:
            matcher, deadline = _compile_glob("/".join(rest)), Deadline(SEARCH_SECONDS_IN_ALL)
            depth = None if any("**" in s for s in rest) else len(rest)
            found = [
                p
                for p in self.workspace.walk(start, depth)
                if search(
                    matcher, Path(p).relative_to(start).as_posix(), deadline=deadline, full=True
                )
            ]
        if not found:
            return f"no files match {pattern}"
        dated = [(_mtime(p), self.workspace.relative(p)) for p in found]
        dated.sort(key=lambda item: (-item[0], item[1]))
        lines = [rel for _, rel in dated[:MAX_GLOB_FILES]]
        if len(dated) > MAX_GLOB_FILES:
            lines.append(
                f"[cut: showing {MAX_GLOB_FILES} of {len(dated)} files; narrow the pattern or path]"
            )
        return "\n".join(lines)


class GrepTool(_FileTool):
    spec = _spec(
        "Grep",
        "Search file contents of the workspace with a Python regular expression; "
        "prints file:line:text for each matching line.",
        "TODO",
        pattern=("string", "Python regex"),
        path=("string", "File or folder to search"),
        glob=("string", "Only files matching, e.g. *.py"),
        **{"-i": ("boolean", "Case insensitive")},
    )

    def _work(self, call: ToolCall) -> str:
        pattern: str = _field(call, "pattern", str, required=True)
        path_arg: str | None = _field(call, "path", str)
        file_glob: str | None = _field(call, "glob", str)
        ignore_case: bool = _field(call, "-i", bool) or False
        matcher = compile_pattern(pattern, flags=regex.IGNORECASE if ignore_case else 0)
        deadline = Deadline(SEARCH_SECONDS_IN_ALL)
        start = self.workspace.resolve(path_arg or ".")
        if start.is_file():
            files = [str(start)]
            _load_text(self.workspace, files[0], path_arg or "")  # named: say why not
        elif start.is_dir():
            files = list(self.workspace.walk(start))
            if file_glob:
                # like ripgrep: a glob without `/` matches the file name at any depth
                filt = _compile_glob(file_glob)
                files = [
                    f
                    for f in files
                    if search(
                        filt,
                        Path(f).relative_to(start).as_posix() if "/" in file_glob else Path(f).name,
                        deadline=deadline,
                        full=True,
                    )
                ]
        elif start.exists():
            raise ToolError(f"not a regular file: {path_arg} (a FIFO, device or socket)")
        else:
            raise ToolError(f"path not found: {path_arg} (workspace: {self.workspace.root})")
        out: list[str] = []
        for file in sorted(files, key=self.workspace.relative):
            try:
                text = _load_text(self.workspace, file, self.workspace.relative(file))
            except (ToolError, OSError):
                continue  # in a folder, binary, huge or unreadable files are just skipped
            rel = self.workspace.relative(file)
            for number, line in enumerate(text.split("\n"), 1):
                if not search(matcher, line, deadline=deadline):
                    continue
                if len(out) == MAX_GREP_MATCHES:
                    out.append(
                        f"[cut: showing the first {MAX_GREP_MATCHES} matches; "
                        "narrow the pattern, path or glob]"
                    )
                    return "\n".join(out)
                line = line.rstrip("\r")
                if len(line) > MAX_GREP_LINE_CHARS:
                    line = line[:MAX_GREP_LINE_CHARS] + " [line cut]"
                out.append(f"{rel}:{number}:{line}")
        return "\n".join(out) if out else f"no matches for {pattern}"


def file_tools(workspace: Workspace | Path) -> dict[str, Tool]:
    """The three read-only file tools by name, for the tool-use loop."""
    if not isinstance(workspace, Workspace):
        workspace = Workspace(workspace)
    return {
        "Read": ReadTool(workspace),
        "Glob": GlobTool(workspace),
        "Grep": GrepTool(workspace),
    }

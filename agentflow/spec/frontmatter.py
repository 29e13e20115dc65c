"""Split an agent file into frontmatter and body, and read frontmatter that strict YAML rejects.

Agent files in the wild are written by hand and rarely checked by a YAML parser: an
unquoted `: ` inside a description, a closing line of `-----`, tabs. Claude Code reads
most of them anyway, so we do too: strict `yaml.safe_load` first, and when that fails,
a line-based reader that takes each top-level `key: value` the way a person reads it.
Every repair is reported as a warning with the file's line, so authors can fix the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from agentflow.errors import Problem

_OPEN = re.compile(r"---[ \t]*")
_CLOSE = re.compile(r"(-{3,})[ \t]*")
# A top-level key: an identifier at column 0, a colon, then whitespace or the line's end.
_KEY = re.compile(r"([A-Za-z_][\w-]*)[ \t]*:(?:[ \t]+(.*))?")
_BLOCK = re.compile(r"([|>])([+-]?)[1-9]?([+-]?)(?:[ \t]+#.*)?")
_LIST_ITEM = re.compile(r"-(?:[ \t]+(.*))?")
_LBL = "read it line by line"


class FrontmatterError(Exception):
    """The file has no usable frontmatter block; carries the line to point at."""

    def __init__(self, message: str, line: int | None, hint: str, no_frontmatter: bool = False):
        super().__init__(message)
        self.message = message
        self.line = line
        self.hint = hint
        self.no_frontmatter = no_frontmatter  # the file does not start with `---` at all


@dataclass
class Frontmatter:
    data: dict[str, Any]  # the keys as read (strictly, or line by line)
    key_lines: dict[str, int]  # 1-based file line of each top-level key
    raw: dict[str, Any]  # the line-based reading: values as written, for coercing scalars
    body: str
    body_line: int  # file line where the body starts
    recovered: bool = False  # strict YAML failed; data comes from the line-based reader
    problems: list[Problem] = field(default_factory=list)


@dataclass
class _Entry:
    key: str
    line: int
    value: str  # text after `key: `, empty when the value starts on the next lines
    lines: list[str] = field(default_factory=list)  # continuation or block lines, raw
    items: list[str] = field(default_factory=list)  # `- item` lines


def parse_frontmatter(text: str, file: str) -> Frontmatter:
    """Read the frontmatter of `text` (newlines already normalized). Raises FrontmatterError."""
    lines = text.split("\n")
    problems: list[Problem] = []
    start = _opening_line(lines, file, problems)
    end = _closing_line(lines, start, file, problems)
    fm_lines = lines[start + 1 : end]
    first = start + 2  # file line of the first frontmatter line
    if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in fm_lines):
        raise FrontmatterError(
            "frontmatter is empty", start + 1, "add name: and description: between the --- lines"
        )
    # How the line-based reader coped with odd lines matters only when its reading is used.
    notes: list[Problem] = []
    raw, key_lines = _read_lines(fm_lines, first, file, notes, problems)
    data, recovered = _strict_or_raw(fm_lines, first, raw, file, problems)
    if recovered:
        problems += notes
    problems.sort(key=lambda p: p.line or 0)
    body = "\n".join(lines[end + 1 :])
    return Frontmatter(data, key_lines, raw, body, end + 2, recovered, problems)


def _opening_line(lines: list[str], file: str, problems: list[Problem]) -> int:
    # Blank lines before `---` are invisible to a reader, so allow them, but say so:
    # Claude Code itself wants `---` on the first line.
    index = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if index is None or not _OPEN.fullmatch(lines[index]):
        raise FrontmatterError(
            "not an agent file: no frontmatter",
            1,
            "an agent file starts with a line '---', then name: and description:, then '---'",
            no_frontmatter=True,
        )
    if index > 0:
        problems.append(
            _warn(file, "frontmatter does not start on line 1", index + 1, "remove blank lines")
        )
    return index


def _closing_line(lines: list[str], start: int, file: str, problems: list[Problem]) -> int:
    for index in range(start + 1, len(lines)):
        match = _CLOSE.fullmatch(lines[index])
        if match is None:
            continue
        if match.group(1) != "---":
            message = f"frontmatter ends with a line of {len(match.group(1))} dashes, not '---'"
            problems.append(_warn(file, message, index + 1, "end the frontmatter with '---'"))
        return index
    raise FrontmatterError(
        "frontmatter has no closing '---' line",
        start + 1,
        "add a line '---' after the last frontmatter key, before the prompt",
    )


def _strict_or_raw(
    fm_lines: list[str], first: int, raw: dict[str, Any], file: str, problems: list[Problem]
) -> tuple[dict[str, Any], bool]:
    source = "\n".join(fm_lines)
    try:
        loaded = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        problems.append(_yaml_warning(exc, source, first, file))
        return raw, True
    except (ValueError, TypeError, RecursionError) as exc:
        # PyYAML's constructors can fail outside YAMLError (e.g. a date like 2024-13-45).
        problems.append(_warn(file, f"frontmatter is not valid YAML ({exc}); " + _LBL, first))
        return raw, True
    if isinstance(loaded, dict):
        return {str(k): v for k, v in loaded.items()}, False
    what = {str: "plain text", list: "a list"}.get(type(loaded), type(loaded).__name__)
    message = f"frontmatter is not valid YAML ({what}, not key: value pairs); " + _LBL
    problems.append(_warn(file, message, first))
    return raw, True


def _yaml_warning(exc: yaml.YAMLError, source: str, first: int, file: str) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    reason = getattr(exc, "problem", None) or str(exc).split("\n")[0]
    line, col = first, None
    if mark is not None:
        # Count newlines up to the error's index: PyYAML also breaks lines at U+2028 and
        # U+0085, so mark.line can disagree with what an editor shows.
        line = first + source.count("\n", 0, mark.index)
        col = mark.index - (source.rfind("\n", 0, mark.index) + 1) + 1
    hint = "check the frontmatter's indentation and quoting"
    if "mapping values are not allowed" in reason:
        hint = 'a value containing ": " must be quoted, e.g. description: "..."'
    elif "'\\t'" in reason:
        hint = "YAML does not allow tabs here; use spaces"
    message = f"frontmatter is not valid YAML ({reason}); {_LBL}"
    return Problem(file, message, line, col, hint, "warning")


def _read_lines(
    fm_lines: list[str], first: int, file: str, notes: list[Problem], problems: list[Problem]
) -> tuple[dict[str, Any], dict[str, int]]:
    """The line-based reading: values as written, plus where each key is.

    Repeated keys go to `problems` in any case: strict YAML (PyYAML) silently keeps the last.
    """
    entries = _entries(fm_lines, first, file, notes)
    data: dict[str, Any] = {}
    key_lines: dict[str, int] = {}
    for entry in entries:
        if entry.key in key_lines:
            message = f"key {entry.key!r} is given twice (lines {key_lines[entry.key]} and "
            message += f"{entry.line}); the later one is used"
            problems.append(_warn(file, message, entry.line, "remove one of them"))
        data[entry.key] = _entry_value(entry)
        key_lines[entry.key] = entry.line
    return data, key_lines


def _entries(fm_lines: list[str], first: int, file: str, notes: list[Problem]) -> list[_Entry]:
    entries: list[_Entry] = []
    warned: set[int] = set()  # key lines already warned about: one warning per key is enough
    for offset, line in enumerate(fm_lines):
        lineno = first + offset
        current = entries[-1] if entries else None
        indented = line[:1] in (" ", "\t")
        if (
            current is not None
            and _BLOCK.fullmatch(current.value)
            and (indented or not line.strip())
        ):
            current.lines.append(line)
            continue
        stripped = line.strip()
        if not stripped or (not indented and stripped.startswith("#")):
            if current is not None and not stripped:
                current.lines.append("")
            continue
        key = None if indented else _KEY.fullmatch(line.rstrip())
        if key is not None:
            entries.append(_Entry(key.group(1), lineno, (key.group(2) or "").strip()))
        elif current is None:
            notes.append(_warn(file, f"line ignored: {stripped[:40]!r} is not key: value", lineno))
        elif (
            not current.value
            and (item := _LIST_ITEM.fullmatch(stripped))
            and not _text_lines(current)
        ):
            current.items.append((item.group(1) or "").strip())
        else:
            if not indented and current.line not in warned:
                warned.add(current.line)
                message = f"line is not key: value; read it as part of {current.key!r}"
                notes.append(_warn(file, message, lineno, "indent continuation lines"))
            current.lines.append(line)
    return entries


def _text_lines(entry: _Entry) -> bool:
    return any(ln.strip() for ln in entry.lines)


def _entry_value(entry: _Entry) -> Any:
    block = _BLOCK.fullmatch(entry.value)
    if block is not None:
        return _block_scalar(entry.lines, block.group(1), block.group(2) or block.group(3))
    if entry.items and not entry.value:
        return [_scalar(item) for item in entry.items]
    text = _fold([entry.value, *(ln.strip() for ln in entry.lines)])
    return _scalar(text) if text else None


def _fold(parts: list[str]) -> str:
    """YAML's folding of plain multi-line values: lines join with a space, blank lines break."""
    out = ""
    for part in parts:
        if not part:
            out += "\n"
        elif out and not out.endswith("\n"):
            out += " " + part
        else:
            out += part
    return out.strip("\n")


def _block_scalar(lines: list[str], style: str, chomp: str) -> str:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    body = [ln.expandtabs(4) for ln in lines]
    indent = min((len(ln) - len(ln.lstrip()) for ln in body if ln.strip()), default=0)
    body = [ln[indent:].rstrip() for ln in body]
    text = "\n".join(body) if style == "|" else _fold(body)
    return text if chomp == "-" else text + "\n"


def _scalar(text: str) -> Any:
    """Quoted strings and flow lists through YAML when that works; anything else as written."""
    if text[:1] in ("'", '"', "[", "{"):
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = None
        if isinstance(value, str | list | dict):
            return value
        if len(text) > 1 and text[0] == text[-1] and text[0] in ("'", '"'):
            return text[1:-1]
    return text


def _warn(file: str, message: str, line: int | None, hint: str | None = None) -> Problem:
    return Problem(file, message, line, None, hint, "warning")

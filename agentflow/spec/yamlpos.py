"""YAML reading that can say where every value came from, and refuses what YAML silently allows.

Values come from PyYAML's (C-accelerated when available) safe loader, with one change:
a duplicate key, which `yaml.safe_load` resolves by silently keeping the last one, is
reported. Positions (`FILE:LINE:COL` for a path such as ("tasks", "draft", "prompt")) are
only needed when something is wrong, so they are computed on first use by composing the
text again; a valid 10,000-task file never pays for them.
"""

from __future__ import annotations

import hashlib
import math
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentflow.errors import Problem
from agentflow.guard.readfile import UnreadableFile, read_limited

# The largest workflow file read: planning takes time and memory in proportion to the
# file, ~1 s and ~40 MB per MB (README.md, "Limits", and benchmarks/plan_scale.py).
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_NODES = 2_000_000  # values once aliases are expanded: against alias bombs ("billion
# laughs"); a file of MAX_FILE_BYTES without aliases holds fewer
MAX_DEPTH = 100  # a failed parse this deep is called too deeply nested, whatever the parser said
DEPTH_SCAN_CHARS = 1024 * 1024  # how much of a failed document is scanned for its depth

YamlPath = tuple[str | int, ...]

# libyaml's parser is several times faster and gives the same marks; not every build has it.
_BASE_LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    col: int  # 1-based


class _PositionIndex:
    """Path -> position, and which paths hold block scalars, built from the node tree."""

    def __init__(self, text: str) -> None:
        self.positions: dict[YamlPath, tuple[int, int]] = {}
        self.block_scalars: set[YamlPath] = set()
        root = yaml.compose(text, Loader=_BASE_LOADER)
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: YamlPath) -> None:
        stack: list[tuple[yaml.Node, YamlPath, tuple[int, int] | None]] = [(node, path, None)]
        while stack:  # iterative: deep documents must not exhaust the interpreter's stack
            current, where, key_mark = stack.pop()
            mark = current.start_mark
            self.positions[where] = key_mark or (mark.line + 1, mark.column + 1)
            if isinstance(current, yaml.MappingNode):
                for key_node, value_node in current.value:
                    if isinstance(key_node, yaml.ScalarNode):
                        # Mappings and sequences are best pointed at by their key's line.
                        at_key = None
                        if not isinstance(value_node, yaml.ScalarNode):
                            km = key_node.start_mark
                            at_key = (km.line + 1, km.column + 1)
                        stack.append((value_node, (*where, key_node.value), at_key))
            elif isinstance(current, yaml.SequenceNode):
                stack.extend((item, (*where, i), None) for i, item in enumerate(current.value))
            elif current.style in ("|", ">"):
                self.block_scalars.add(where)


@dataclass
class LoadedYaml:
    data: Any
    text: str = ""
    _index: _PositionIndex | None = field(default=None, repr=False)

    @property
    def text_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def _positions(self) -> _PositionIndex:
        if self._index is None:
            self._index = _PositionIndex(self.text)
        return self._index

    @property
    def block_scalars(self) -> set[YamlPath]:
        """Block scalars ("|" / ">") start their text on the line after the indicator."""
        return self._positions().block_scalars

    def position(self, path: YamlPath) -> Position | None:
        """The position of `path`, or of its nearest ancestor that has one."""
        positions = self._positions().positions
        for end in range(len(path), -1, -1):
            found = positions.get(tuple(path[:end]))
            if found is not None:
                return Position(*found)
        return None


_STR = "tag:yaml.org,2002:str"
_FLOAT = "tag:yaml.org,2002:float"
_INT = "tag:yaml.org,2002:int"
MAX_INTEGER = 2**63 - 1  # what SQLite (the history) and JSON consumers hold


def _loader_class(file: str, problems: list[Problem]) -> type:
    class CheckingLoader(_BASE_LOADER):  # type: ignore[misc, valid-type]
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
            first_seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    problems.append(_at(file, key_node, "YAML merge keys (<<) are not supported"))
                    continue
                if not isinstance(key_node, yaml.ScalarNode):
                    problems.append(_at(file, key_node, "a mapping key must be a plain value"))
                    continue
                # A string key is its text; only other keys (1, 0x1, true) need building.
                key = key_node.value if key_node.tag == _STR else self.construct_object(key_node)
                if not isinstance(key, str):
                    problems.append(_not_text_key(file, key_node, key))
                    continue
                if key in first_seen:
                    problems.append(
                        _at(
                            file,
                            key_node,
                            f"duplicate key {key!r} (first defined on line {first_seen[key]})",
                            "YAML would silently keep only the last one; remove or rename one",
                        )
                    )
                else:
                    first_seen[key] = key_node.start_mark.line + 1
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
            value = super().construct_yaml_float(node)
            if not math.isfinite(value):
                problems.append(_at(file, node, f"{node.value} is not a number", "write one"))
            return value

        def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
            value = super().construct_yaml_int(node)
            if abs(value) > MAX_INTEGER:
                message = f"{node.value} is too large (at most {MAX_INTEGER:,})"
                problems.append(_at(file, node, message))
            return value

    CheckingLoader.add_constructor(_FLOAT, CheckingLoader.construct_yaml_float)
    CheckingLoader.add_constructor(_INT, CheckingLoader.construct_yaml_int)
    return CheckingLoader


def _not_text_key(file: str, node: yaml.ScalarNode, key: Any) -> Problem:
    """`yes:`, `on:`, `~:`, `12:` as keys: YAML 1.1 reads them as booleans, null, numbers."""
    kind = "null" if key is None else type(key).__name__
    return _at(
        file,
        node,
        f"the key {node.value!r} is read by YAML as {kind} {key!r}, not as text",
        f"quote it: '{node.value}'",
    )


def _at(file: str, node: yaml.Node, message: str, hint: str | None = None) -> Problem:
    mark = node.start_mark
    return Problem(file, message, mark.line + 1, mark.column + 1, hint)


def _expanded_size(data: Any, limit: int) -> int:
    """How many values `data` holds once aliases are expanded (stops counting at `limit`)."""
    sizes: dict[int, int] = {}

    def size(value: Any) -> int:
        if isinstance(value, dict):
            children = list(value.values())
        elif isinstance(value, list):
            children = value
        else:
            return 1
        known = sizes.get(id(value))
        if known is None:
            known = 1
            for child in children:
                known += size(child)
                if known > limit:
                    break
            sizes[id(value)] = known
        return known

    return size(data)


def read_text_file(path: Path, what: str) -> tuple[str | None, Problem | None]:
    """Read a user's text file, turning every way it can be unreadable (missing, a folder,
    a FIFO or device, a symlink loop, too large) into one Problem."""
    file = str(path)
    try:
        size = _regular_size(path)
        if size is not None and size > MAX_FILE_BYTES:
            return None, _too_big(file, what, size)  # refused before a byte is read
        raw = read_limited(path, limit=MAX_FILE_BYTES, what=what)
    except UnreadableFile as exc:
        if "too large" in exc.message:  # grew past the limit while being read
            return None, _too_big(file, what, None)
        return None, Problem(file, exc.message, hint=exc.hint)
    if b"\x00" in raw:
        return None, Problem(file, f"{what} is binary, not text", hint="is this the right file?")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"{what} is not UTF-8 text (bad byte at offset {exc.start})"
        return None, Problem(file, message, hint="save it as UTF-8")
    return text, None


def _regular_size(path: Path) -> int | None:
    """The size `stat` gives a regular file (stat never blocks, not even on a FIFO); None
    for anything else, which `read_limited` then names."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _too_big(file: str, what: str, size: int | None) -> Problem:
    limit = MAX_FILE_BYTES // 1024 // 1024
    grown = "more than the limit" if size is None else f"{size / 1024 / 1024:,.1f} MB"
    return Problem(
        file,
        f"{what} is {grown}; the limit is {limit} MB",
        hint="split it into smaller workflows; see Limits in README.md",
    )


def load_yaml(text: str, file: str) -> tuple[LoadedYaml | None, list[Problem]]:
    """Parse one YAML document; problems instead of exceptions."""
    problems: list[Problem] = []
    if _too_many_values(text):
        return None, [_too_large(file)]
    try:
        data = yaml.load(text, Loader=_loader_class(file, problems))  # noqa: S506 - safe loader
    except (yaml.YAMLError, RecursionError) as exc:
        if _nesting_depth(text, exc) > MAX_DEPTH:
            return None, [_too_deep(file)]
        return None, [_yaml_problem(exc, file)]
    if data is None:
        return None, [Problem(file, "the file is empty", hint="see README.md for the format")]
    try:
        if _expanded_size(data, MAX_NODES) > MAX_NODES:
            return None, [_too_large(file, "expands to")]
    except RecursionError:
        return None, [_too_deep(file)]
    return LoadedYaml(data, text), problems


def _too_large(file: str, verb: str = "holds") -> Problem:
    return Problem(
        file,
        f"the document {verb} more than {MAX_NODES:,} values",
        hint="split it into smaller workflows; see Limits in README.md",
    )


def _too_many_values(text: str) -> bool:
    """Whether the document has more than MAX_NODES values, found out before building
    them: PyYAML holds ~300 bytes a value while it builds, so a file of `a,a,a,...` would
    take 20 times its size again. Every value but the first needs one of a few characters,
    so counting them settles nearly every file; the rest are parsed without being built,
    up to the limit."""
    if 1 + sum(text.count(c) for c in "\n:,[{-?") <= MAX_NODES:
        return False
    values = 0
    try:
        for event in yaml.parse(text, Loader=_BASE_LOADER):
            if isinstance(event, _VALUE_EVENTS):
                values += 1
                if values > MAX_NODES:
                    return True
    except (yaml.YAMLError, RecursionError):
        return False  # loading it says what is wrong, in its words
    return False


_VALUE_EVENTS = (yaml.ScalarEvent, yaml.CollectionStartEvent, yaml.AliasEvent)


def _too_deep(file: str) -> Problem:
    return Problem(
        file,
        f"the YAML is nested too deeply to read (more than {MAX_DEPTH} levels)",
        hint="a workflow needs only a few levels; is this the right file?",
    )


def _nesting_depth(text: str, error: BaseException) -> int:
    """How deep the document's collections nest up to where loading failed: asked only
    then, to tell a too-deep document from other errors in agentflow's own words (parsers
    word their limits differently, and some hit Python's recursion limit). PyYAML's own
    parser is used, which has no depth limit of its own, on at most DEPTH_SCAN_CHARS."""
    mark = getattr(error, "problem_mark", None)
    end = len(text) if mark is None else min(len(text), mark.index + 1)
    if end > DEPTH_SCAN_CHARS:
        return 0
    depth = deepest = 0
    try:
        for event in yaml.parse(text[:end], Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                deepest = max(deepest, depth)
                if deepest > MAX_DEPTH:
                    break
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except (yaml.YAMLError, RecursionError):
        pass
    return deepest


def _yaml_problem(exc: BaseException, file: str) -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        reason = exc.problem or str(exc)
        if exc.context:
            reason = f"{reason} ({exc.context})"
        return Problem(file, f"invalid YAML: {reason}", line, col)
    if isinstance(exc, RecursionError):
        return _too_deep(file)
    return Problem(file, f"invalid YAML: {exc}")

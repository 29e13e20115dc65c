"""YAML reading that keeps where every value came from, and refuses what YAML silently allows.

PyYAML's composer gives nodes with start marks; we build plain Python values from them
ourselves so that each value's path (e.g. ("tasks", "draft", "prompt")) maps to its
line and column for `FILE:LINE:COL` messages. Duplicate keys, which `yaml.safe_load`
resolves by silently keeping the last one, are reported instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentflow.errors import Problem

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_NODES = 500_000  # guards against alias bombs ("billion laughs") and absurd files
MAX_DEPTH = 200

YamlPath = tuple[str | int, ...]

# libyaml's parser is several times faster and gives the same marks; not every build has it.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    col: int  # 1-based


@dataclass(frozen=True)
class LoadedYaml:
    data: Any
    positions: Mapping[YamlPath, Position] = field(default_factory=dict)
    # Block scalars ("|" / ">") start their text on the line after the indicator.
    block_scalars: frozenset[YamlPath] = frozenset()

    def position(self, path: YamlPath) -> Position | None:
        """The position of `path`, or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(tuple(path[:end]))
            if found is not None:
                return found
        return None


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.positions: dict[YamlPath, Position] = {}
        self.block_scalars: set[YamlPath] = set()
        self.problems: list[Problem] = []
        self.nodes = 0
        self._scalars = yaml.SafeLoader("")  # one constructor reused: building one is costly

    def build(self, node: yaml.Node, path: YamlPath, depth: int, record: bool = True) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooLarge(f"the document expands to more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise _TooLarge(f"the document is nested more than {MAX_DEPTH} levels deep")
        if record:
            mark = node.start_mark
            self.positions[path] = Position(mark.line + 1, mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
            self.block_scalars.add(path)
        return self._scalars.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: YamlPath, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(self._at(key_node, "YAML merge keys (<<) are not supported"))
                continue
            key = self.build(key_node, path, depth + 1, record=False)
            if not isinstance(key, str | int | float | bool) and key is not None:
                self.problems.append(self._at(key_node, "a mapping key must be a plain value"))
                continue
            if key in first_seen:
                self.problems.append(
                    self._at(
                        key_node,
                        f"duplicate key {key!r} (first defined on line {first_seen[key]})",
                        hint="YAML would silently keep only the last one; remove or rename one",
                    )
                )
                continue
            first_seen[key] = key_node.start_mark.line + 1
            child = (*path, key if isinstance(key, str) else str(key))
            result[key] = self.build(value_node, child, depth + 1)
            if child in self.positions:
                # A key's own line is the better place to point at for "wrong value" errors
                # on mappings and sequences, whose value node may start on the next line.
                value_mark = value_node.start_mark
                if not isinstance(value_node, yaml.ScalarNode):
                    self.positions[child] = Position(
                        key_node.start_mark.line + 1, key_node.start_mark.column + 1
                    )
                else:
                    self.positions[child] = Position(value_mark.line + 1, value_mark.column + 1)
        return result

    def _at(self, node: yaml.Node, message: str, hint: str | None = None) -> Problem:
        mark = node.start_mark
        return Problem(self.file, message, mark.line + 1, mark.column + 1, hint)


class _TooLarge(Exception):
    pass


def read_text_file(path: Path, what: str) -> tuple[str | None, Problem | None]:
    """Read a user's text file, turning every way it can be unreadable into one Problem."""
    file = str(path)
    if not path.exists():
        return None, Problem(file, f"{what} not found", hint="check the path")
    if path.is_dir():
        return None, Problem(file, f"{what} is a directory, not a file", hint="name a .yaml file")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            mb = size / 1024 / 1024
            limit = MAX_FILE_BYTES // 1024 // 1024
            return None, Problem(file, f"{what} is {mb:.1f} MB; the limit is {limit} MB")
        raw = path.read_bytes()
    except OSError as exc:
        return None, Problem(file, f"cannot read {what}: {exc.strerror or exc}")
    if b"\x00" in raw:
        return None, Problem(file, f"{what} is binary, not text", hint="is this the right file?")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, Problem(
            file,
            f"{what} is not UTF-8 text (bad byte at offset {exc.start})",
            hint="save it as UTF-8",
        )
    return text, None


def load_yaml(text: str, file: str) -> tuple[LoadedYaml | None, list[Problem]]:
    """Parse one YAML document with positions; problems instead of exceptions."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        reason = exc.problem or str(exc)
        if exc.context:
            reason = f"{reason} ({exc.context})"
        return None, [Problem(file, f"invalid YAML: {reason}", line, col)]
    except yaml.composer.ComposerError as exc:  # e.g. several documents in one file
        return None, [Problem(file, f"invalid YAML: {exc}")]
    except yaml.YAMLError as exc:
        return None, [Problem(file, f"invalid YAML: {exc}")]
    except RecursionError:
        return None, [Problem(file, "the YAML is nested too deeply to read")]
    if root is None:
        return None, [Problem(file, "the file is empty", hint="see README.md for the format")]
    builder = _Builder(file)
    try:
        data = builder.build(root, (), 0)
    except (_TooLarge, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, _TooLarge) else "the YAML is nested too deeply"
        return None, [Problem(file, reason)]
    except yaml.YAMLError as exc:
        return None, [Problem(file, f"invalid YAML value: {exc}")]
    loaded = LoadedYaml(data, builder.positions, frozenset(builder.block_scalars))
    return loaded, builder.problems

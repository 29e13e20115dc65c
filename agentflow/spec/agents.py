"""Agent files: Markdown with YAML frontmatter, Claude Code's subagent format.

The loader is tolerant on purpose: a file a person would read as an agent loads, and
whatever had to be repaired comes back as a warning pointing at the line. Only files
that cannot be read as an agent at all (binary, no frontmatter block, no name or no
description) are rejected, and then as an error `Problem`, never as an exception.
"""

from __future__ import annotations

import codecs
import datetime
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentflow.errors import Problem
from agentflow.guard.readfile import UnreadableFile, read_limited
from agentflow.spec.frontmatter import Frontmatter, FrontmatterError, parse_frontmatter

MAX_FILE_BYTES = 5 * 1024 * 1024
# Markdown files that commonly sit next to agents; without frontmatter they are skipped quietly.
NOT_AGENT_FILES = frozenset(
    {"readme.md", "changelog.md", "license.md", "contributing.md", "sources.md"}
)
_KNOWN_KEYS = ("name", "description", "tools", "model")
_SCALARS = (bool, int, float, datetime.date)


@dataclass(frozen=True)
class Agent:
    name: str
    description: str
    tools: tuple[str, ...]  # empty = the agent did not restrict tools
    model: str | None  # as written: haiku/sonnet/opus/inherit/full id, or None
    system_prompt: str  # the Markdown body, stripped
    path: Path
    extra: Mapping[str, Any] = field(default_factory=dict)  # every other frontmatter key, kept


@dataclass(frozen=True)
class AgentCatalog:
    agents: Mapping[str, Agent]  # by name
    problems: tuple[Problem, ...]  # warnings (recovered files) and errors (unreadable, duplicates)
    loaded: tuple[Agent, ...] = ()  # every file that loaded, duplicates included, in scan order


@dataclass
class _Loaded:
    agent: Agent | None
    problems: list[Problem]
    no_frontmatter: bool = False  # lets a folder scan skip READMEs quietly
    name_line: int | None = None


class _Unreadable(Exception):
    def __init__(self, message: str, hint: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.hint, self.line = message, hint, line


def load_agent_file(path: Path) -> tuple[Agent | None, list[Problem]]:
    loaded = _load(Path(path))
    return loaded.agent, loaded.problems


def discover_agents(dirs: Sequence[Path]) -> AgentCatalog:
    agents: dict[str, Agent] = {}
    first_file: dict[str, Path] = {}
    problems: list[Problem] = []
    seen: set[Path] = set()  # overlapping folders must not turn one file into a duplicate
    loaded: list[Agent] = []
    for folder in map(Path, dirs):
        if not folder.is_dir():
            problems.append(_missing_folder(folder))
            continue
        for path in _markdown_files(folder, problems):
            real = Path(os.path.realpath(path))  # never raises: a link loop stays as it is
            if real in seen:
                continue
            seen.add(real)
            agent = _add(path, agents, first_file, problems)
            if agent is not None:
                loaded.append(agent)
    return AgentCatalog(agents=agents, problems=tuple(problems), loaded=tuple(loaded))


def _add(
    path: Path, agents: dict[str, Agent], first_file: dict[str, Path], problems: list[Problem]
) -> Agent | None:
    """Load one file into `agents`; returns the agent it read, even a duplicate."""
    loaded = _load(path)
    if loaded.no_frontmatter:
        if path.name.lower() not in NOT_AGENT_FILES:
            hint = "agent files start with '---'; move other Markdown out of the agents folder"
            problems.append(_warning(path, "not an agent file: no frontmatter", 1, hint))
        return None
    problems.extend(loaded.problems)
    agent = loaded.agent
    if agent is None:
        return None
    if agent.name in agents:
        message = f'agent name "{agent.name}" is defined twice: {first_file[agent.name]} and {path}'
        hint = "rename one of them; the first one is used"
        problems.append(Problem(str(path), message, loaded.name_line, None, hint, "error"))
        return agent
    agents[agent.name] = agent
    first_file[agent.name] = path
    return agent


def _missing_folder(folder: Path) -> Problem:
    what = "is not a folder" if folder.exists() else "does not exist"
    hint = "create it, or fix the workflow's agents: entry (paths are relative to the workflow)"
    return Problem(str(folder), f"agent folder {folder} {what}", hint=hint)


def _markdown_files(folder: Path, problems: list[Problem]) -> list[Path]:
    def unreadable(exc: OSError) -> None:
        where = Path(exc.filename or folder)
        problems.append(_warning(where, f"cannot read folder: {exc.strerror or exc}", None))

    found: list[Path] = []
    # os.walk with sorted names: the same tree always gives the same order, so "the first
    # definition wins" means the same file on every machine.
    for root, subdirs, files in os.walk(folder, onerror=unreadable):
        subdirs.sort()
        found += [Path(root, name) for name in sorted(files) if name.lower().endswith(".md")]
    return found


def _load(path: Path) -> _Loaded:
    file = str(path)
    try:
        front = parse_frontmatter(_read_text(path), file)
        return _build(front, path)
    except _Unreadable as exc:
        return _Loaded(None, [Problem(file, exc.message, exc.line, None, exc.hint)])
    except FrontmatterError as exc:
        problem = Problem(file, exc.message, exc.line, None, exc.hint)
        return _Loaded(None, [problem], no_frontmatter=exc.no_frontmatter)
    except Exception as exc:  # a bug in this module must not abort a whole folder scan
        message = f"could not load agent file ({type(exc).__name__}: {exc})"
        return _Loaded(None, [Problem(file, message, hint="please report this as a bug")])


def _read_text(path: Path) -> str:
    try:
        data = read_limited(path, limit=MAX_FILE_BYTES, what="agent file")
    except UnreadableFile as exc:
        raise _Unreadable(exc.message, exc.hint) from None
    return _decode(data)


def _decode(data: bytes) -> str:
    # Windows editors sometimes save UTF-16 with a BOM: still text a person can read.
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise _Unreadable("not valid UTF-16 text", "save the file as UTF-8") from None
    elif b"\x00" in data:
        raise _Unreadable("binary file, not text", "an agent file is UTF-8 Markdown")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            message = f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})"
            raise _Unreadable(message, "save the file as UTF-8", line) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _build(front: Frontmatter, path: Path) -> _Loaded:
    problems = front.problems
    name = _text(front, "name", path, problems)
    description = _text(front, "description", path, problems)
    tools = _tools(front, path, problems)
    model_ok, model = _model(front, path, problems)
    if name is not None:
        name = _clean_name(name, front.key_lines.get("name"), path, problems)
    if name is None or description is None or tools is None or not model_ok:
        return _Loaded(None, problems, name_line=front.key_lines.get("name"))
    prompt = front.body.strip()
    if not prompt:
        message = "agent has no system prompt: nothing after the frontmatter"
        problems.append(_warning(path, message, front.body_line - 1, "write the prompt below"))
    extra = {k: v for k, v in front.data.items() if k not in _KNOWN_KEYS}
    agent = Agent(name, description.strip(), tools, model, prompt, path, extra)
    return _Loaded(agent, problems, name_line=front.key_lines.get("name"))


def _text(front: Frontmatter, key: str, path: Path, problems: list[Problem]) -> str | None:
    """A required text field; scalars YAML typed as numbers etc. are read back as written."""
    value, line = front.data.get(key), front.key_lines.get(key)
    if isinstance(value, str) and value.strip():
        return value
    if value is None or isinstance(value, str):
        problems.append(_missing(front, key, path))
        return None
    if isinstance(value, _SCALARS):
        return _as_written(front, key, value, path, problems)
    kind = "list" if isinstance(value, list) else "mapping"
    hint = f"write {key} as one line of text, quoted if it contains ': '"
    problems.append(_error(path, f"{key} must be text, not a {kind}", line, hint))
    return None


def _as_written(
    front: Frontmatter, key: str, value: Any, path: Path, problems: list[Problem]
) -> str:
    # YAML reads `name: 1.10` as the float 1.1 and `name: yes` as True; the line-based
    # reading still has the characters the author typed, which is what they meant.
    raw = front.raw.get(key)
    text = raw.strip() if isinstance(raw, str) and raw.strip() else str(value)
    message = f"{key} is not text (YAML reads {value!r}); read as {text!r}"
    problems.append(_warning(path, message, front.key_lines.get(key), f'quote it: {key}: "{text}"'))
    return text


def _missing(front: Frontmatter, key: str, path: Path) -> Problem:
    example = {
        "name": re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "my-agent",
        "description": "<when to use this agent>",
    }[key]
    if key in front.data:
        line = front.key_lines.get(key)
        return _error(path, f"{key} is empty", line, f"write it after the colon: {key}: {example}")
    message = f"frontmatter has no {key!r}, which every agent needs"
    hint = f"add a line '{key}: {example}' between the --- lines"
    return _error(path, message, 1, hint)


def _clean_name(name: str, line: int | None, path: Path, problems: list[Problem]) -> str:
    name = " ".join(name.split())  # a name from a block scalar may carry newlines
    if " " in name:
        # Loaded as written, since workflows refer to it by that name; but say it is unusual.
        slug = re.sub(r"[^a-z0-9.]+", "-", name.lower()).strip("-")
        message = f"agent name {name!r} contains spaces; workflows must write it exactly so"
        problems.append(_warning(path, message, line, f"Claude Code expects a name like {slug!r}"))
    return name


def _tools(front: Frontmatter, path: Path, problems: list[Problem]) -> tuple[str, ...] | None:
    """Tool names in order, without repeats; None when `tools` cannot be read at all."""
    value, line = front.data.get("tools"), front.key_lines.get("tools")
    if isinstance(value, _SCALARS):
        value = _as_written(front, "tools", value, path, problems)
    if value is None:
        return ()
    if isinstance(value, str):
        names = _split_tools(value, path, line, problems)
    elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        names = [str(v).strip().strip("'\"") for v in value]
    else:
        # An error, not a warning: ignoring `tools` would hand the agent every tool.
        hint = "write tools: Read, Grep, Glob or a YAML list of names"
        problems.append(_error(path, "tools must be tool names", line, hint))
        return None
    return tuple(dict.fromkeys(n for n in names if n))


def _split_tools(text: str, path: Path, line: int | None, problems: list[Problem]) -> list[str]:
    parts = _split_outside_parens(text, ",")
    if len(parts) == 1 and len(_split_outside_parens(text, " ")) > 1:
        # "Read Grep Glob": tool names never contain spaces, so these are three tools.
        parts = _split_outside_parens(text, " ")
        message = f"tools are separated by spaces; read as {len([p for p in parts if p])} tools"
        problems.append(_warning(path, message, line, "separate tool names with commas"))
    return [p.strip().strip("'\"").strip() for p in parts]


def _split_outside_parens(text: str, sep: str) -> list[str]:
    """Split at `sep` except inside (...), so `Bash(git add:*, git commit:*)` stays one tool."""
    parts, depth, current = [], 0, ""
    for char in text.replace("\t", " ").strip():
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == sep and depth <= 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current] if sep == "," else [p for p in [*parts, current] if p]


def _model(front: Frontmatter, path: Path, problems: list[Problem]) -> tuple[bool, str | None]:
    """(readable, model as written); an unreadable model is reported as an error."""
    value = front.data.get("model")
    if isinstance(value, _SCALARS):
        value = _as_written(front, "model", value, path, problems)
    if value is None:
        return True, None
    if isinstance(value, str):
        return True, value.strip() or None
    hint = "write model: haiku, sonnet, opus, inherit or a full model id"
    problems.append(
        _error(path, "model must be one model name", front.key_lines.get("model"), hint)
    )
    return False, None


def _warning(path: Path, message: str, line: int | None, hint: str | None = None) -> Problem:
    return Problem(str(path), message, line, None, hint, "warning")


def _error(path: Path, message: str, line: int | None, hint: str | None = None) -> Problem:
    return Problem(str(path), message, line, None, hint, "error")

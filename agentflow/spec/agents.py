"""Agent files: Markdown with YAML frontmatter, Claude Code's subagent format.

(Interface fixed; the tolerant loader is being written.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentflow.errors import Problem


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


def load_agent_file(path: Path) -> tuple[Agent | None, list[Problem]]:
    raise NotImplementedError


def discover_agents(dirs: Sequence[Path]) -> AgentCatalog:
    raise NotImplementedError

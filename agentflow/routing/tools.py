"""Which tools a task gets, how many turns its loop may take, and what it subscribes to.

Tools come from the task's `tools`, else `defaults.tools`, else its agent's frontmatter
`tools` (Claude Code's names; `Task` is our `ask_agent`). Only the tools agentflow offers
count; the rest (Bash, Write, mcp__..., `Read(src/**)`-style rules) are ignored, and
`validate` warns about them. A task with at least one known tool runs as a tool-use loop;
an agent without a `tools` line gets none, so plain agent files keep making one call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from agentflow.spec.agents import Agent
from agentflow.spec.workflow import TaskSpec, Workflow

KNOWN_TOOLS: tuple[str, ...] = (
    "ask_agent",
    "set_state",
    "get_state",
    "notify",
    "Read",
    "Glob",
    "Grep",
)
TOOL_ALIASES: Mapping[str, str] = {"Task": "ask_agent"}
DEFAULT_MAX_TURNS = 8
MAX_TURNS_LIMIT = 100  # the schema's maximum; an agent file asking for more gets this many

ToolSource = Literal["task", "defaults", "agent", "none"]


@dataclass(frozen=True)
class ToolSelection:
    tools: tuple[str, ...]  # known tools, canonical names, first-seen order, no repeats
    ignored: tuple[str, ...]  # names as written that agentflow does not offer
    source: ToolSource  # where the names came from ("none": nowhere)

    @property
    def loops(self) -> bool:
        return bool(self.tools)


def canonical_tool(name: str) -> str | None:
    """Our name for a tool as written, or None when agentflow does not offer it."""
    name = TOOL_ALIASES.get(name, name)
    return name if name in KNOWN_TOOLS else None


NO_TOOLS = ToolSelection((), (), "none")


@lru_cache(maxsize=1024)
def _split(names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return split_tools(names)


def split_tools(names: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(known tools by canonical name, ignored names as written), each without repeats."""
    known: dict[str, None] = {}
    ignored: dict[str, None] = {}
    for name in names:
        canonical = canonical_tool(name)
        if canonical is None:
            ignored[name] = None
        else:
            known[canonical] = None
    return tuple(known), tuple(ignored)


def select_tools(workflow: Workflow, task: TaskSpec, agent: Agent | None) -> ToolSelection:
    names: tuple[str, ...]
    source: ToolSource
    if task.settings.tools is not None:
        names, source = task.settings.tools, "task"
    elif workflow.defaults.tools is not None:
        names, source = workflow.defaults.tools, "defaults"
    elif agent is not None and agent.tools:
        names, source = agent.tools, "agent"
    else:
        return NO_TOOLS  # the common case, shared: validate and plan ask for every task
    known, ignored = _split(tuple(names))
    return ToolSelection(known, ignored, source)


def agent_max_turns(agent: Agent | None) -> int | None:
    """The agent's frontmatter `maxTurns` (a whole number, or one written as text);
    anything else is ignored."""
    if agent is None:
        return None
    value: Any = agent.extra.get("maxTurns")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return min(value, MAX_TURNS_LIMIT)


def max_turns(workflow: Workflow, task: TaskSpec, agent: Agent | None) -> int:
    """Turns of the task's loop at most: the task's, `defaults`, the agent's, else 8."""
    for value in (task.settings.max_turns, workflow.defaults.max_turns, agent_max_turns(agent)):
        if value is not None:
            return value
    return DEFAULT_MAX_TURNS


def subscriptions(task: TaskSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(state keys, topics) the task subscribes to: `state.KEY` is a key, `messages.TOPIC`
    a topic, a bare NAME both the key and the topic NAME. No repeats, in written order."""
    keys: dict[str, None] = {}
    topics: dict[str, None] = {}
    for entry in task.subscribe:
        if entry.startswith("state."):
            keys[entry.removeprefix("state.")] = None
        elif entry.startswith("messages."):
            topics[entry.removeprefix("messages.")] = None
        else:
            keys[entry] = None
            topics[entry] = None
    return tuple(keys), tuple(topics)

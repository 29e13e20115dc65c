"""What every tool is: a spec the API sees, and an async run from a call to a result.

A tool never raises to the loop: what goes wrong becomes a ToolResult with is_error, with
a message that helps the model do better on its next turn. What tools do is logged as
Events (agentflow.events) in the run's EventLog, so the history can show it all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from agentflow.events import EventLog


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: Mapping[str, Any]

    def to_api(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "input_schema": dict(self.input_schema),
        }


@dataclass(frozen=True)
class ToolCall:
    id: str  # the tool_use block's id
    name: str
    input: Mapping[str, Any]


@dataclass(frozen=True)
class ToolResult:
    tool_use_id: str
    content: str
    is_error: bool = False

    def to_api(self) -> dict[str, Any]:
        block: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": self.tool_use_id,
            "content": self.content,
        }
        if self.is_error:
            block["is_error"] = True
        return block


class ToolError(Exception):
    """A failure to report to the model as an is_error result (never to crash the run)."""


def string_field(call: ToolCall, name: str) -> str:
    """The input's `name`, a non-empty string; ToolError (for the model) otherwise."""
    if not isinstance(call.input, Mapping):
        raise ToolError("input must be an object")
    if name not in call.input:
        raise ToolError(f"missing required field '{name}'")
    value = call.input[name]
    if not isinstance(value, str) or not value.strip():
        raise ToolError(f"field '{name}' must be a non-empty string")
    return value


@dataclass
class ToolContext:
    """What a tool may know about the call: who asks, and the run's shared services."""

    task_id: str  # the task the work is charged to
    agent: str | None
    log: EventLog
    depth: int = 0  # 0 for a task's own conversation, +1 for each ask_agent sub-call
    speaker: str = ""  # who is calling: the task id, or "agent:NAME" in a sub-call

    @property
    def caller(self) -> str:
        return self.speaker or self.task_id


class Tool(Protocol):
    spec: ToolSpec

    async def run(self, call: ToolCall, context: ToolContext) -> ToolResult: ...

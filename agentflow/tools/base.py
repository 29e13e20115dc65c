"""What every tool is: a spec the API sees, and an async run from a call to a result.

A tool never raises to the loop: what goes wrong becomes a ToolResult with is_error, with
a message that helps the model do better on its next turn. Everything agents say to each
other (requests, answers, notifications, state changes, tool calls and results) is an
Event in the run's EventLog, so the history can show the whole conversation.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

EventKind = Literal[
    "request", "response", "notification", "state", "tool_call", "tool_result", "message"
]


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


@dataclass(frozen=True)
class Event:
    seq: int  # order within the run, from 1
    at: float
    task: str  # the task whose work produced it (a writer, a sender, a conversation's owner)
    sender: str  # a task id, "agent:NAME" (an ask_agent sub-call), or a tool's name
    recipient: str  # a task id, "agent:NAME", a topic, "state", or a tool's name
    kind: EventKind
    payload: Mapping[str, Any]


@dataclass
class EventLog:
    """Every message of a run, in order. The engine is single-threaded (asyncio), so a
    list is enough; `listener` (the record stage) hears each event as it is added, so a
    run stopped half-way still has its messages on disk."""

    events: list[Event] = field(default_factory=list)
    listener: Callable[[Event], None] | None = None

    def add(
        self,
        sender: str,
        recipient: str,
        kind: EventKind,
        payload: Mapping[str, Any],
        task: str | None = None,
    ) -> Event:
        event = Event(
            len(self.events) + 1,
            time.time(),
            task or sender,
            sender,
            recipient,
            kind,
            dict(payload),
        )
        self.events.append(event)
        if self.listener is not None:
            self.listener(event)
        return event


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

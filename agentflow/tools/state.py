"""Shared state and notifications between the tasks of one run (issue 6).

`SharedState` is one key-value store per run: every write is versioned and recorded (who,
when, old, new) and logged as a "state" Event. Tasks can wait for a key (`waits_for:
[state.KEY]`) and subscribe to keys to get a note of each change before their next turn.

`MessageBus` carries one-way notifications by topic; `{{ messages.TOPIC }}` renders a
topic's messages so far, and subscribers get new ones as notes before their next turn.

The engine is single-threaded (asyncio), so plain dicts and lists need no locking; the
only awaitable is `SharedState.wait_for`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from agentflow.events import Event, EventLog
from agentflow.tools.base import (
    Tool,
    ToolCall,
    ToolContext,
    ToolError,
    ToolResult,
    ToolSpec,
    string_field,
)

BROADCAST = "all"


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class StateChange:
    key: str
    version: int  # per key, counting from 1
    old: Any  # None when the key was not set before (see `version == 1`)
    new: Any
    by: str  # the writer's task id
    at: float  # time.time() of the logged event


class SharedState:
    """One key-value store per run. Values must be JSON-serialisable: they end up in the
    history file and in prompts, and a copy is stored so a caller mutating its object
    later cannot rewrite history."""

    def __init__(self, log: EventLog) -> None:
        self._log = log
        self._values: dict[str, Any] = {}
        self._changes: list[StateChange] = []
        self._versions: dict[str, int] = {}
        # Created lazily; an asyncio.Event binds to a loop only when first awaited.
        self._set_events: dict[str, asyncio.Event] = {}
        self._subscriptions: dict[str, set[str]] = {}  # task id -> keys
        self._notes: dict[str, list[str]] = {}  # task id -> undelivered notes

    def set(self, key: str, value: Any, by: str) -> StateChange:
        if not isinstance(key, str) or not key:
            raise ToolError("key must be a non-empty string")
        try:
            # Round-trip rather than just dumps: stores a detached, normalised copy.
            stored = json.loads(json.dumps(value, allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise ToolError(f'value for state "{key}" is not JSON-serialisable: {exc}') from exc
        old = self._values.get(key)
        version = self._versions.get(key, 0) + 1
        event = self._log.add(
            by, "state", "state", {"key": key, "version": version, "old": old, "new": stored}
        )
        change = StateChange(key, version, old, stored, by, event.at)
        self._values[key] = stored
        self._versions[key] = version
        self._changes.append(change)
        for task_id, keys in self._subscriptions.items():
            # A writer already knows what it wrote; only others get a note.
            if key in keys and task_id != by:
                self._notes.setdefault(task_id, []).append(
                    f'state "{key}" is now {_dump(stored)} (version {version}, set by task "{by}")'
                )
        self._set_event(key).set()
        return change

    def has(self, key: str) -> bool:
        return key in self._values

    def values(self) -> Mapping[str, Any]:
        """Every key's current value, read-only and live (what `{{ state.KEY }}` reads when
        a task starts): no copy per task, as the prompt is rendered at once."""
        return MappingProxyType(self._values)

    def get(self, key: str) -> Any:
        """The current value, or None when unset (use `has` to tell None from unset)."""
        return self._values.get(key)

    def version(self, key: str) -> int:
        """The current version of `key`; 0 when it was never set."""
        return self._versions.get(key, 0)

    def changes(self, key: str | None = None) -> list[StateChange]:
        """All writes in order, or those of one key."""
        return [c for c in self._changes if key is None or c.key == key]

    async def wait_for(self, key: str) -> None:
        """Return once `key` has been set (at once if it already is)."""
        if key in self._values:
            return
        await self._set_event(key).wait()

    def subscribe(self, task_id: str, keys: Iterable[str]) -> None:
        """Notes start with the next change; earlier values are in `{{ state.KEY }}`."""
        self._subscriptions.setdefault(task_id, set()).update(keys)

    def take_notes(self, task_id: str) -> list[str]:
        """Drain the notes of others' changes to the task's keys since the last call."""
        return self._notes.pop(task_id, [])

    def _set_event(self, key: str) -> asyncio.Event:
        if key not in self._set_events:
            self._set_events[key] = asyncio.Event()
        return self._set_events[key]


class MessageBus:
    """One-way notifications by topic.

    Delivery rule: a message to topic T is noted for every task subscribed to T, except
    its sender. A message to the broadcast topic "all" is noted for every task that
    subscribed to anything (any topic, including "all"), except its sender. Tasks that
    never subscribed get no notes; they can still read a topic with `{{ messages.T }}`,
    where `{{ messages.all }}` renders the broadcasts only. Notes cover messages sent after
    the subscription, each delivered once.
    """

    def __init__(self, log: EventLog) -> None:
        self._log = log
        self._topics: dict[str, list[tuple[str, str]]] = {}
        self._subscriptions: dict[str, set[str]] = {}  # task id -> topics
        self._notes: dict[str, list[str]] = {}

    def notify(self, topic: str, message: str, by: str) -> Event:
        if not isinstance(topic, str) or not topic:
            raise ToolError("topic must be a non-empty string")
        if not isinstance(message, str):
            raise ToolError("message must be a string")
        event = self._log.add(by, topic, "notification", {"topic": topic, "message": message})
        self._topics.setdefault(topic, []).append((by, message))
        for task_id, topics in self._subscriptions.items():
            if task_id == by:
                continue
            if topic == BROADCAST or topic in topics:
                self._notes.setdefault(task_id, []).append(
                    f'message on "{topic}" from task "{by}": {message}'
                )
        return event

    def messages(self, topic: str) -> list[tuple[str, str]]:
        """(sender, message) pairs of the topic, oldest first."""
        return list(self._topics.get(topic, []))

    def rendered(self) -> Mapping[str, str]:
        """Every topic so far, rendered on lookup (what `{{ messages.TOPIC }}` reads): only
        the topics a prompt names are rendered, not every topic for every task."""
        return _RenderedTopics(self)

    def topics(self) -> list[str]:
        return list(self._topics)

    def render(self, topic: str) -> str:
        """What `{{ messages.TOPIC }}` becomes: one `[sender] message` line each."""
        return "\n".join(f"[{sender}] {message}" for sender, message in self._topics.get(topic, []))

    def subscribe(self, task_id: str, topics: Iterable[str]) -> None:
        self._subscriptions.setdefault(task_id, set()).update(topics)

    def take_notes(self, task_id: str) -> list[str]:
        """Drain the notes of others' messages for the task since the last call."""
        return self._notes.pop(task_id, [])


class _RenderedTopics(Mapping[str, str]):
    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus

    def __getitem__(self, topic: str) -> str:
        if topic not in self._bus._topics:
            raise KeyError(topic)
        return self._bus.render(topic)

    def __iter__(self) -> Iterator[str]:
        return iter(self._bus.topics())

    def __len__(self) -> int:
        return len(self._bus.topics())


def _error(call: ToolCall, exc: Exception) -> ToolResult:
    message = str(exc) if isinstance(exc, ToolError) else f"{call.name} failed: {exc!r}"
    return ToolResult(call.id, message, is_error=True)


class SetStateTool:
    spec = ToolSpec(
        name="set_state",
        description=(
            "Set a key in the run's shared state (visible to all tasks). Each write gets a "
            "new version; tasks subscribed to the key are told of the new value."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "key": {"type": "string", "description": "The state key."},
                "value": {"description": "Any JSON value."},
            },
            "required": ["key", "value"],
        },
    )

    def __init__(self, state: SharedState) -> None:
        self.state = state

    async def run(self, call: ToolCall, context: ToolContext) -> ToolResult:
        try:
            key = string_field(call, "key")
            if "value" not in call.input:
                raise ToolError("missing required field 'value'")
            change = self.state.set(key, call.input["value"], by=context.task_id)
        except Exception as exc:  # a tool reports, never raises (see base.py)
            return _error(call, exc)
        return ToolResult(call.id, f'state "{key}" set (version {change.version})')


class GetStateTool:
    spec = ToolSpec(
        name="get_state",
        description="Read a key of the run's shared state: its value, version and writer.",
        input_schema={
            "type": "object",
            "properties": {"key": {"type": "string", "description": "The state key."}},
            "required": ["key"],
        },
    )

    def __init__(self, state: SharedState) -> None:
        self.state = state

    async def run(self, call: ToolCall, context: ToolContext) -> ToolResult:
        try:
            key = string_field(call, "key")
        except Exception as exc:
            return _error(call, exc)
        if not self.state.has(key):
            # Not an error: the model asked a fair question and the answer is "not yet".
            return ToolResult(call.id, f'state "{key}" is not set')
        last = self.state.changes(key)[-1]
        content = {"key": key, "value": last.new, "version": last.version, "set_by": last.by}
        return ToolResult(call.id, _dump(content))


class NotifyTool:
    spec = ToolSpec(
        name="notify",
        description=(
            "Send a one-way notification on a topic; subscribed tasks receive it before "
            'their next turn. The topic "all" broadcasts to every subscribed task.'
        ),
        input_schema={
            "type": "object",
            "properties": {
                "topic": {"type": "string", "description": 'Topic name, or "all".'},
                "message": {"type": "string", "description": "The notification text."},
            },
            "required": ["topic", "message"],
        },
    )

    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus

    async def run(self, call: ToolCall, context: ToolContext) -> ToolResult:
        try:
            topic = string_field(call, "topic")
            message = string_field(call, "message")
            self.bus.notify(topic, message, by=context.task_id)
        except Exception as exc:
            return _error(call, exc)
        return ToolResult(call.id, f'notification sent on "{topic}"')


def state_tools(state: SharedState, bus: MessageBus) -> dict[str, Tool]:
    """The state and notification tools by name, sharing one run's state and bus."""
    tools: list[Tool] = [SetStateTool(state), GetStateTool(state), NotifyTool(bus)]
    return {tool.spec.name: tool for tool in tools}

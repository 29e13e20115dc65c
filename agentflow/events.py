"""What happened during a run, as messages: requests and answers between agents, tool calls
and their results, notifications, state changes.

Every one is an `Event` in the run's `EventLog`, numbered in order. The engine adds them;
the record stage (agentflow.store) hears each as it is added, so a run stopped half-way
still has its messages on disk; the views (agentflow.render) show them again later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from agentflow.guard.redact import redact_data

EventKind = Literal[
    "request", "response", "notification", "state", "tool_call", "tool_result", "message"
]


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
    list is enough; `listener` (the record stage) hears each event as it is added.
    Events added with `keep=False` (each single call's prompt and answer: read by no one
    during the run) are numbered and heard, but not held in `events`."""

    events: list[Event] = field(default_factory=list)
    listener: Callable[[Event], None] | None = None
    added: int = 0  # every event so far, kept or not: the last sequence number

    def add(
        self,
        sender: str,
        recipient: str,
        kind: EventKind,
        payload: Mapping[str, Any],
        task: str | None = None,
        *,
        keep: bool = True,
    ) -> Event:
        self.added += 1
        event = Event(
            self.added,
            time.time(),
            task or sender,
            sender,
            recipient,
            kind,
            redact_data(dict(payload)),  # secrets in the environment are never recorded
        )
        if keep:
            self.events.append(event)
        if self.listener is not None:
            self.listener(event)
        return event

"""Shared state, the message bus and their tools (issue 6)."""

from __future__ import annotations

import asyncio
import json

import pytest

from agentflow.events import EventLog
from agentflow.tools.base import ToolCall, ToolContext, ToolError
from agentflow.tools.state import (
    GetStateTool,
    MessageBus,
    NotifyTool,
    SetStateTool,
    SharedState,
    StateChange,
    state_tools,
)


def _ctx(log: EventLog, task_id: str = "writer") -> ToolContext:
    return ToolContext(task_id=task_id, agent=None, log=log)


def _run(tool, log: EventLog, task_id: str = "writer", **input):
    return asyncio.run(tool.run(ToolCall("tu_1", tool.spec.name, input), _ctx(log, task_id)))


# --- SharedState -----------------------------------------------------------------------


def test_versions_and_old_new_values_are_recorded() -> None:
    state = SharedState(EventLog())
    first = state.set("plan", {"steps": 1}, by="planner")
    second = state.set("plan", {"steps": 2}, by="reviewer")
    other = state.set("other", "x", by="planner")

    assert isinstance(first, StateChange)
    assert (first.version, first.old, first.new, first.by) == (1, None, {"steps": 1}, "planner")
    assert (second.version, second.old, second.new, second.by) == (
        2,
        {"steps": 1},
        {"steps": 2},
        "reviewer",
    )
    assert other.version == 1  # versions count per key
    assert state.get("plan") == {"steps": 2}
    assert state.version("plan") == 2 and state.version("missing") == 0
    assert state.changes("plan") == [first, second]
    assert state.changes() == [first, second, other]


def test_missing_key_is_none_and_has_tells_null_apart() -> None:
    state = SharedState(EventLog())
    assert state.get("nope") is None and not state.has("nope")
    state.set("nothing", None, by="t")
    assert state.get("nothing") is None and state.has("nothing")


def test_stored_value_is_a_copy() -> None:
    state = SharedState(EventLog())
    value = {"items": [1]}
    state.set("k", value, by="t")
    value["items"].append(2)
    assert state.get("k") == {"items": [1]}


def test_set_logs_a_state_event() -> None:
    log = EventLog()
    state = SharedState(log)
    state.set("plan", "a", by="planner")
    change = state.set("plan", "b", by="planner")

    event = log.events[-1]
    assert (event.sender, event.recipient, event.kind) == ("planner", "state", "state")
    assert event.payload == {"key": "plan", "version": 2, "old": "a", "new": "b"}
    assert change.at == event.at


@pytest.mark.parametrize("value", [object(), {1, 2}, float("nan"), b"bytes"])
def test_non_json_value_is_refused(value) -> None:
    log = EventLog()
    state = SharedState(log)
    with pytest.raises(ToolError, match="not JSON-serialisable"):
        state.set("k", value, by="t")
    assert not state.has("k") and log.events == []


def test_wait_for_resolves_when_another_coroutine_sets_the_key() -> None:
    state = SharedState(EventLog())
    order: list[str] = []

    async def waiter() -> None:
        await state.wait_for("ready")
        order.append(f"woke {state.get('ready')}")

    async def setter() -> None:
        await asyncio.sleep(0.001)
        order.append("set")
        state.set("ready", True, by="setter")

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(waiter(), setter()), timeout=1)

    asyncio.run(main())
    assert order == ["set", "woke True"]


def test_wait_for_returns_at_once_when_already_set() -> None:
    state = SharedState(EventLog())
    state.set("ready", 1, by="t")

    async def main() -> None:
        await asyncio.wait_for(state.wait_for("ready"), timeout=0.05)

    asyncio.run(main())


def test_subscribers_get_others_changes_once_and_not_their_own() -> None:
    state = SharedState(EventLog())
    state.set("plan", "before", by="planner")  # before subscribing: no note
    state.subscribe("worker", ["plan"])
    state.subscribe("planner", ["plan"])

    state.set("plan", {"a": 1}, by="planner")
    state.set("unrelated", 1, by="planner")
    state.set("plan", "mine", by="worker")

    assert state.take_notes("worker") == [
        'state "plan" is now {"a": 1} (version 2, set by task "planner")'
    ]
    assert state.take_notes("worker") == []  # drained
    assert state.take_notes("planner") == [
        'state "plan" is now "mine" (version 3, set by task "worker")'
    ]
    assert state.take_notes("nobody") == []


# --- MessageBus ------------------------------------------------------------------------


def test_notify_logs_and_renders_in_order() -> None:
    log = EventLog()
    bus = MessageBus(log)
    assert bus.render("review") == ""
    event = bus.notify("review", "first", by="a")
    bus.notify("review", "second", by="b")
    bus.notify("other", "elsewhere", by="a")

    assert (event.sender, event.recipient, event.kind) == ("a", "review", "notification")
    assert event.payload == {"topic": "review", "message": "first"}
    assert log.events[0] is event and len(log.events) == 3
    assert bus.messages("review") == [("a", "first"), ("b", "second")]
    assert bus.render("review") == "[a] first\n[b] second"
    assert bus.messages("none") == []


def test_topic_subscribers_get_others_messages_once() -> None:
    bus = MessageBus(EventLog())
    bus.notify("review", "too early", by="a")
    bus.subscribe("a", ["review"])
    bus.subscribe("b", ["review"])
    bus.subscribe("c", ["other"])

    bus.notify("review", "hello", by="a")
    bus.notify("review", "back", by="b")

    assert bus.take_notes("a") == ['message on "review" from task "b": back']
    assert bus.take_notes("b") == ['message on "review" from task "a": hello']
    assert bus.take_notes("b") == []
    assert bus.take_notes("c") == []


def test_all_broadcasts_to_every_subscriber_but_the_sender() -> None:
    bus = MessageBus(EventLog())
    bus.subscribe("topic_sub", ["review"])
    bus.subscribe("all_sub", ["all"])
    bus.subscribe("sender", ["review"])
    # "loner" never subscribed: no notes, but it can still render the topic.

    bus.notify("all", "stop", by="sender")
    bus.notify("review", "only review", by="sender")

    note = 'message on "all" from task "sender": stop'
    assert bus.take_notes("topic_sub") == [
        note,
        'message on "review" from task "sender": only review',
    ]
    assert bus.take_notes("all_sub") == [note]  # "all" subscribers do not get other topics
    assert bus.take_notes("sender") == []
    assert bus.take_notes("loner") == []
    assert bus.render("all") == "[sender] stop"


# --- tools -----------------------------------------------------------------------------


def test_state_tools_by_name() -> None:
    log = EventLog()
    tools = state_tools(SharedState(log), MessageBus(log))
    assert set(tools) == {"set_state", "get_state", "notify"}
    for name, tool in tools.items():
        assert tool.spec.name == name
        assert tool.spec.to_api()["input_schema"]["type"] == "object"


def test_set_and_get_state_tools() -> None:
    log = EventLog()
    state = SharedState(log)
    result = _run(SetStateTool(state), log, task_id="planner", key="plan", value=[1, 2])
    assert not result.is_error and result.tool_use_id == "tu_1"
    assert "version 1" in result.content
    assert state.changes("plan")[0].by == "planner"

    got = _run(GetStateTool(state), log, key="plan")
    assert not got.is_error
    assert json.loads(got.content) == {
        "key": "plan",
        "value": [1, 2],
        "version": 1,
        "set_by": "planner",
    }


def test_get_state_of_missing_key_is_not_an_error() -> None:
    log = EventLog()
    result = _run(GetStateTool(SharedState(log)), log, key="plan")
    assert not result.is_error
    assert result.content == 'state "plan" is not set'


def test_set_state_accepts_null_value() -> None:
    log = EventLog()
    state = SharedState(log)
    assert not _run(SetStateTool(state), log, key="k", value=None).is_error
    assert state.has("k")


@pytest.mark.parametrize(
    ("input", "field"),
    [({"value": 1}, "key"), ({"key": "k"}, "value"), ({"key": 3, "value": 1}, "key")],
)
def test_set_state_input_errors_name_the_field(input, field) -> None:
    log = EventLog()
    result = _run(SetStateTool(SharedState(log)), log, **input)
    assert result.is_error and f"'{field}'" in result.content
    assert log.events == []


def test_set_state_tool_refuses_non_json_value() -> None:
    log = EventLog()
    result = _run(SetStateTool(SharedState(log)), log, key="k", value=object())
    assert result.is_error and "not JSON-serialisable" in result.content


def test_get_state_input_error() -> None:
    log = EventLog()
    result = _run(GetStateTool(SharedState(log)), log)
    assert result.is_error and "'key'" in result.content


def test_non_mapping_input_is_an_error_result() -> None:
    log = EventLog()
    tool = GetStateTool(SharedState(log))
    result = asyncio.run(tool.run(ToolCall("tu_1", "get_state", "key"), _ctx(log)))  # type: ignore[arg-type]
    assert result.is_error and "object" in result.content


def test_notify_tool_sends_and_validates() -> None:
    log = EventLog()
    bus = MessageBus(log)
    bus.subscribe("reader", ["news"])
    result = _run(NotifyTool(bus), log, task_id="writer", topic="news", message="hi")
    assert not result.is_error
    assert bus.messages("news") == [("writer", "hi")]
    assert bus.take_notes("reader") == ['message on "news" from task "writer": hi']

    for input, field in [({"message": "x"}, "topic"), ({"topic": "news"}, "message")]:
        bad = _run(NotifyTool(bus), log, **input)
        assert bad.is_error and f"'{field}'" in bad.content
    assert bus.messages("news") == [("writer", "hi")]

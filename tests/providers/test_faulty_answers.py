"""Issue 11, items 5 and 6: answers that are not what the Messages API documents.

Each faulty answer reaches the real SDK from the loopback server. It must leave the
provider as a classified ProviderError (never another exception, which the engine would
call an internal error), carrying the usage it states, or marked `unknown_outcome` when it
states none readable (the engine then charges the attempt its worst case).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentflow.prices import Usage
from tests.providers.test_providers import failure, request
from tests.support.messages_server import MessagesServer, Reply

BILLED = {"input_tokens": 11, "output_tokens": 7}


def usage_as(value: Any) -> Any:
    return lambda message: {**message, "usage": value}


FAULTY_BODIES = {
    "truncated JSON": (lambda m: json.dumps(m).encode()[:40], None),
    "an HTML page": (lambda m: b"<html><body>502 Bad Gateway</body></html>", None),
    "null": (lambda m: None, None),
    "a list": (lambda m: [m], None),
    "a string": (lambda m: "hello", None),
    "content as a string": (lambda m: {**m, "content": "hi", "usage": BILLED}, BILLED),
    "content blocks as strings": (lambda m: {**m, "content": ["hi"], "usage": BILLED}, BILLED),
    "usage values as strings": (usage_as({"input_tokens": "11", "output_tokens": "7"}), None),
    "usage missing": (lambda m: {k: v for k, v in m.items() if k != "usage"}, None),
    "usage as a list": (usage_as([11, 7]), None),
}


@pytest.mark.parametrize("name", list(FAULTY_BODIES))
def test_a_faulty_body_is_a_server_failure_charged_for_what_it_states(
    messages_server: MessagesServer, name: str
) -> None:
    mangle, stated = FAULTY_BODIES[name]
    html = name == "an HTML page"
    reply = Reply(mangle=mangle, content_type="text/html" if html else "application/json")
    error = failure(messages_server, reply, request())
    assert error.kind == "server" and error.retryable, error.describe()
    assert error.describe().startswith("unreadable answer: ")
    if stated is None:
        assert error.unknown_outcome and error.usage is None
    else:
        assert not error.unknown_outcome and error.usage == Usage(**stated)
    assert messages_server.usage_log, "the server billed the request"


@pytest.mark.parametrize(
    ("error_type", "kind"),
    [
        ("overloaded_error", "overloaded"),
        ("api_error", "server"),
        ("invalid_request_error", "client"),
    ],
)
def test_an_error_object_inside_a_200_is_that_error(
    messages_server: MessagesServer, error_type: str, kind: str
) -> None:
    body = {"type": "error", "error": {"type": error_type, "message": "upstream says no"}}
    error = failure(messages_server, Reply(mangle=lambda m: body), request())
    assert error.kind == kind
    assert "an error inside an HTTP 200 answer: upstream says no" in error.describe()
    assert not error.unknown_outcome


def _replace_data(events: list[bytes], index: int, data: bytes) -> list[bytes]:
    name = events[index].split(b"\n", 1)[0]
    return [*events[:index], name + b"\ndata: " + data + b"\n\n", *events[index + 1 :]]


def _without_start_usage(events: list[bytes]) -> list[bytes]:
    start = json.loads(events[0].split(b"data: ", 1)[1])
    del start["message"]["usage"]
    return _replace_data(events, 0, json.dumps(start).encode())


FAULTY_STREAMS = {
    "an invalid data line": lambda events: _replace_data(events, 3, b"{not json"),
    "message_start without usage": _without_start_usage,
}


@pytest.mark.parametrize("name", list(FAULTY_STREAMS))
def test_a_faulty_stream_is_a_server_failure(messages_server: MessagesServer, name: str) -> None:
    reply = Reply(mangle_events=FAULTY_STREAMS[name])
    error = failure(messages_server, reply, request(max_tokens=8000))
    assert error.kind == "server" and error.retryable, error.describe()
    assert error.unknown_outcome  # the stream was cut: the API may bill up to max_tokens


def test_invalid_tool_input_json_in_a_stream_is_a_server_failure(
    messages_server: MessagesServer,
) -> None:
    def bad_input(events: list[bytes]) -> list[bytes]:
        for index, event in enumerate(events):
            if b"input_json_delta" in event:
                data = json.loads(event.split(b"data: ", 1)[1])
                data["delta"]["partial_json"] = '{"path": tru'
                return _replace_data(events, index, json.dumps(data).encode())
        raise AssertionError("no tool input in the stream")

    reply = Reply.tool_use("Read", {"path": "a.txt"}, mangle_events=bad_input)
    error = failure(messages_server, reply, request(max_tokens=8000))
    assert error.kind == "server" and error.retryable, error.describe()

"""The fake Messages API server, driven by the real anthropic SDK (sync and async)."""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import time
from typing import Any

import anthropic
import jsonschema
import pytest

from tests.support.messages_content import minimal_instance
from tests.support.messages_server import MessagesServer, Reply, fail_first

MODEL = "claude-test-1"
PROMPT = "What is the capital of France?"
USER = [{"role": "user", "content": PROMPT}]


def tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


def client(server: MessagesServer, **kw: Any) -> anthropic.Anthropic:
    kw = {"api_key": "test-key", "max_retries": 0, **kw}
    return anthropic.Anthropic(base_url=server.url, **kw)


def async_client(server: MessagesServer, **kw: Any) -> anthropic.AsyncAnthropic:
    kw = {"api_key": "test-key", "max_retries": 0, **kw}
    return anthropic.AsyncAnthropic(base_url=server.url, **kw)


def create(server: MessagesServer, **kw: Any) -> Any:
    args = {"model": MODEL, "max_tokens": 200, "messages": USER, **kw}
    return client(server).messages.create(**args)


def as_sent(usage: Any) -> dict[str, int]:
    """The SDK usage object reduced to the four figures the server sends."""
    return {k: v for k, v in usage.model_dump().items() if v is not None}


# -- plain replies ---------------------------------------------------------------------


def test_create_returns_a_message_and_records_the_request(messages_server):
    message = create(messages_server, system="Be brief.")

    assert (message.type, message.role, message.model) == ("message", "assistant", MODEL)
    assert message.content[0].text == f"Answer to: {PROMPT}"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == tokens("Be brief." + PROMPT)
    assert message.usage.output_tokens == tokens(message.content[0].text)
    assert message.usage.cache_creation_input_tokens == 0
    assert message.usage.cache_read_input_tokens == 0
    assert message._request_id.startswith("req_")
    assert messages_server.usage_log == [as_sent(message.usage)]

    [request] = messages_server.requests
    assert (request.path, request.model, request.stream, request.status) == (
        "/v1/messages",
        MODEL,
        False,
        200,
    )
    assert request.api_key == "test-key"
    assert request.headers["anthropic-version"]
    assert request.retry_count == 0
    assert request.system_text == "Be brief." and request.last_user_text == PROMPT
    assert messages_server.count(path="/v1/messages") == 1
    assert messages_server.count(model="other") == 0


def test_scripted_replies_come_in_order_then_responder_then_default(messages_server):
    messages_server.script(Reply(text="first"), Reply(text="second"))
    messages_server.responder = lambda r: (
        Reply(text="special") if "magic" in r.last_user_text else None
    )

    texts = [create(messages_server).content[0].text for _ in range(3)]
    magic = create(messages_server, messages=[{"role": "user", "content": "magic word"}])

    assert texts == ["first", "second", f"Answer to: {PROMPT}"]
    assert magic.content[0].text == "special"
    assert messages_server.scripted_remaining == 0
    messages_server.reset()
    assert messages_server.requests == [] and messages_server.usage_log == []


def test_max_tokens_cuts_the_text(messages_server):
    messages_server.script(Reply(text="x" * 100))
    message = create(messages_server, max_tokens=3)
    assert message.content[0].text == "x" * 12
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 3


def test_usage_override_is_merged_and_logged(messages_server):
    messages_server.script(Reply(text="hi", usage={"output_tokens": 999}))
    message = create(messages_server)
    assert message.usage.output_tokens == 999
    assert messages_server.usage_log[0]["output_tokens"] == 999


# -- streaming ---------------------------------------------------------------------------


def test_sync_stream_text_and_usage(messages_server):
    with client(messages_server).messages.stream(
        model=MODEL, max_tokens=200, system="Be brief.", messages=USER
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == final.content[0].text == f"Answer to: {PROMPT}"
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens == tokens("Be brief." + PROMPT)
    assert final.usage.output_tokens == tokens(text)
    assert messages_server.usage_log == [as_sent(final.usage)]
    assert messages_server.requests[0].stream


def test_async_stream_with_scripted_chunks(messages_server):
    chunks = ["Hel", "lo, ", "world"]
    messages_server.script(Reply(stream_chunks=chunks, chunk_delay=0.01))

    async def run() -> tuple[list[str], Any]:
        async with (
            async_client(messages_server) as c,
            c.messages.stream(model=MODEL, max_tokens=200, messages=USER) as stream,
        ):
            deltas = [d async for d in stream.text_stream]
            return deltas, await stream.get_final_message()

    deltas, final = asyncio.run(run())
    assert deltas == chunks
    assert final.content[0].text == "Hello, world"
    assert final.usage.output_tokens == tokens("Hello, world")


def test_stream_chunks_are_cut_by_max_tokens(messages_server):
    messages_server.script(Reply(stream_chunks=["aaaa", "bbbb", "cccc"]))
    with client(messages_server).messages.stream(
        model=MODEL, max_tokens=2, messages=USER
    ) as stream:
        deltas = list(stream.text_stream)
        final = stream.get_final_message()
    assert deltas == ["aaaa", "bbbb"]
    assert (final.stop_reason, final.usage.output_tokens) == ("max_tokens", 2)


def test_stream_error_event_mid_stream(messages_server):
    messages_server.script(Reply(text="a long answer " * 5, stream_error="overloaded_error"))
    with (
        pytest.raises(anthropic.APIStatusError) as info,
        client(messages_server).messages.stream(model=MODEL, max_tokens=200, messages=USER) as s,
    ):
        s.get_final_message()
    # The HTTP status was 200: the SDK builds the error from the event body.
    assert info.value.type == "overloaded_error"
    assert messages_server.usage_log == []


# -- structured output ---------------------------------------------------------------------

ANSWER_SCHEMA = {
    "type": "object",
    "properties": {
        "verdict": {"type": "string", "enum": ["pass", "fail"]},
        "score": {"type": "integer", "minimum": 3, "maximum": 9},
        "ratio": {"type": "number", "exclusiveMaximum": 1},
        "tags": {"type": "array", "items": {"type": "string", "minLength": 10}, "minItems": 2},
        "item": {"$ref": "#/$defs/Item"},
        "when": {"type": "string", "format": "date-time"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "optional": {"type": "boolean"},
    },
    "required": ["verdict", "score", "ratio", "tags", "item", "when", "note"],
    "additionalProperties": False,
    "$defs": {
        "Item": {
            "type": "object",
            "properties": {"ok": {"type": "boolean"}, "n": {"type": ["null", "integer"]}},
            "required": ["ok", "n"],
        }
    },
}


def test_structured_output_is_valid_against_the_schema(messages_server):
    fmt = {"type": "json_schema", "schema": ANSWER_SCHEMA}
    message = create(messages_server, output_config={"format": fmt})

    document = json.loads(message.content[0].text)
    jsonschema.validate(document, ANSWER_SCHEMA)
    assert document["verdict"] == "pass" and "optional" not in document
    assert messages_server.requests[0].body["output_config"]["format"]["type"] == "json_schema"


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "string", "minLength": 12, "maxLength": 20},
        {"type": "integer", "exclusiveMinimum": 5},
        {"type": "number", "minimum": -3, "maximum": -1},
        {"type": "array", "prefixItems": [{"const": 1}], "minItems": 3},
        {"allOf": [{"properties": {"a": {"type": "string"}}, "required": ["a"]}]},
        {"type": "object", "properties": {"x": {"type": "null"}}, "minProperties": 1},
        {"oneOf": [{"type": "string", "format": "email"}, {"type": "integer"}]},
    ],
)
def test_minimal_instance_is_valid(schema):
    jsonschema.validate(minimal_instance(schema), schema)


# -- errors ------------------------------------------------------------------------------


def test_rate_limit_with_retry_after(messages_server):
    messages_server.script(Reply.rate_limited(retry_after=7, error_message="slow down"))
    with pytest.raises(anthropic.RateLimitError) as info:
        create(messages_server)
    error = info.value
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "7"
    assert error.type == "rate_limit_error" and error.api_message == "slow down"
    assert error.request_id.startswith("req_")
    assert messages_server.requests[0].status == 429


def test_overloaded_529(messages_server):
    messages_server.script(Reply.overloaded())
    with pytest.raises(anthropic.APIStatusError) as info:
        create(messages_server)
    assert info.value.status_code == 529
    assert isinstance(info.value, anthropic.InternalServerError)
    assert type(info.value).__name__ == "OverloadedError"
    assert info.value.type == "overloaded_error"


def test_bad_request_message(messages_server):
    messages_server.script(Reply.error(400, "prompt is too long"))
    with pytest.raises(anthropic.BadRequestError, match="prompt is too long") as info:
        create(messages_server)
    assert info.value.type == "invalid_request_error"


def test_require_key(messages_server):
    messages_server.require_key = "secret"
    with pytest.raises(anthropic.AuthenticationError, match="invalid x-api-key"):
        create(messages_server)
    ok = client(messages_server, api_key="secret").messages.create(
        model=MODEL, max_tokens=10, messages=USER
    )
    assert ok.content[0].text.startswith("Answer to:")


def test_sdk_retries_until_fail_first_lets_it_through(messages_server):
    failure = Reply.overloaded(headers={"retry-after-ms": "1"})
    messages_server.responder = fail_first(2, failure)
    sdk = client(messages_server, max_retries=2)
    message = sdk.messages.create(model=MODEL, max_tokens=50, messages=USER)

    assert message.content[0].text == f"Answer to: {PROMPT}"
    assert [r.retry_count for r in messages_server.requests] == [0, 1, 2]
    assert [r.status for r in messages_server.requests] == [529, 529, 200]


def test_drop_is_a_connection_error(messages_server):
    messages_server.script(Reply(drop=True))
    with pytest.raises(anthropic.APIConnectionError) as info:
        create(messages_server)
    assert not isinstance(info.value, anthropic.APITimeoutError)
    assert messages_server.requests[0].status is None


def test_delay_beyond_client_timeout_is_a_timeout(messages_server):
    messages_server.script(Reply(delay=2.0))
    started = time.monotonic()
    with pytest.raises(anthropic.APITimeoutError):
        client(messages_server, timeout=0.2).messages.create(
            model=MODEL, max_tokens=10, messages=USER
        )
    assert time.monotonic() - started < 1.5


def test_invalid_body_and_unknown_path_over_raw_http(messages_server):
    conn = http.client.HTTPConnection("127.0.0.1", messages_server.port, timeout=5)
    conn.request("POST", "/v1/messages", body=json.dumps({"model": MODEL, "messages": USER}))
    response = conn.getresponse()
    body = json.loads(response.read())
    assert response.status == 400 and body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]

    conn.request("GET", "/v1/models")  # same kept-alive connection
    response = conn.getresponse()
    assert response.status == 404 and json.loads(response.read())["type"] == "error"
    conn.close()


# -- concurrency -------------------------------------------------------------------------


def test_max_in_flight_with_concurrent_async_requests(messages_server):
    messages_server.responder = lambda request: Reply(delay=0.2)

    async def run() -> list[Any]:
        async with async_client(messages_server) as c:
            calls = [
                c.messages.create(model=MODEL, max_tokens=20, messages=USER) for _ in range(10)
            ]
            return await asyncio.gather(*calls)

    started = time.monotonic()
    replies = asyncio.run(run())
    assert len(replies) == 10
    assert time.monotonic() - started < 1.5  # in parallel, not 10 x 0.2 s
    assert messages_server.max_in_flight == 10
    assert messages_server.in_flight == 0
    assert len(messages_server.usage_log) == 10


def test_many_quick_requests_over_50_connections(messages_server):
    async def run() -> list[str]:
        async with async_client(messages_server) as c:
            gate = asyncio.Semaphore(50)

            async def one(i: int) -> str:
                async with gate:
                    messages = [{"role": "user", "content": f"q{i}"}]
                    reply = await c.messages.create(model=MODEL, max_tokens=20, messages=messages)
                    return reply.content[0].text

            return await asyncio.gather(*(one(i) for i in range(200)))

    texts = asyncio.run(run())
    assert texts == [f"Answer to: q{i}" for i in range(200)]
    assert messages_server.count() == 200


# -- prompt caching ------------------------------------------------------------------------

BIG = "x" * 4200  # 1050 tokens: above the default 1024 minimum


def cached_system(text: str = BIG) -> list[dict[str, Any]]:
    return [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}]


def test_prompt_cache_creation_then_read(messages_server):
    first = create(messages_server, system=cached_system()).usage
    second = create(messages_server, system=cached_system()).usage
    with client(messages_server).messages.stream(
        model=MODEL, max_tokens=50, system=cached_system(), messages=USER
    ) as stream:
        streamed = stream.get_final_message().usage
    other_model = create(messages_server, system=cached_system(), model="claude-other").usage

    rest = tokens(BIG + PROMPT) - 1050
    assert (first.cache_creation_input_tokens, first.cache_read_input_tokens) == (1050, 0)
    assert (second.cache_creation_input_tokens, second.cache_read_input_tokens) == (0, 1050)
    assert (streamed.cache_creation_input_tokens, streamed.cache_read_input_tokens) == (0, 1050)
    assert other_model.cache_creation_input_tokens == 1050
    assert first.input_tokens == second.input_tokens == streamed.input_tokens == rest


def test_prompt_cache_minimum_and_multiple_breakpoints(messages_server):
    small = create(messages_server, system=cached_system("y" * 400)).usage
    assert small.cache_creation_input_tokens == 0 and small.input_tokens == tokens(
        "y" * 400 + PROMPT
    )

    def turn(tail: str) -> Any:
        block = {"type": "text", "text": tail, "cache_control": {"type": "ephemeral"}}
        messages = [{"role": "user", "content": [block]}]
        return create(messages_server, system=cached_system(), messages=messages).usage

    a = turn("a" * 4200)
    b = turn("b" * 4200)  # shares only the system prefix with a
    assert (a.cache_read_input_tokens, a.cache_creation_input_tokens, a.input_tokens) == (
        0,
        2100,
        0,
    )
    assert (b.cache_read_input_tokens, b.cache_creation_input_tokens, b.input_tokens) == (
        1050,
        1050,
        0,
    )


def test_prompt_cache_expires_after_ttl():
    now = [0.0]
    with MessagesServer(clock=lambda: now[0], cache_ttl=300) as server:
        create(server, system=cached_system())
        now[0] = 299.0
        assert create(server, system=cached_system()).usage.cache_read_input_tokens == 1050
        now[0] = 299.0 + 301.0  # the read refreshed the entry; now it has lapsed
        assert create(server, system=cached_system()).usage.cache_creation_input_tokens == 1050


# -- tool use and count_tokens -------------------------------------------------------------

TOOL_INPUT = {"agent": "researcher", "question": "Why is the sky blue?", "depth": [1, 2]}


def test_tool_use_non_streaming(messages_server):
    messages_server.script(Reply.tool_use("ask_agent", TOOL_INPUT))
    message = create(messages_server)
    [block] = message.content
    assert (block.type, block.id, block.name, block.input) == (
        "tool_use",
        "toolu_1",
        "ask_agent",
        TOOL_INPUT,
    )
    assert message.stop_reason == "tool_use"
    compact = json.dumps(TOOL_INPUT, sort_keys=True, separators=(",", ":"))
    assert message.usage.output_tokens == tokens("ask_agent" + compact)


def test_tool_use_streaming_after_text(messages_server):
    blocks = [
        {"type": "text", "text": "Let me ask."},
        {"type": "tool_use", "id": "toolu_9", "name": "ask_agent", "input": TOOL_INPUT},
    ]
    messages_server.script(Reply(content_blocks=blocks, stop_reason="tool_use"))

    async def run() -> tuple[list[str], Any]:
        async with (
            async_client(messages_server) as c,
            c.messages.stream(model=MODEL, max_tokens=200, messages=USER) as stream,
        ):
            kinds = [event.type async for event in stream]
            return kinds, await stream.get_final_message()

    kinds, final = asyncio.run(run())
    assert "input_json" in kinds
    assert [b.type for b in final.content] == ["text", "tool_use"]
    assert final.content[0].text == "Let me ask."
    assert (final.content[1].id, final.content[1].input) == ("toolu_9", TOOL_INPUT)
    assert final.stop_reason == "tool_use"


def test_forced_tool_choice_gets_a_schema_valid_call(messages_server):
    schema = {
        "type": "object",
        "properties": {"agent": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["agent"],
    }
    tools = [{"name": "ask_agent", "description": "Ask", "input_schema": schema}]
    message = create(
        messages_server, tools=tools, tool_choice={"type": "tool", "name": "ask_agent"}
    )
    assert message.stop_reason == "tool_use"
    assert message.content[0].name == "ask_agent"
    jsonschema.validate(message.content[0].input, schema)


def test_count_tokens_is_not_scripted(messages_server):
    messages_server.script(Reply.overloaded())
    counted = client(messages_server).messages.count_tokens(
        model=MODEL, system="Be brief.", messages=USER
    )
    assert counted.input_tokens == tokens("Be brief." + PROMPT)
    assert messages_server.count(path="/v1/messages/count_tokens") == 1
    assert messages_server.scripted_remaining == 1


def test_a_crashing_responder_is_a_500_and_is_recorded():
    def broken(request: Any) -> Reply:
        raise RuntimeError("responder bug")

    with MessagesServer(responder=broken) as server:
        with pytest.raises(anthropic.InternalServerError):
            create(server)
        assert "responder bug" in server.errors[0]


def test_stop_closes_kept_alive_connections():
    server = MessagesServer().start()
    sdk = client(server)
    sdk.messages.create(model=MODEL, max_tokens=10, messages=USER)
    server.stop()
    with pytest.raises(anthropic.APIConnectionError):
        sdk.messages.create(model=MODEL, max_tokens=10, messages=USER)
    server.stop()  # idempotent

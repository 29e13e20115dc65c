"""Providers: AnthropicProvider against the loopback Messages API, SimulateProvider offline,
and make_provider's configuration errors."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import jsonschema
import pytest

from agentflow.errors import AgentflowError, ExitCode
from agentflow.prices import Usage
from agentflow.providers.anthropic import STREAM_THRESHOLD, AnthropicProvider, retry_after
from agentflow.providers.base import ModelRequest, ModelResponse, ProviderError
from agentflow.providers.factory import make_provider
from agentflow.providers.simulate import FAIL_ENV, LATENCY_ENV, SimulateProvider
from tests.support.messages_server import MessagesServer, Reply

T = TypeVar("T")
KEY = "sk-ant-test-0123456789-secret"
MODEL = "claude-sonnet-5-5"  # not on the SDK's deprecation list, so no warnings
LONG_SYSTEM = "You are a careful reviewer of pull requests. " * 120  # > 1024 tokens either way


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


def request(**kw: Any) -> ModelRequest:
    fields: dict[str, Any] = {
        "task_id": "review",
        "model": MODEL,
        "system": "",
        "prompt": "Summarise the change in two sentences.",
        "max_tokens": 200,
        "timeout": 10.0,
    }
    return ModelRequest(**{**fields, **kw})


def call(server: MessagesServer, req: ModelRequest) -> ModelResponse:
    async def go() -> ModelResponse:
        provider = AnthropicProvider(KEY, base_url=server.url)
        try:
            return await provider.complete(req)
        finally:
            await provider.aclose()

    return run(go())


def failure(server: MessagesServer, reply: Reply | None, req: ModelRequest) -> ProviderError:
    if reply is not None:
        server.script(reply)
    with pytest.raises(ProviderError) as info:
        call(server, req)
    error = info.value
    assert KEY not in str(error) and KEY not in error.describe()
    return error


# -- AnthropicProvider: successful calls -----------------------------------------------


@pytest.mark.parametrize("max_tokens", [200, 8000], ids=["create", "stream"])
def test_text_and_usage(messages_server: MessagesServer, max_tokens: int) -> None:
    response = call(messages_server, request(max_tokens=max_tokens))
    sent = messages_server.requests[-1]
    assert sent.stream is (max_tokens >= STREAM_THRESHOLD)
    assert response.text == "Answer to: Summarise the change in two sentences."
    assert response.usage == Usage(**messages_server.usage_log[-1])
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.stop_reason == "end_turn"
    assert response.model == MODEL
    assert response.request_id and response.request_id.startswith("req_")


@pytest.mark.parametrize("max_tokens", [200, 8000], ids=["create", "stream"])
def test_a_negative_usage_never_credits(messages_server: MessagesServer, max_tokens: int) -> None:
    """Issue 11, item 10: a server's negative count would have credited the budget."""
    messages_server.script(Reply(usage={"input_tokens": -5000, "cache_read_input_tokens": -1}))
    response = call(messages_server, request(max_tokens=max_tokens))
    assert response.usage.input_tokens == 0 and response.usage.cache_read_input_tokens == 0
    assert response.usage.output_tokens > 0


def test_stream_and_create_agree(messages_server: MessagesServer) -> None:
    chunks = ["Two ", "sentences ", "here."]
    messages_server.script(Reply(text="Two sentences here."), Reply(stream_chunks=chunks))
    plain = call(messages_server, request(max_tokens=4000))
    streamed = call(messages_server, request(max_tokens=4096))
    assert [r.stream for r in messages_server.requests] == [False, True]
    assert plain.text == streamed.text == "Two sentences here."
    assert (plain.usage, plain.stop_reason) == (streamed.usage, streamed.stop_reason)


def test_request_body_and_key(messages_server: MessagesServer) -> None:
    messages_server.require_key = KEY
    call(messages_server, request(system="Be brief."))
    sent = messages_server.requests[-1]
    assert sent.api_key == KEY
    assert sent.body["system"] == [{"type": "text", "text": "Be brief."}]
    assert sent.body["messages"] == [
        {"role": "user", "content": "Summarise the change in two sentences."}
    ]
    assert sent.body["max_tokens"] == 200 and sent.body["model"] == MODEL
    assert "output_config" not in sent.body
    assert sent.retry_count == 0

    call(messages_server, request(system=""))
    assert "system" not in messages_server.requests[-1].body


@pytest.mark.parametrize("max_tokens", [200, 8000], ids=["create", "stream"])
def test_cache_control_on_system(messages_server: MessagesServer, max_tokens: int) -> None:
    req = request(system=LONG_SYSTEM, cache_system=True, max_tokens=max_tokens)
    first, second = call(messages_server, req), call(messages_server, req)
    assert messages_server.requests[-1].body["system"] == [
        {"type": "text", "text": LONG_SYSTEM, "cache_control": {"type": "ephemeral"}}
    ]
    assert first.usage.cache_creation_input_tokens > 1000
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.input_tokens == first.usage.input_tokens


@pytest.mark.parametrize("max_tokens", [200, 8000], ids=["create", "stream"])
def test_output_config(messages_server: MessagesServer, max_tokens: int) -> None:
    schema = {
        "type": "object",
        "properties": {"verdict": {"enum": ["approve", "reject"]}, "score": {"type": "integer"}},
        "required": ["verdict", "score"],
    }
    response = call(messages_server, request(output_schema=schema, max_tokens=max_tokens))
    body = messages_server.requests[-1].body
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    jsonschema.validate(json.loads(response.text), schema)


# -- AnthropicProvider: failures ---------------------------------------------------------


def test_rate_limit_with_retry_after(messages_server: MessagesServer) -> None:
    error = failure(messages_server, Reply.rate_limited(retry_after=7), request())
    assert (error.kind, error.status, error.retry_after) == ("rate_limit", 429, 7.0)
    assert error.retryable and error.request_id
    assert messages_server.count("/v1/messages") == 1  # the SDK did not retry on its own


def test_retry_after_ms_and_http_date(messages_server: MessagesServer) -> None:
    reply = Reply.rate_limited(retry_after=7, headers={"retry-after-ms": "1500"})
    assert failure(messages_server, reply, request()).retry_after == 1.5
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    error = failure(messages_server, Reply(status=429, headers={"retry-after": date}), request())
    assert error.retry_after is not None and 25 <= error.retry_after <= 31
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


@pytest.mark.parametrize(
    ("reply", "kind", "status"),
    [
        (Reply.overloaded(), "overloaded", 529),
        (Reply.error(500), "server", 500),
        (Reply.error(503), "server", 503),
        (Reply.error(408), "server", 408),
        (Reply.error(409), "server", 409),
        (Reply.error(403, "this key may not use this model"), "auth", 403),
        (Reply.error(404, "model: not found"), "client", 404),
        (Reply.error(413, "request too large"), "client", 413),
    ],
)
def test_status_kinds(
    messages_server: MessagesServer, reply: Reply, kind: str, status: int
) -> None:
    error = failure(messages_server, reply, request())
    assert (error.kind, error.status) == (kind, status)
    assert messages_server.count("/v1/messages") == 1


def test_client_and_auth_errors_carry_the_api_message(messages_server: MessagesServer) -> None:
    error = failure(messages_server, Reply.error(400, "max_tokens: must be positive"), request())
    assert error.kind == "client" and not error.retryable
    assert error.describe() == "HTTP 400: max_tokens: must be positive"

    messages_server.require_key = "some-other-key"
    error = failure(messages_server, None, request())
    assert error.kind == "auth" and error.describe() == "HTTP 401: invalid x-api-key"
    assert messages_server.requests[-1].api_key == KEY


def test_key_echoed_by_the_server_is_redacted(messages_server: MessagesServer) -> None:
    error = failure(messages_server, Reply.error(401, f"bad key {KEY}"), request())
    assert error.message == "bad key [redacted]"


def test_dropped_connection(messages_server: MessagesServer) -> None:
    error = failure(messages_server, Reply(drop=True), request())
    assert error.kind == "connection" and error.status is None


def test_refused_connection() -> None:
    with MessagesServer() as server:
        url = server.url
    with pytest.raises(ProviderError) as info:
        run(_complete(url, request()))
    assert info.value.kind == "connection"


@pytest.mark.parametrize("max_tokens", [200, 8000], ids=["create", "stream"])
def test_slow_reply_times_out(messages_server: MessagesServer, max_tokens: int) -> None:
    started = time.monotonic()
    error = failure(messages_server, Reply(delay=3), request(timeout=0.3, max_tokens=max_tokens))
    assert error.kind == "timeout" and error.retryable
    assert time.monotonic() - started < 2.5


def test_stream_error_event_keeps_usage(messages_server: MessagesServer) -> None:
    reply = Reply(stream_error="overloaded_error")
    error = failure(messages_server, reply, request(max_tokens=8000))
    assert error.kind == "overloaded" and error.status is None
    assert error.usage is not None and error.usage.input_tokens > 0


@pytest.mark.parametrize("clean_end", [False, True], ids=["socket-closed", "body-ended"])
def test_stream_cut_midway_is_a_connection_error_with_usage(clean_end: bool) -> None:
    error = run(_cut_stream(clean_end))
    assert error.kind == "connection"
    assert error.usage == Usage(input_tokens=25, output_tokens=1, cache_read_input_tokens=3)
    assert error.request_id == "req_cut"


async def _complete(url: str, req: ModelRequest) -> ModelResponse:
    provider = AnthropicProvider(KEY, base_url=url)
    try:
        return await provider.complete(req)
    finally:
        await provider.aclose()


async def _cut_stream(clean_end: bool) -> ProviderError:
    """A raw server that sends the start of a stream, then closes the socket (or ends the
    chunked body properly, but without `message_stop`)."""
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "model": MODEL,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 25, "output_tokens": 1, "cache_read_input_tokens": 3},
        },
    }  # fmt: skip
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    events = b"".join(
        f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in (start, block)
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )  # fmt: skip
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nrequest-id: req_cut\r\n"
            b"transfer-encoding: chunked\r\n\r\n" + b"%x\r\n%s\r\n" % (len(events), events)
        )
        if clean_end:
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await _complete(f"http://127.0.0.1:{port}", request(max_tokens=8000))
    except ProviderError as error:
        return error
    finally:
        server.close()
    raise AssertionError("the cut stream did not fail")


# -- make_provider -------------------------------------------------------------------------


@pytest.mark.parametrize("env", [{}, {"ANTHROPIC_API_KEY": ""}, {"ANTHROPIC_API_KEY": "  "}])
def test_make_provider_needs_a_key(env: dict[str, str]) -> None:
    with pytest.raises(AgentflowError) as info:
        make_provider("anthropic", env)
    assert info.value.exit_code == ExitCode.INVALID == 2
    assert "ANTHROPIC_API_KEY" in str(info.value)
    assert "--provider simulate" in str(info.value)


def test_make_provider_builds_providers(messages_server: MessagesServer) -> None:
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": messages_server.url}
    provider = make_provider("anthropic", env)
    assert provider.name == "anthropic"  # the SDK itself loads on the first call

    async def go() -> ModelResponse:
        try:
            return await provider.complete(request())
        finally:
            await provider.aclose()

    assert run(go()).text.startswith("Answer to:")
    assert isinstance(make_provider("simulate", {}), SimulateProvider)


def test_make_provider_rejects_unknown_names_and_bad_latency() -> None:
    with pytest.raises(AgentflowError) as info:
        make_provider("openai", {})
    assert info.value.exit_code == 2
    assert "anthropic" in str(info.value) and "simulate" in str(info.value)
    with pytest.raises(AgentflowError, match=LATENCY_ENV):
        make_provider("simulate", {LATENCY_ENV: "fast"})


# -- SimulateProvider ----------------------------------------------------------------------

FAST = {LATENCY_ENV: "0"}


def simulate(req: ModelRequest, provider: SimulateProvider | None = None) -> ModelResponse:
    return run((provider or SimulateProvider(env=FAST)).complete(req))


def test_simulate_is_deterministic() -> None:
    req = request(prompt="Compare the two designs and pick one for the billing service.")
    first, second = simulate(req), simulate(req)
    assert first == second
    assert "review" in first.text and "Compare the two designs" in first.text
    assert first.usage.output_tokens > 0 and first.stop_reason == "end_turn"
    assert simulate(request(prompt="Something else entirely.")).text != first.text
    assert simulate(req, SimulateProvider(seed=1, env=FAST)).request_id != first.request_id


def test_simulate_respects_max_tokens() -> None:
    for limit in (1, 5, 12):
        response = simulate(request(max_tokens=limit))
        assert 0 < response.usage.output_tokens <= limit
        assert response.stop_reason == "max_tokens"


SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "object",
        "properties": {
            "verdict": {"enum": ["approve", "reject"]},
            "summary": {"type": "string", "minLength": 40},
            "score": {"type": "integer", "minimum": 3, "maximum": 9},
            "ratio": {"type": "number", "exclusiveMinimum": 1},
            "ok": {"type": "boolean"},
            "kind": {"const": "review"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 3},
            "optional_note": {"type": ["string", "null"], "maxLength": 3},
        },
        "required": ["verdict", "summary", "score"],
        "additionalProperties": False,
    },
    {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}}}},
    {
        "$defs": {
            "Item": {
                "type": "object",
                "required": ["when"],
                "properties": {"when": {"type": "string", "format": "date"}},
            }
        },
        "type": "object",
        "required": ["items", "choice"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 2},
            "choice": {"anyOf": [{"type": "integer", "minimum": 10}, {"type": "string"}]},
        },
    },  # fmt: skip
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=["object", "array", "refs"])
def test_simulate_json_is_valid(schema: dict[str, Any]) -> None:
    response = simulate(request(output_schema=schema))
    document = json.loads(response.text)
    jsonschema.validate(document, schema, format_checker=jsonschema.FormatChecker())
    assert response.usage.output_tokens > 0


def test_simulate_cache_creation_then_read() -> None:
    provider = SimulateProvider(env=FAST)
    req = request(system=LONG_SYSTEM, cache_system=True)
    first, second = simulate(req, provider), simulate(req, provider)
    assert first.usage.cache_creation_input_tokens >= 1024
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    assert first.usage.input_tokens == second.usage.input_tokens  # only the prompt
    assert first.usage.total_input_tokens == second.usage.total_input_tokens

    other_model = simulate(request(system=LONG_SYSTEM, cache_system=True, model="m2"), provider)
    assert other_model.usage.cache_creation_input_tokens > 0
    uncached = simulate(request(system=LONG_SYSTEM), provider).usage
    assert uncached.cache_read_input_tokens == uncached.cache_creation_input_tokens == 0
    assert uncached.input_tokens == first.usage.total_input_tokens
    short = simulate(request(system="Be brief.", cache_system=True), provider).usage
    assert short.cache_creation_input_tokens == short.cache_read_input_tokens == 0


def test_simulate_fail_injection() -> None:
    provider = SimulateProvider(env={**FAST, FAIL_ENV: "draft, review"})
    with pytest.raises(ProviderError) as info:
        simulate(request(task_id="review"), provider)
    assert info.value.kind == "server" and info.value.retryable and info.value.status == 500
    assert simulate(request(task_id="publish"), provider).text


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Records the simulated latencies instead of waiting them out (no timing flakiness)."""
    recorded: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr("agentflow.providers.simulate.asyncio.sleep", fake_sleep)
    return recorded


def test_simulate_latency(sleeps: list[float]) -> None:
    simulate(request(), SimulateProvider(env=FAST))
    simulate(request(), SimulateProvider(env={}))
    simulate(request(), SimulateProvider(env={}))
    simulate(request(), SimulateProvider(latency=0.2, env=FAST))  # the argument wins
    assert sleeps[0] == 0
    assert 0.05 <= sleeps[1] <= 0.5 and sleeps[1] == sleeps[2]  # derived, deterministic
    assert sleeps[3] == 0.2
    with pytest.raises(ProviderError) as info:
        simulate(request(timeout=0.05), SimulateProvider(latency=1.0, env={}))
    assert info.value.kind == "timeout" and sleeps[-1] == 0.05


def test_simulate_reads_the_process_environment(
    monkeypatch: pytest.MonkeyPatch, sleeps: list[float]
) -> None:
    monkeypatch.setenv(LATENCY_ENV, "0")
    monkeypatch.setenv(FAIL_ENV, "flaky")
    provider = SimulateProvider()
    with pytest.raises(ProviderError):
        simulate(request(task_id="flaky"), provider)
    simulate(request(), provider)
    assert sleeps == [0, 0]

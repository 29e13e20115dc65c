"""The Anthropic Messages API, through the official SDK, one attempt per call.

The SDK's own retries are switched off (`max_retries=0`): the engine retries, so that
every attempt is counted, priced and reported, and a server's retry-after is honoured
once rather than twice. Every failure leaves here as a classified `ProviderError`.

Long outputs are streamed (`max_tokens >= STREAM_THRESHOLD`): the API may close a
non-streaming request that runs for many minutes, and a stream that breaks still tells
us how many tokens were billed.
"""

from __future__ import annotations

import datetime
import email.utils
import time
from collections.abc import Mapping
from typing import Any

import anthropic

try:  # the SDK's HTTP layer: a bundled httpx fork in SDK 2.x, httpx itself before
    import httpx2
except ImportError:  # pragma: no cover
    import httpx as httpx2  # type: ignore[no-redef]

from agentflow.prices import Usage
from agentflow.providers.answers import (
    ERROR_KINDS,
    ToolInputs,
    read_answer,
    read_message,
    stream_usage,
)
from agentflow.providers.base import ErrorKind, ModelRequest, ModelResponse, ProviderError

# Requests allowing this many output tokens or more are streamed. Below it a reply takes
# at most a minute or two, well inside what a plain HTTP request survives.
STREAM_THRESHOLD = 4096


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, api_key: str, base_url: str | None = None) -> None:
        self._api_key = api_key
        self._client = anthropic.AsyncAnthropic(api_key=api_key, base_url=base_url, max_retries=0)

    def prefetch(self) -> None:
        return None

    async def warm_up(self) -> None:
        return None  # ready when made

    async def complete(self, request: ModelRequest) -> ModelResponse:
        params = self._params(request)
        try:
            if request.max_tokens >= STREAM_THRESHOLD:
                return await self._stream(request, params)
            # The raw JSON, not the SDK's typed model: building that costs about a
            # millisecond of CPU per answer, which adds up with many short tasks.
            raw = await self._client.messages.with_raw_response.create(
                **params, timeout=request.timeout
            )
            return read_answer(raw.http_response, request)
        except anthropic.APIError as exc:
            raise self._error(exc, request) from None

    async def count_tokens(self, request: ModelRequest) -> int:
        """The API's own count of the request's input tokens (the count is free)."""
        params = self._params(request)
        params.pop("max_tokens")
        try:
            counted = await self._client.messages.count_tokens(**params, timeout=request.timeout)
        except anthropic.APIError as exc:
            raise self._error(exc, request) from None
        return int(counted.input_tokens)

    async def aclose(self) -> None:
        await self._client.close()

    def _params(self, request: ModelRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": _messages(request),
        }
        if request.tools:
            params["tools"] = [dict(tool) for tool in request.tools]
        if request.system:
            block: dict[str, Any] = {"type": "text", "text": request.system}
            if request.cache_system:
                block["cache_control"] = {"type": "ephemeral"}
            params["system"] = [block]
        if request.output_schema is not None:
            schema = dict(request.output_schema)
            params["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        return params

    async def _stream(self, request: ModelRequest, params: dict[str, Any]) -> ModelResponse:
        seen: Usage | None = None  # billed so far, kept for when the stream breaks
        request_id: str | None = None
        finished = False
        tool_inputs = ToolInputs()
        try:
            async with self._client.messages.stream(**params, timeout=request.timeout) as stream:
                request_id = stream.request_id
                async for event in stream:
                    if event.type in ("message_start", "message_delta"):
                        seen = stream_usage(stream.current_message_snapshot.usage)
                    tool_inputs.hear(event)
                    finished = finished or event.type == "message_stop"
                if not finished:  # a clean close before message_stop is still a cut stream
                    raise ProviderError(
                        "connection",
                        "the stream ended before the message was complete",
                        usage=seen,
                        request_id=request_id,
                        unknown_outcome=True,
                    )
                message = await stream.get_final_message()
        except anthropic.APIError as exc:
            error = self._error(exc, request)
            error.usage = error.usage or seen
            error.request_id = error.request_id or request_id
            raise error from None
        except httpx2.TimeoutException:
            # Mid-stream failures come straight from the HTTP layer, unwrapped by the SDK.
            raise ProviderError(
                "timeout",
                f"the stream stalled (timeout {request.timeout:g}s)",
                usage=seen,
                request_id=request_id,
                unknown_outcome=True,
            ) from None
        except httpx2.TransportError as exc:
            raise ProviderError(
                "connection",
                f"the stream broke: {self._redact(str(exc)) or type(exc).__name__}",
                usage=seen,
                request_id=request_id,
                unknown_outcome=True,
            ) from None
        except ProviderError:
            raise
        except Exception as exc:  # noqa: BLE001 - an event the SDK could not read
            raise ProviderError(
                "server",
                f"unreadable stream ({type(exc).__name__}: {self._redact(str(exc))[:200]})",
                usage=seen,
                request_id=request_id,
                unknown_outcome=True,
            ) from None
        return read_message(message, request, request_id)

    def _error(self, exc: anthropic.APIError, request: ModelRequest) -> ProviderError:
        # APITimeoutError subclasses APIConnectionError, so it must be checked first.
        if isinstance(exc, anthropic.APITimeoutError):
            return ProviderError(
                "timeout", f"no answer within {request.timeout:g}s", unknown_outcome=True
            )
        if isinstance(exc, anthropic.APIConnectionError):
            cause = exc.__cause__
            detail = str(cause) if cause is not None and str(cause) else "connection failed"
            where = exc.request.url.host if exc.request is not None else "the API"
            # Refused before the request left: nothing to bill. Dropped after: unknown.
            sent = not isinstance(cause, httpx2.ConnectError | httpx2.ConnectTimeout)
            message = self._redact(f"cannot reach {where}: {detail}")
            return ProviderError("connection", message, unknown_outcome=sent)
        if isinstance(exc, anthropic.APIStatusError):
            status = exc.status_code
            message = self._redact(_api_message(exc))
            if status < 400:  # an `error` event inside a 200 stream
                kind = ERROR_KINDS.get(exc.type or "", "server")
                return ProviderError(kind, message, request_id=exc.request_id)
            return ProviderError(
                _status_kind(exc),
                message,
                status=status,
                retry_after=retry_after(exc.response.headers),
                request_id=exc.request_id,
            )
        if isinstance(exc, anthropic.APIResponseValidationError):
            # A reply that does not parse is the server's fault and may not recur.
            return ProviderError(
                "server", f"malformed response (HTTP {exc.status_code})", unknown_outcome=True
            )
        return ProviderError("client", self._redact(str(exc) or type(exc).__name__))

    def _redact(self, text: str) -> str:
        # A proxy or a server may echo the credentials back; they must never reach a log.
        return text.replace(self._api_key, "[redacted]") if self._api_key else text


def _status_kind(exc: anthropic.APIStatusError) -> ErrorKind:
    status = exc.status_code
    if isinstance(exc, anthropic.RateLimitError) or status == 429:
        return "rate_limit"
    # OverloadedError (529) subclasses InternalServerError: test it before the 5xx rule.
    if isinstance(exc, getattr(anthropic, "OverloadedError", ())) or status == 529:
        return "overloaded"
    if status >= 500 or status in (408, 409):
        return "server"
    if status in (401, 403):
        return "auth"
    return "client"


def _api_message(exc: anthropic.APIStatusError) -> str:
    """The API's own words (`error.message`), not the SDK's dump of the whole body."""
    if exc.api_message:
        return str(exc.api_message)
    if isinstance(exc.body, str) and exc.body.strip():  # e.g. an HTML page from a proxy
        return exc.body.strip()[:200]
    return f"{type(exc).__name__} (no error message in the response)"


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" parses as naive; HTTP dates are always UTC
        when = when.replace(tzinfo=datetime.UTC)
    return max(when.timestamp() - time.time(), 0.0)


def _messages(request: ModelRequest) -> list[dict[str, Any]]:
    messages = request.messages()
    if request.cache_history and request.tools:
        # Breakpoints at the end of this turn's conversation (written now, read by the next
        # turn) and at the end of the previous turn's (read now): turn after turn, only
        # the newest exchange is paid at the full input rate. On the first turn this costs
        # a cache write on the prompt, which the second turn (a loop's usual case) reads.
        for index in (len(messages) - 1, len(messages) - 3):
            if index >= 0:
                messages[index] = _with_breakpoint(messages[index])
    return messages


def _with_breakpoint(message: dict[str, Any]) -> dict[str, Any]:
    content = message["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    blocks = [dict(block) for block in blocks]
    blocks[-1]["cache_control"] = {"type": "ephemeral"}
    return {**message, "content": blocks}

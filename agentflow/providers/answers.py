"""The Messages API's answers, read field by field: a body that is not what the API
documents (not JSON, not an object, an error object with HTTP 200, content that is not a
list, usage that is not whole numbers) is a failed attempt of kind "server", charged for
the usage it states, or at its worst case when it states none readable."""

from __future__ import annotations

import json
from typing import Any

from agentflow.prices import Usage
from agentflow.providers.base import ErrorKind, ModelRequest, ModelResponse, ProviderError

# `error.type` of an error object (an SSE `error` event, or a body sent with HTTP 200):
# the status says nothing, so the body is the only way to tell an overload from a bad
# request.
ERROR_KINDS: dict[str, ErrorKind] = {
    "rate_limit_error": "rate_limit",
    "overloaded_error": "overloaded",
    "api_error": "server",
    "timeout_error": "server",
    "authentication_error": "auth",
    "permission_error": "auth",
    "invalid_request_error": "client",
    "not_found_error": "client",
    "request_too_large": "client",
    "billing_error": "client",
}


def stream_usage(usage: Any) -> Usage:
    if usage is None:
        raise ValueError("the message has no usage")
    return Usage(
        input_tokens=_tokens(usage.input_tokens),
        output_tokens=_tokens(usage.output_tokens),
        cache_creation_input_tokens=_tokens(usage.cache_creation_input_tokens),
        cache_read_input_tokens=_tokens(usage.cache_read_input_tokens),
    )


def _tokens(value: Any) -> int:
    """A token count as billed: a negative one (a server's bug) must not credit the budget."""
    return max(0, value or 0)


def read_message(message: Any, request: ModelRequest, request_id: str | None) -> ModelResponse:
    text = "".join(block.text for block in message.content if block.type == "text")
    return ModelResponse(
        text=text,
        usage=stream_usage(message.usage),
        model=getattr(message, "model", None) or request.model,
        stop_reason=message.stop_reason,
        request_id=request_id,
        content=_blocks(block.model_dump(exclude_none=True) for block in message.content),
    )


def _blocks(blocks: Any) -> tuple[dict[str, Any], ...]:
    """Text and tool_use blocks as they go back into the next turn (citations and other
    response-only fields dropped: the API refuses some of them in a request)."""
    kept: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "text" and block.get("text"):  # the API refuses empty text blocks
            kept.append({"type": "text", "text": block.get("text", "")})
        elif kind == "tool_use":
            kept.append(
                {
                    "type": "tool_use",
                    "id": block.get("id"),
                    "name": block.get("name"),
                    "input": block.get("input") or {},
                }
            )
    return tuple(kept)


def read_answer(http: Any, request: ModelRequest) -> ModelResponse:
    """A non-streamed answer from its HTTP response (status 200), checked field by field:
    anything else is a failed attempt of kind "server" (retried), charged for the usage it
    states, or its worst case when it states none readable."""
    request_id = http.headers.get("request-id")
    try:
        body = http.json()
    except ValueError:
        kind = http.headers.get("content-type", "no content type")
        why = f"the body is not JSON ({kind}): {_snippet(http.text)}"
        raise _unreadable(why, request_id) from None
    if not isinstance(body, dict):
        raise _unreadable(f"the body is {_kind_of(body)}, not a message object", request_id)
    if body.get("type") == "error":
        raise error_in_body(body, request_id)
    usage = read_usage(body.get("usage"))
    if usage is None or isinstance(usage, str):
        raise _unreadable(usage or "the answer states no usage", request_id)
    content = body.get("content")
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        raise _unreadable(
            f"`content` is {_kind_of(content)}, not a list of blocks", request_id, usage
        )
    text = "".join(str(block.get("text") or "") for block in content if block.get("type") == "text")
    return ModelResponse(
        text=text,
        usage=usage,
        model=str(body.get("model") or request.model),
        stop_reason=body.get("stop_reason") if isinstance(body.get("stop_reason"), str) else None,
        request_id=request_id,
        content=_blocks(content),
    )


def read_usage(usage: Any) -> Usage | str | None:
    """The usage an answer states: a Usage, None when absent, or why it is unreadable."""
    if not isinstance(usage, dict):
        return None
    counts: dict[str, int] = {}
    for field in (
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ):
        value = usage.get(field)
        if value is None:
            counts[field] = 0
        elif isinstance(value, int) and not isinstance(value, bool):
            counts[field] = max(0, value)
        else:
            return f"usage.{field} is {_kind_of(value)}, not a whole number"
    return Usage(**counts)


def error_in_body(body: dict[str, Any], request_id: str | None) -> ProviderError:
    """An error object sent with HTTP 200 (a proxy, a gateway): the API's own error kinds."""
    error = body.get("error") if isinstance(body.get("error"), dict) else {}
    kind = ERROR_KINDS.get(str(error.get("type") or ""), "server")
    message = str(error.get("message") or "no message")[:200]
    return ProviderError(
        kind, f"an error inside an HTTP 200 answer: {message}", request_id=request_id
    )


def _unreadable(why: str, request_id: str | None, usage: Usage | None = None) -> ProviderError:
    return ProviderError(
        "server",
        f"unreadable answer: {why}",
        usage=usage,
        request_id=request_id,
        unknown_outcome=usage is None,
    )


def _snippet(text: str) -> str:
    line = " ".join(text.split())
    return (line[:80] + "…") if len(line) > 80 else (line or "(empty)")


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"a string ({_snippet(value)!r})" if len(value) < 40 else "a string"
    return {list: "a list", dict: "an object", bool: "a boolean"}.get(type(value), "a number")


class ToolInputs:
    """The JSON of each streamed tool_use input, checked strictly when its block ends (the
    SDK reads it leniently, as partial JSON: `{"path": tru` would pass as `true`)."""

    def __init__(self) -> None:
        self.parts: dict[int, list[str]] = {}

    def hear(self, event: Any) -> None:
        if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
            self.parts.setdefault(event.index, []).append(event.delta.partial_json)
        elif event.type == "content_block_stop" and event.index in self.parts:
            text = "".join(self.parts.pop(event.index)) or "{}"
            try:
                json.loads(text)
            except ValueError as exc:
                raise ValueError(f"a tool call's input is not JSON ({exc})") from None

"""Content helpers for the fake Messages API server: token counting, prompt segments,
default replies, minimal JSON Schema instances and SSE event sequences.

Token counting is deliberately simple and documented so that tests can predict it:
``tokens(text) = ceil(len(text) / 4)``. A request's input is the concatenation of its
*segments* (tools, then system blocks, then message blocks, the order in which the real
API builds its cache prefix); its input tokens are ``ceil(total_chars / 4)`` and the
tokens of a prefix ending at segment ``i`` are ``ceil(cumulative_chars_i / 4)``.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]

# Error `type` the real API uses for each status.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

# Canned values for string formats that validators commonly check.
_FORMAT_EXAMPLES = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00Z",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
}


def count_tokens(text: str) -> int:
    """The server's token count for `text`: ceil(chars / 4)."""
    return math.ceil(len(text) / 4)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def block_text(block: Any) -> str:
    """The text a content block contributes to token counts (cache_control excluded)."""
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return _dumps(block)
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text", ""))
    if kind == "thinking":
        return str(block.get("thinking", ""))
    if kind == "tool_use":
        return str(block.get("name", "")) + _dumps(block.get("input", {}))
    if kind == "tool_result":
        content = block.get("content", "")
        if isinstance(content, list):
            return "".join(block_text(b) for b in content)
        return str(content)
    # Images, documents, tool definitions...: any deterministic rendering will do.
    return _dumps({k: v for k, v in block.items() if k != "cache_control"})


@dataclass(frozen=True)
class Segment:
    """One cacheable unit of the prompt; `cache_ttl` is set when it is a cache breakpoint."""

    text: str
    cache_ttl: float | None = None


def _ttl(block: Any, default_ttl: float) -> float | None:
    if not isinstance(block, dict):
        return None
    control = block.get("cache_control")
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        return None
    return 3600.0 if control.get("ttl") == "1h" else default_ttl


def prompt_segments(body: JSON, default_ttl: float = 300.0) -> list[Segment]:
    """Tools, system and message blocks in cache-prefix order."""
    segments = [Segment(block_text(t), _ttl(t, default_ttl)) for t in body.get("tools") or []]
    system = body.get("system")
    if isinstance(system, str):
        segments.append(Segment(system))
    elif isinstance(system, list):
        segments += [Segment(block_text(b), _ttl(b, default_ttl)) for b in system]
    for message in body.get("messages") or []:
        content = message.get("content", "") if isinstance(message, dict) else ""
        blocks = content if isinstance(content, list) else [content]
        segments += [Segment(block_text(b), _ttl(b, default_ttl)) for b in blocks]
    return segments


class PromptCache:
    """Prompt caching as the real API reports it.

    Every block (tool, system or message block) carrying ``cache_control: {"type":
    "ephemeral"}`` is a breakpoint; the prefix up to it is an entry keyed by (model,
    prefix), kept ``ttl`` seconds (3600 for ``"ttl": "1h"``) after its last use, and only
    when it has at least ``min_tokens`` tokens. The longest live entry is reported as
    ``cache_read_input_tokens``, the rest up to the last breakpoint as
    ``cache_creation_input_tokens`` and what follows as ``input_tokens``: all disjoint.
    """

    def __init__(
        self,
        min_tokens: int = 1024,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_tokens, self.ttl, self.clock = min_tokens, ttl, clock
        self._expiry: dict[str, float] = {}  # digest of (model, prefix) → expiry time
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._expiry.clear()

    def usage(self, body: JSON) -> dict[str, int]:
        """The three input figures of a request, updating the cache as the API would."""
        segments = prompt_segments(body, self.ttl)
        now = self.clock()
        read = written = chars = 0
        prefix = hashlib.sha256(str(body.get("model")).encode())
        with self._lock:
            for segment in segments:
                chars += len(segment.text)
                # Length-prefixed so that different splits of the same text differ.
                prefix.update(b"%d:%s" % (len(segment.text), segment.text.encode()))
                prefix_tokens = math.ceil(chars / 4)
                if segment.cache_ttl is None or prefix_tokens < self.min_tokens:
                    continue
                key = prefix.hexdigest()
                if self._expiry.get(key, -1.0) > now:
                    read = prefix_tokens  # breakpoints come in order: this ends the longest
                written = prefix_tokens
                self._expiry[key] = now + segment.cache_ttl  # a hit refreshes the ttl too
        written = max(0, written - read)
        return {
            "input_tokens": math.ceil(chars / 4) - read - written,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
        }


def input_tokens(body: JSON) -> int:
    """Total input tokens of a request, ignoring caching (what count_tokens reports)."""
    return count_tokens("".join(s.text for s in prompt_segments(body)))


def system_text(system: Any) -> str:
    if isinstance(system, list):
        return "".join(block_text(b) for b in system)
    return system if isinstance(system, str) else ""


def last_user_text(messages: Any) -> str:
    """Text of the last user message (text blocks and tool_result contents)."""
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content", "")
            if isinstance(content, str):
                return content
            return "".join(block_text(b) for b in content if isinstance(b, dict))
    return ""


def minimal_instance(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A small instance valid against `schema` (common keywords only; no `pattern`)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 32:
        return "example"
    if "$ref" in schema:
        return minimal_instance(_resolve_ref(root, schema["$ref"]), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return minimal_instance(schema[key][0], root, depth + 1)
    if schema.get("allOf"):
        merged: JSON = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = _resolve_ref(root, part["$ref"]) if "$ref" in part else part
            props = {**merged.get("properties", {}), **part.get("properties", {})}
            required = [*merged.get("required", []), *part.get("required", [])]
            merged = {**merged, **part, "properties": props, "required": required}
        return minimal_instance(merged, root, depth + 1)

    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema or "required" in schema else None
        kind = kind or ("array" if "items" in schema else "string")

    if kind == "object":
        props = schema.get("properties", {})
        names = list(schema.get("required", []))
        for name in props:  # satisfy minProperties with optional properties
            if len(names) >= schema.get("minProperties", 0):
                break
            if name not in names:
                names.append(name)
        return {n: minimal_instance(props.get(n, {}), root, depth + 1) for n in names}
    if kind == "array":
        prefix = [minimal_instance(s, root, depth + 1) for s in schema.get("prefixItems", [])]
        count = max(1, schema.get("minItems", 0)) - len(prefix)
        if schema.get("maxItems") == 0:
            return []
        items = schema.get("items", {})
        return prefix + [minimal_instance(items, root, depth + 1) for _ in range(count)]
    if kind == "string":
        text = _FORMAT_EXAMPLES.get(schema.get("format", ""), "example")
        text = text.ljust(schema.get("minLength", 0), "x")
        return text[: schema["maxLength"]] if "maxLength" in schema else text
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind == "boolean":
        return True
    return None


def _resolve_ref(root: Any, ref: str) -> Any:
    """Resolve a local JSON pointer such as `#/$defs/Item` (what pydantic emits)."""
    node = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if part:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _number(schema: JSON, *, integer: bool) -> int | float:
    step = 1 if integer else 0.5
    value: int | float = 1
    if "minimum" in schema:
        value = max(value, schema["minimum"])
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        value = schema["exclusiveMinimum"] + step
    if "maximum" in schema:
        value = min(value, schema["maximum"])
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        value = schema["exclusiveMaximum"] - step
    return math.ceil(value) if integer else value


def json_schema_of(body: JSON) -> JSON | None:
    """The schema of `output_config.format` when the request asks for structured output."""
    fmt = (body.get("output_config") or {}).get("format") or {}
    return fmt.get("schema") if fmt.get("type") == "json_schema" else None


def forced_tool(body: JSON) -> JSON | None:
    """The tool definition that `tool_choice` forces (type "tool", or "any" → first tool)."""
    choice = body.get("tool_choice") or {}
    tools = [t for t in body.get("tools") or [] if isinstance(t, dict)]
    if choice.get("type") == "tool":
        return next((t for t in tools if t.get("name") == choice.get("name")), None)
    if choice.get("type") == "any" and tools:
        return tools[0]
    return None


def split_text(text: str, size: int = 16) -> list[str]:
    """Cut text into stream pieces (at least one, so every block gets a delta)."""
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def sse_events(message: JSON, pieces: list[list[str]]) -> Iterator[tuple[str, JSON]]:
    """The SSE event sequence for a finished `message`; `pieces[i]` are block i's deltas."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**usage, "output_tokens": min(1, usage["output_tokens"])}
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    for index, block in enumerate(message["content"]):
        if block["type"] == "tool_use":
            opening = {**block, "input": {}}
            delta_type, field = "input_json_delta", "partial_json"
        else:
            opening = {**block, "text": ""}
            delta_type, field = "text_delta", "text"
        opened = {"type": "content_block_start", "index": index, "content_block": opening}
        yield "content_block_start", opened
        for piece in pieces[index]:
            delta = {"type": delta_type, field: piece}
            event = {"type": "content_block_delta", "index": index, "delta": delta}
            yield "content_block_delta", event
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    # The usage figures are cumulative totals, as the current API sends them.
    yield "message_delta", {"type": "message_delta", "delta": delta, "usage": usage}
    yield "message_stop", {"type": "message_stop"}


def encode_sse(event: str, data: JSON) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def validate_body(path: str, body: Any) -> str | None:
    """The first problem the real API would reject the body for (a subset of its checks)."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    if not isinstance(body.get("model"), str):
        return "model: Field required"
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return "messages: at least one message is required"
    if path == "/v1/messages":
        max_tokens = body.get("max_tokens")
        if not isinstance(max_tokens, int) or max_tokens < 1:
            return "max_tokens: Field required (an integer >= 1)"
    return None


def truncate_blocks(blocks: list[JSON], max_tokens: int) -> tuple[list[JSON], bool]:
    """Cut content to max_tokens (4 chars per token); tool_use blocks are kept whole or dropped."""
    budget = max_tokens * 4
    kept: list[JSON] = []
    for block in blocks:
        size = len(block_text(block))
        if size <= budget:
            kept.append(block)
            budget -= size
            continue
        if block.get("type") == "text":
            kept.append({**block, "text": block["text"][:budget]})
        return kept, True
    return kept, False


def stream_pieces(block: JSON, chunks: list[str] | None) -> list[str]:
    """Stream deltas for a block: scripted chunks (cut to the final text) or fixed-size pieces."""
    if block["type"] == "tool_use":
        return split_text(json.dumps(block["input"]), 24)
    text = block.get("text", "")
    joined = "".join(chunks or [])
    if chunks is None or not joined.startswith(text):  # chunks belong to another text
        return split_text(text)
    if joined == text:
        return chunks
    pieces, used = [], 0  # the text was truncated: keep the scripted boundaries that fit
    for chunk in chunks:
        pieces.append(chunk[: len(text) - used])
        used += len(pieces[-1])
        if used >= len(text):
            break
    return pieces


def default_content(body: JSON) -> tuple[list[JSON], str | None]:
    """Generated content: schema instance, forced tool call or "Answer to: <prompt>"."""
    schema = json_schema_of(body)
    if schema is not None:
        return [{"type": "text", "text": json.dumps(minimal_instance(schema))}], None
    tool = forced_tool(body)
    if tool is not None:
        tool_input = minimal_instance(tool.get("input_schema", {"type": "object"}))
        block = {"type": "tool_use", "id": "toolu_1", "name": tool["name"], "input": tool_input}
        return [block], "tool_use"
    text = "Answer to: " + last_user_text(body.get("messages"))[:60]
    return [{"type": "text", "text": text}], None

"""An offline stand-in for a model: deterministic answers, plausible usage, no network.

It lets a workflow be run end to end (scheduling, caching figures, budgets, retries)
without a key or a bill. Everything is a function of the request and `seed`, so the
same request always gets the same answer.

Token figures are cl100k tokens (`raw_token_count`), for input and output alike:
input = tokens(system) + tokens(prompt), output = tokens(text). They are therefore
never above the engine's padded estimates, as with the real API.

Environment (read on every call, so tests can change it):
  AGENTFLOW_SIMULATE_LATENCY  seconds per call (float), e.g. 0 for CI and benchmarks;
                              used when no `latency` is passed to the constructor.
  AGENTFLOW_SIMULATE_FAIL     comma-separated task ids whose calls always fail with
                              kind "server" (HTTP 500), to exercise retries and failures.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any

from agentflow.prices import Usage
from agentflow.providers.base import ModelRequest, ModelResponse, ProviderError
from agentflow.tokens import encoding, raw_token_count

LATENCY_ENV = "AGENTFLOW_SIMULATE_LATENCY"
FAIL_ENV = "AGENTFLOW_SIMULATE_FAIL"
MIN_CACHE_TOKENS = 1024  # shorter system prompts are not cached, as with the real API
MIN_LATENCY, MAX_LATENCY = 0.05, 0.5

_FILLER = (
    "The main points are summarised below in order of importance.",
    "Each finding is supported by the material provided in the prompt.",
    "Where the input was ambiguous, the most conservative reading was used.",
    "No external sources were consulted for this answer.",
    "Further detail can be added if a follow-up task asks for it.",
    "The result is ready to be passed to the next step of the workflow.",
    "Assumptions are stated explicitly so that a reviewer can check them.",
    "This is a simulated response produced without calling a model.",
)

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


def parse_latency(value: str | None) -> float | None:
    """A latency from the environment; None when unset. Raises ValueError when malformed."""
    if value is None or not value.strip():
        return None
    seconds = float(value)
    if not seconds >= 0:  # also rejects nan
        raise ValueError(f"{LATENCY_ENV} must be a number of seconds >= 0, got {value!r}")
    return seconds


class SimulateProvider:
    name = "simulate"

    def __init__(
        self, latency: float | None = None, seed: int = 0, env: Mapping[str, str] | None = None
    ) -> None:
        self._latency = latency
        self._seed = seed
        self._env = env if env is not None else os.environ
        self._cached: set[tuple[str, str]] = set()  # (model, system) prefixes already written

    def prefetch(self) -> None:
        return None

    async def warm_up(self) -> None:
        return None  # ready when made

    async def complete(self, request: ModelRequest) -> ModelResponse:
        digest = self._digest(request)
        content: tuple[dict[str, Any], ...] = ()
        calls = _tool_calls(request)
        if calls:
            text, stop_reason, content = "", "tool_use", calls
        elif request.output_schema is not None:
            text = json.dumps(minimal_instance(request.output_schema, request.task_id))
            stop_reason = "end_turn"
        else:
            text, stop_reason = _prose(request, digest)
        output_tokens = raw_token_count(text or json.dumps(content))

        latency = self._call_latency(digest, output_tokens)
        if latency > request.timeout:
            await asyncio.sleep(request.timeout)
            raise ProviderError("timeout", f"simulated reply took longer than {request.timeout:g}s")
        failing = {t.strip() for t in self._env.get(FAIL_ENV, "").split(",") if t.strip()}
        if request.task_id in failing:
            await asyncio.sleep(latency)
            raise ProviderError(
                "server", f"simulated failure for task {request.task_id!r} ({FAIL_ENV})", status=500
            )
        # Decide caching before sleeping so that concurrent calls see a deterministic order
        # (the first call to start writes the cache, later ones read it).
        usage = self._usage(request, output_tokens)
        await asyncio.sleep(latency)
        request_id = f"sim_{digest:016x}"
        if not content and text:
            content = ({"type": "text", "text": text},)
        return ModelResponse(text, usage, request.model, stop_reason, request_id, content)

    async def count_tokens(self, request: ModelRequest) -> int:
        return raw_token_count(request.system) + _conversation_tokens(request)

    async def aclose(self) -> None:
        return None

    def _digest(self, request: ModelRequest) -> int:
        parts = [
            str(self._seed),
            request.task_id,
            request.model,
            request.system,
            request.prompt,
            json.dumps([request.history, request.tools], sort_keys=True, default=str),
            str(request.max_tokens),
            json.dumps(request.output_schema, sort_keys=True, default=str),
        ]
        raw = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
        return int.from_bytes(raw[:8], "big")

    def _call_latency(self, digest: int, output_tokens: int) -> float:
        if self._latency is not None:
            return self._latency
        try:
            from_env = parse_latency(self._env.get(LATENCY_ENV))
        except ValueError:
            from_env = None  # the factory reports a malformed value; here fall back quietly
        if from_env is not None:
            return from_env
        # Longer answers take longer, with some per-request spread, within the bounds.
        spread = (digest % 1000) / 1000 * 0.15
        per_token = min(output_tokens, 1000) / 1000 * (MAX_LATENCY - MIN_LATENCY - 0.15)
        return MIN_LATENCY + spread + per_token

    def _usage(self, request: ModelRequest, output_tokens: int) -> Usage:
        system_tokens = raw_token_count(request.system)
        prompt_tokens = _conversation_tokens(request)
        if not request.cache_system or system_tokens < MIN_CACHE_TOKENS:
            return Usage(system_tokens + prompt_tokens, output_tokens)
        key = (request.model, request.system)
        if key in self._cached:
            return Usage(prompt_tokens, output_tokens, cache_read_input_tokens=system_tokens)
        self._cached.add(key)
        return Usage(prompt_tokens, output_tokens, cache_creation_input_tokens=system_tokens)


def _conversation_tokens(request: ModelRequest) -> int:
    tokens = raw_token_count(request.prompt)
    if request.history or request.tools:
        tokens += raw_token_count(json.dumps([request.history, request.tools], sort_keys=True))
    return tokens


def _tool_calls(request: ModelRequest) -> tuple[dict[str, Any], ...]:
    """The simulated model's tool use: on its first turn it calls every tool on offer once,
    with inputs built from each tool's input schema (an `enum` or `examples` value first,
    so an ask_agent call names a real agent); once it has results, it answers."""
    if not request.tools or request.history:
        return ()
    return tuple(
        {
            "type": "tool_use",
            "id": f"toolu_sim_{index}",
            "name": tool["name"],
            "input": _required_only(tool.get("input_schema", {}), tool["name"]),
        }
        for index, tool in enumerate(request.tools, start=1)
    )


def _required_only(schema: Mapping[str, Any], label: str) -> Any:
    """A tool input with its required fields only, as a model calling it tersely would."""
    required = set(schema.get("required") or ())
    properties = {k: v for k, v in (schema.get("properties") or {}).items() if k in required}
    return minimal_instance({**schema, "properties": properties}, label)


def _prose(request: ModelRequest, digest: int) -> tuple[str, str]:
    """A few sentences about the request, cut to fit max_tokens; returns (text, stop_reason)."""
    words = request.prompt.split()
    opening = " ".join(words[:8]) + (" ..." if len(words) > 8 else "")
    sentences = [f"Simulated answer for task {request.task_id} ({request.model})."]
    if opening:
        sentences.append(f'The request began: "{opening}".')
    sentences += _tool_result_sentences(request)
    count = 2 + digest % 5
    sentences += [_FILLER[(digest >> (4 * i)) % len(_FILLER)] for i in range(count)]

    text = ""
    for sentence in sentences:
        candidate = f"{text} {sentence}" if text else sentence
        if raw_token_count(candidate) > request.max_tokens:
            break
        text = candidate
    else:
        return text, "end_turn"
    if not text:  # not even the first sentence fits: cut it token by token
        text = _first_tokens(sentences[0], request.max_tokens)
    return text, "max_tokens"


def _tool_result_sentences(request: ModelRequest) -> list[str]:
    """One sentence per tool result seen, so a simulated answer shows what it was told."""
    names = {
        block.get("id"): block.get("name")
        for message in request.history
        if message.get("role") == "assistant"
        for block in message.get("content") or ()
        if isinstance(block, Mapping) and block.get("type") == "tool_use"
    }
    sentences = []
    for message in request.history:
        for block in message.get("content") or ():
            if isinstance(block, Mapping) and block.get("type") == "tool_result":
                content = str(block.get("content", ""))
                first = content.strip().splitlines()[0][:120] if content.strip() else ""
                error = " (error)" if block.get("is_error") else ""
                name = names.get(block.get("tool_use_id"), "tool")
                sentences.append(f'{name}{error}: "{first}".')
    return sentences


def _first_tokens(text: str, limit: int) -> str:
    cl100k = encoding()
    cut = cl100k.encode(text, disallowed_special=())[:limit]
    # Decoding then re-encoding can merge differently; shrink until the count fits.
    while cut and raw_token_count(cl100k.decode(cut)) > limit:
        cut = cut[:-1]
    return cl100k.decode(cut)


def minimal_instance(schema: Any, label: str = "", root: Any = None, depth: int = 0) -> Any:
    """A small document valid against `schema`: every listed property, minimal sizes.

    Covers the keywords agent output schemas use (type, properties, required, items,
    enum, const, min/max bounds, formats, anyOf/oneOf/allOf, local $ref); `pattern`
    is not honoured.
    """
    root = schema if root is None else root
    if not isinstance(schema, Mapping) or depth > 32:
        return None if schema is False else {}
    fixed = _given_value(schema)
    if fixed is not _NONE:
        return fixed
    combined = _combined(schema, root)
    if combined is not None:
        return minimal_instance(combined, label, root, depth + 1)
    return _of_kind(_kind(schema), schema, label, root, depth)


_NONE = object()


def _given_value(schema: Mapping[str, Any]) -> Any:
    """The value a schema names itself (const, the first enum or example), else _NONE."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    return _NONE


def _combined(schema: Mapping[str, Any], root: Any) -> Mapping[str, Any] | None:
    """The schema to follow instead for a local $ref, anyOf/oneOf (the first branch) or
    allOf (the parts merged); None for a plain schema."""
    if isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#"):
        return _resolve(root, schema["$ref"])
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return schema[key][0]
    if not schema.get("allOf"):
        return None
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        if isinstance(part, Mapping) and isinstance(part.get("$ref"), str):
            part = _resolve(root, part["$ref"])
        properties = {**merged.get("properties", {}), **part.get("properties", {})}
        required = [*merged.get("required", []), *part.get("required", [])]
        merged = {**merged, **part, "properties": properties, "required": required}
    return merged


def _kind(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        return next((k for k in kind if k != "null"), "null")
    if kind is not None:
        return str(kind)
    if "properties" in schema or "required" in schema:
        return "object"
    return "array" if "items" in schema else "string"


def _of_kind(kind: str, schema: Mapping[str, Any], label: str, root: Any, depth: int) -> Any:
    if kind == "object":
        properties = schema.get("properties", {})
        names = list(dict.fromkeys([*schema.get("required", []), *properties]))
        return {n: minimal_instance(properties.get(n, {}), n, root, depth + 1) for n in names}
    if kind == "array":
        if schema.get("maxItems") == 0:
            return []
        prefix_schemas = schema.get("prefixItems", [])
        prefix = [minimal_instance(s, label, root, depth + 1) for s in prefix_schemas]
        count = max(1, schema.get("minItems", 0)) - len(prefix)
        items = schema.get("items", {})
        return prefix + [minimal_instance(items, label, root, depth + 1) for _ in range(count)]
    if kind == "string":
        text = _FORMAT_EXAMPLES.get(schema.get("format", ""), f"simulated {label}".strip())
        text = text.ljust(schema.get("minLength", 0), "x")
        return text[: schema["maxLength"]] if "maxLength" in schema else text
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    return True if kind == "boolean" else None


def _resolve(root: Any, ref: str) -> Any:
    node = root
    for part in ref.lstrip("#").strip("/").split("/"):
        if part:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _number(schema: Mapping[str, Any], *, integer: bool) -> int | float:
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
    if integer:
        return int(-(-value // 1))  # ceil, so a fractional minimum stays satisfied
    return value

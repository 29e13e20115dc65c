"""A provider answered by a Python function, for engine unit tests: the whole engine runs
(scheduling, budget, cache, retries, tool loops) with no HTTP and no SDK.

The function gets each ModelRequest and returns the answer: a ModelResponse, or just its
text (usage is then counted as a quarter of the characters in and out), or an awaitable of
either. It raises ProviderError to fail the attempt. Every request is kept in `requests`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from agentflow.prices import Usage
from agentflow.providers.base import ModelRequest, ModelResponse

Answerer = Callable[[ModelRequest], ModelResponse | str | Awaitable[ModelResponse | str]]


def reply(
    text: str = "",
    *,
    input_tokens: int = 10,
    output_tokens: int = 5,
    stop_reason: str = "end_turn",
    content: Sequence[Mapping[str, Any]] = (),
    model: str = "",
) -> ModelResponse:
    """An answer as a function provider's function returns it (`model` defaults to the
    request's)."""
    blocks = tuple(content) or (({"type": "text", "text": text},) if text else ())
    return ModelResponse(text, Usage(input_tokens, output_tokens), model, stop_reason, None, blocks)


def tool_call(name: str, tool_input: Mapping[str, Any], call_id: str = "toolu_1") -> ModelResponse:
    """A turn that calls one tool."""
    block = {"type": "tool_use", "id": call_id, "name": name, "input": dict(tool_input)}
    return reply(stop_reason="tool_use", content=(block,))


class FunctionProvider:
    def __init__(self, answer: Answerer, *, name: str = "function") -> None:
        self.name = name
        self._answer = answer
        self.requests: list[ModelRequest] = []

    def prefetch(self) -> None:
        return None

    async def warm_up(self) -> None:
        return None

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        result = self._answer(request)
        if inspect.isawaitable(result):
            result = await result
        if isinstance(result, str):
            usage = Usage(max(1, len(request.prompt) // 4), max(1, len(result) // 4))
            content = ({"type": "text", "text": result},) if result else ()
            return ModelResponse(result, usage, request.model, "end_turn", None, content)
        if not result.model:
            return ModelResponse(
                result.text,
                result.usage,
                request.model,
                result.stop_reason,
                result.request_id,
                result.content,
            )
        return result

    async def count_tokens(self, request: ModelRequest) -> int:
        raise NotImplementedError("a function provider does not count tokens")

    async def aclose(self) -> None:
        return None

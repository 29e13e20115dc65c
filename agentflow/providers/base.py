"""What the engine asks of a model provider, and what it gets back.

A provider makes exactly one attempt per call: the engine owns retries, backoff and
the per-attempt timeout, so every attempt is counted, priced and reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from agentflow.prices import Usage

ErrorKind = Literal[
    "rate_limit",  # 429: retry after a pause, lower concurrency
    "overloaded",  # 529: likewise
    "server",  # 5xx, 408, 409: retry
    "connection",  # dropped or refused connection: retry
    "timeout",  # the attempt took longer than its timeout: retry
    "invalid_output",  # the answer failed its output_schema: retry (the attempt is charged)
    "client",  # 400, 404, 413, ...: never retried
    "auth",  # 401, 403: never retried
    "refusal",  # stop_reason "refusal": never retried on the same model
    "cancelled",  # the run or an ask stopped waiting for the attempt
]

RETRYABLE: frozenset[str] = frozenset(
    {"rate_limit", "overloaded", "server", "connection", "timeout", "invalid_output"}
)


@dataclass(frozen=True)
class ModelRequest:
    task_id: str
    model: str  # a resolved model id
    system: str  # the agent's body; may be empty
    prompt: str  # the rendered user message
    max_tokens: int
    timeout: float  # seconds for this one attempt
    output_schema: Mapping[str, Any] | None = None
    cache_system: bool = False  # put a prompt-cache breakpoint after the system prompt
    # A tool-use conversation: the turns after the first user message (the prompt), in the
    # Messages API's form, and the tools on offer (API tool definitions).
    history: tuple[Mapping[str, Any], ...] = ()
    tools: tuple[Mapping[str, Any], ...] = ()
    cache_history: bool = False  # a prompt-cache breakpoint at the end of the conversation

    def messages(self) -> list[dict[str, Any]]:
        """The request's messages in the Messages API's form."""
        return [{"role": "user", "content": self.prompt}, *(dict(m) for m in self.history)]


@dataclass(frozen=True)
class ModelResponse:
    text: str
    usage: Usage
    model: str
    stop_reason: str | None = None
    request_id: str | None = None
    content: tuple[Mapping[str, Any], ...] = ()  # the raw blocks (text, tool_use), as sent

    def tool_uses(self) -> list[Mapping[str, Any]]:
        return [block for block in self.content if block.get("type") == "tool_use"]


class ProviderError(Exception):
    """One failed attempt, classified so the engine knows whether to try again."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        usage: Usage | None = None,
        request_id: str | None = None,
        unknown_outcome: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.usage = usage  # tokens the failed attempt was still billed for, when known
        self.request_id = request_id
        # The request reached the API but how it ended is not known (a timeout, a dropped
        # connection, an unreadable answer): the API may bill it in full, so the attempt is
        # charged its worst case, `usage` (what was seen of it) included.
        self.unknown_outcome = unknown_outcome

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    def describe(self) -> str:
        status = f"HTTP {self.status}: " if self.status else ""
        return f"{status}{self.message}"


class Provider(Protocol):
    name: str

    def prefetch(self) -> None:
        """Start loading what requests need in the background, if anything (the engine
        calls it as soon as it knows a request will be sent); `warm_up` waits for it."""
        ...

    async def warm_up(self) -> None:
        """Load what requests need (an SDK, a client). The engine awaits it before the first
        task that will send a request starts, so loading never counts against a task's
        time or timeout, and a run answered wholly from the cache never loads anything."""
        ...

    async def complete(self, request: ModelRequest) -> ModelResponse:
        """Make one attempt; raise ProviderError on any failure."""
        ...

    async def count_tokens(self, request: ModelRequest) -> int:
        """The exact input tokens of `request` (for --exact-count); may raise ProviderError."""
        ...

    async def aclose(self) -> None: ...

"""One task's attempts: call, check the answer, back off, try again, until done or out of tries."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from agentflow.engine.context import RunContext
from agentflow.engine.results import Attempt
from agentflow.engine.retry import RetryPolicy
from agentflow.prices import Usage
from agentflow.providers.base import ModelRequest, ModelResponse, Provider, ProviderError

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n\s*```\s*$", re.DOTALL)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    attempts: tuple[Attempt, ...]
    text: str | None = None
    document: Any = None
    error: str | None = None
    error_kind: str | None = None
    response: ModelResponse | None = None  # the accepted answer, as the provider gave it


def parse_structured(text: str, schema: Mapping[str, Any]) -> Any:
    """The JSON document in `text`, valid against `schema`; ProviderError otherwise."""
    import jsonschema  # only for tasks with an output_schema

    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise ProviderError("invalid_output", f"output is not JSON ({exc.msg})") from None
    try:
        jsonschema.validate(document, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the document"
        raise ProviderError(
            "invalid_output", f"output fails output_schema at {where}: {exc.message}"
        ) from None
    except jsonschema.SchemaError as exc:
        raise ProviderError(
            "client", f"output_schema is not a valid JSON Schema: {exc.message}"
        ) from None
    return document


AttemptHook = Callable[[Attempt], Awaitable[None] | None]


Judge = Callable[[ModelResponse, Any], str | None]  # None: a good answer; else why not


def unusable(response: ModelResponse) -> ProviderError | None:
    """Why an answer cannot be a task's output whatever the task asked: an empty answer
    (a server failure, retried) or a refusal (not retried: the same model would refuse
    again; a task's checks or escalate chain judge it instead, as a poor answer)."""
    if response.stop_reason == "tool_use" and response.tool_uses():
        return None
    if response.stop_reason == "refusal":
        return ProviderError("refusal", "the model refused to answer (stop_reason: refusal)")
    if not response.text.strip():
        return ProviderError("server", "the API sent an empty answer")
    return None


def cacheable(response: ModelResponse) -> bool:
    """Whether an accepted answer may be kept in the response cache: a complete one only
    (a truncated answer is passed on, marked, but asked again on the next run)."""
    return response.stop_reason not in ("max_tokens", "refusal") and bool(
        response.text.strip() or response.tool_uses()
    )


@dataclass
class _Try:
    """One attempt being made: when it started, whether its request may have left, and
    the Attempt it becomes."""

    ctx: RunContext
    request: ModelRequest
    number: int
    input_tokens: int | None  # the API's own count, when known
    started: float = field(default_factory=time.time)
    sent: bool = False

    def attempt(self, usage: Usage, error: ProviderError | None = None) -> Attempt:
        prices, model = self.ctx.prices, self.request.model
        return Attempt(
            number=self.number,
            model=model,
            started_at=self.started,
            ended_at=time.time(),
            ok=error is None,
            usage=usage,
            cost_usd=prices.cost(model, usage),
            error=error.describe() if error else None,
            error_kind=error.kind if error else None,
            status_code=error.status if error else None,
            prompt_cache_saved_usd=prices.uncached_cost(model, usage) - prices.cost(model, usage),
        )

    def failed(self, error: ProviderError, response: ModelResponse | None) -> Attempt:
        usage = error.usage or (response.usage if response else Usage())
        if error.unknown_outcome:
            return self.estimated(error, usage)
        return self.attempt(usage, error)

    def estimated(self, error: ProviderError, seen: Usage | None = None) -> Attempt:
        """An attempt whose outcome is unknown, charged the most the API can bill for it:
        the input it was seen to count (else the request's bound), `max_tokens` out."""
        request = self.request
        if seen is not None and seen.input_tokens + seen.cache_read_input_tokens > 0:
            usage = replace(seen, output_tokens=max(seen.output_tokens, request.max_tokens))
            cost = self.ctx.prices.cost(request.model, usage)
        else:
            bound = self.ctx.attempt_bound(request, self.input_tokens)
            tokens_in = bound.tokens - request.max_tokens
            usage = Usage(input_tokens=tokens_in, output_tokens=request.max_tokens)
            cost = bound.usd
        return replace(
            self.attempt(usage, error),
            cost_usd=cost,
            prompt_cache_saved_usd=0.0,
            estimated=True,
            error=f"{error.describe()} (charged up to ${cost:.4f}: the API may bill it)",
        )


async def run_attempts(
    ctx: RunContext,
    request: ModelRequest,
    *,
    policy: RetryPolicy,
    on_attempt: AttemptHook | None = None,
    may_retry: Callable[[], bool] | None = None,
    accept: Judge | None = None,
    first_number: int = 1,
    input_tokens: int | None = None,
) -> Outcome:
    """Attempts on one model. `accept` judges an answer (without it, empty answers and
    refusals fail); `may_retry` says whether the budget still covers another try;
    `first_number` numbers attempts across the models of an escalate chain;
    `input_tokens` is the API's own count of the request, when known.

    Every attempt that may have reached the API is reported to `on_attempt`, which charges
    it: one cancelled in flight (a timeout of `ask`, Ctrl-C) is charged its worst case."""
    limiter = ctx.limiter
    await ctx.gate.ready()  # before the first attempt's clock
    attempts: list[Attempt] = []
    while True:
        current = _Try(ctx, request, first_number + len(attempts), input_tokens)
        response: ModelResponse | None = None
        try:
            async with limiter.slot():
                current.sent = True
                response = await _one_call(ctx.provider, request)
            document = _judge(request, response, accept)
        except ProviderError as error:
            attempts.append(current.failed(error, response))
            await _notify(on_attempt, attempts[-1])
            if error.kind in ("rate_limit", "overloaded"):
                limiter.on_throttle()
            tries = len(attempts)
            if not policy.should_retry(tries, error):
                message = _final_message(attempts[-1], error, tries)
                return Outcome(False, tuple(attempts), error=message, error_kind=error.kind)
            if may_retry is not None and not may_retry():
                message = _final_message(attempts[-1], error, tries)
                message += "; no retry: the budget cannot cover it"
                return Outcome(False, tuple(attempts), error=message, error_kind=error.kind)
            await asyncio.sleep(policy.delay(tries, error, ctx.rng))
            continue
        except asyncio.CancelledError:
            if current.sent and response is None:
                abandoned = ProviderError("cancelled", "cancelled while the request was in flight")
                _notify_now(on_attempt, current.estimated(abandoned))
            raise
        attempts.append(current.attempt(response.usage))
        await _notify(on_attempt, attempts[-1])
        await limiter.on_success()
        return Outcome(
            True, tuple(attempts), text=response.text, document=document, response=response
        )


def _judge(request: ModelRequest, response: ModelResponse, accept: Judge | None) -> Any:
    """The answer's JSON document (tasks with an output_schema); ProviderError when the
    answer fails its schema, `accept`, or (without `accept`) is empty or a refusal."""
    document: Any = None
    # A turn that calls tools is not the answer yet: the schema judges the last one.
    if request.output_schema is not None and response.stop_reason != "tool_use":
        document = parse_structured(response.text, request.output_schema)
    if accept is None:
        problem = unusable(response)
        if problem is not None:
            raise problem
        return document
    reason = accept(response, document)
    if reason is not None:
        raise ProviderError("invalid_output", reason)
    return document


async def _one_call(provider: Provider, request: ModelRequest) -> ModelResponse:
    try:
        return await asyncio.wait_for(provider.complete(request), timeout=request.timeout)
    except TimeoutError:
        raise ProviderError(
            "timeout", f"no answer within {request.timeout:g}s", unknown_outcome=True
        ) from None


def _final_message(attempt: Attempt, error: ProviderError, attempts: int) -> str:
    tries = f" (after {attempts} attempts)" if attempts > 1 else ""
    return f"{attempt.error or error.describe()}{tries}"


async def _notify(hook: AttemptHook | None, attempt: Attempt) -> None:
    if hook is None:
        return
    result = hook(attempt)
    if asyncio.iscoroutine(result):
        await result


def _notify_now(hook: AttemptHook | None, attempt: Attempt) -> None:
    """Report an attempt while being cancelled: a hook that would wait is not awaited."""
    if hook is None:
        return
    result = hook(attempt)
    if asyncio.iscoroutine(result):
        result.close()

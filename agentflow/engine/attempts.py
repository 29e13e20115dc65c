"""One task's attempts: call, check the answer, back off, try again, until done or out of tries."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agentflow.engine.context import RunContext
from agentflow.engine.results import Attempt
from agentflow.engine.retry import RetryPolicy
from agentflow.prices import PriceTable, Usage
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


async def run_attempts(
    ctx: RunContext,
    request: ModelRequest,
    *,
    policy: RetryPolicy,
    on_attempt: AttemptHook | None = None,
    may_retry: Callable[[], bool] | None = None,
    accept: Judge | None = None,
    first_number: int = 1,
) -> Outcome:
    """Attempts on one model. `accept` judges an answer; `may_retry` says whether the
    budget still covers another try; `first_number` numbers attempts across the models of
    an escalate chain."""
    provider, limiter, prices = ctx.provider, ctx.limiter, ctx.prices
    await ctx.gate.ready()  # before the first attempt's clock
    attempts: list[Attempt] = []
    tries = 0
    while True:
        tries += 1
        number = first_number + tries - 1
        started = time.time()
        response: ModelResponse | None = None
        document: Any = None
        try:
            async with limiter.slot():
                response = await _one_call(provider, request)
            # A turn that calls tools is not the answer yet: the schema judges the last one.
            if request.output_schema is not None and response.stop_reason != "tool_use":
                document = parse_structured(response.text, request.output_schema)
            problem = accept(response, document) if accept is not None else None
            if problem is not None:
                raise ProviderError("invalid_output", problem)
        except ProviderError as error:
            usage = error.usage or (response.usage if response else Usage())
            attempt = _attempt(number, request, started, usage, prices, error)
            attempts.append(attempt)
            await _notify(on_attempt, attempt)
            if error.kind in ("rate_limit", "overloaded"):
                limiter.on_throttle()
            if not policy.should_retry(tries, error):
                return Outcome(
                    False,
                    tuple(attempts),
                    error=_final_message(error, tries),
                    error_kind=error.kind,
                )
            if may_retry is not None and not may_retry():
                message = f"{_final_message(error, tries)}; no retry: the budget cannot cover it"
                return Outcome(False, tuple(attempts), error=message, error_kind=error.kind)
            await asyncio.sleep(policy.delay(tries, error, ctx.rng))
            continue
        attempt = _attempt(number, request, started, response.usage, prices, None)
        attempts.append(attempt)
        await _notify(on_attempt, attempt)
        await limiter.on_success()
        return Outcome(
            True, tuple(attempts), text=response.text, document=document, response=response
        )


async def _one_call(provider: Provider, request: ModelRequest) -> ModelResponse:
    try:
        return await asyncio.wait_for(provider.complete(request), timeout=request.timeout)
    except TimeoutError:
        raise ProviderError("timeout", f"no answer within {request.timeout:g}s") from None


def _attempt(
    number: int,
    request: ModelRequest,
    started: float,
    usage: Usage,
    prices: PriceTable,
    error: ProviderError | None,
) -> Attempt:
    return Attempt(
        number=number,
        model=request.model,
        started_at=started,
        ended_at=time.time(),
        ok=error is None,
        usage=usage,
        cost_usd=prices.cost(request.model, usage),
        error=error.describe() if error else None,
        error_kind=error.kind if error else None,
        status_code=error.status if error else None,
        prompt_cache_saved_usd=(
            prices.uncached_cost(request.model, usage) - prices.cost(request.model, usage)
        ),
    )


def _final_message(error: ProviderError, attempts: int) -> str:
    tries = f" (after {attempts} attempts)" if attempts > 1 else ""
    return f"{error.describe()}{tries}"


async def _notify(hook: AttemptHook | None, attempt: Attempt) -> None:
    if hook is None:
        return
    result = hook(attempt)
    if asyncio.iscoroutine(result):
        await result

"""What every part of a run shares: the plan, the provider, the prices, the options, and the
run's services (budget ledger, limiter, response cache, task progress, what tasks share).

One frozen object, handed to each part instead of long constructors; the services inside
it keep their own state.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass

from agentflow.engine.cache import ResponseCache
from agentflow.engine.collaboration import Collaboration
from agentflow.engine.ledger import ZERO, BudgetLedger, Cost
from agentflow.engine.limiter import AdaptiveLimiter
from agentflow.engine.progress import Progress
from agentflow.engine.results import PriorOutput
from agentflow.engine.scheduler import ScheduleMode
from agentflow.plan.model import Plan
from agentflow.prices import PriceTable
from agentflow.providers.base import ModelRequest, Provider
from agentflow.tokens import bound_conversation_tokens, bound_request_tokens, fewer_tokens_than


@dataclass(frozen=True)
class RunOptions:
    """How to run a plan (the `run` command's flags; None: the plan's or the task's own)."""

    concurrency: int | None = None  # tasks in flight at most; None: the workflow's
    schedule: ScheduleMode = "dynamic"
    fail_fast: bool = False
    timeout: float | None = None  # overrides every task's
    retries: int | None = None  # overrides every task's
    retry_base_delay: float = 1.0
    seed: int | None = None  # for backoff jitter; None = random
    prompt_cache: bool = True
    exact_count: bool = False  # ask the provider to count input tokens before reserving
    tool_timeout: float = 60.0  # seconds one tool call may take (ask_agent: `ask.timeout`)


class ProviderGate:
    """The provider's warm-up (loading an SDK), once per run, awaited before the first
    request; shielded, so one task cancelled does not cancel it for the others. A run that
    sends no request never opens it."""

    def __init__(self, provider: Provider) -> None:
        self._provider = provider
        self._ready: asyncio.Future[None] | None = None

    def prefetch(self) -> None:
        """A request will be sent soon: let the provider start loading in the background."""
        if self._ready is None:
            self._provider.prefetch()

    async def ready(self) -> None:
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._provider.warm_up())
        await asyncio.shield(self._ready)


@dataclass(frozen=True)
class RunContext:
    plan: Plan
    provider: Provider
    prices: PriceTable
    options: RunOptions
    ledger: BudgetLedger
    limiter: AdaptiveLimiter
    progress: Progress
    collab: Collaboration
    rng: random.Random
    gate: ProviderGate
    cache: ResponseCache  # ResponseCache.off() with --no-cache
    prior: Mapping[str, PriorOutput] | None = None  # an earlier run's outputs, for --resume

    def attempts(self, task_id: str) -> int:
        """Attempts per model (and per turn) of a task: 1 + retries."""
        retries = self.options.retries
        return (retries + 1) if retries is not None else self.plan.tasks[task_id].attempts

    def timeout(self, task_id: str) -> float:
        return self.options.timeout or self.plan.tasks[task_id].timeout

    def worst_attempt(
        self, request: ModelRequest, input_tokens: int | None = None, models: tuple[str, ...] = ()
    ) -> Cost:
        """What one attempt reserves against the cap: `attempt_bound`, or nothing when
        there is no cap."""
        if not self.ledger.limited:
            return ZERO
        return self.attempt_bound(request, input_tokens, models)

    def attempt_bound(
        self, request: ModelRequest, input_tokens: int | None = None, models: tuple[str, ...] = ()
    ) -> Cost:
        """The most one attempt can be billed; with `models` (an escalate chain), one
        attempt on each. Input is the API's own count when known (`input_tokens`), else
        bounded by the request's bytes; output is `max_tokens`; each input token at the
        dearest rate it can be billed."""
        tokens_in = self.input_bound(request) if input_tokens is None else input_tokens
        usd = 0.0
        for model in models or (request.model,):
            usd += tokens_in * self.prices.worst_input_rate(model)
            usd += request.max_tokens * self.prices.price(model).output / 1_000_000
        return Cost(usd, (tokens_in + request.max_tokens) * max(1, len(models)))

    @staticmethod
    def input_bound(request: ModelRequest) -> int:
        """An upper bound on the request's input tokens, whatever its text."""
        tokens = bound_request_tokens(request.system, [request.prompt])
        if request.history or request.tools:
            tokens += bound_conversation_tokens(request.history, request.tools)
        return tokens

    def worth_caching(self, model: str, system: str) -> bool:
        """A breakpoint after the system prompt pays once it reaches the model's minimum
        cacheable length: shorter prefixes are never cached by the API."""
        if not self.options.prompt_cache or not system:
            return False
        return not fewer_tokens_than(system, self.prices.price(model).min_cache_tokens)

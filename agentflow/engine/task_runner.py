"""One admitted task, from request to answer: an exact count if asked, the classifier's
tier, then attempts on each model of its escalate chain until an answer passes its checks."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from agentflow.engine.admission import Admission, Decision
from agentflow.engine.attempts import Outcome, run_attempts
from agentflow.engine.cache import request_hash
from agentflow.engine.collaboration import (
    Collaboration,
    Desk,
    DeskSettings,
    TaskTurns,
    field_examples,
)
from agentflow.engine.conversation import Conversation, TurnSettings
from agentflow.engine.ledger import Cost, Reservation
from agentflow.engine.limiter import AdaptiveLimiter
from agentflow.engine.results import Attempt, TaskResult
from agentflow.engine.retry import RetryPolicy
from agentflow.plan import Plan
from agentflow.prices import PriceTable
from agentflow.providers.base import ModelRequest, ModelResponse, Provider, ProviderError
from agentflow.routing.checks import answer_problem
from agentflow.routing.classifier import CLASSIFY_RETRIES
from agentflow.routing.tools import subscriptions
from agentflow.tokens import estimate_request_tokens
from agentflow.tools.base import ToolContext


class TaskRunner:
    def __init__(
        self,
        plan: Plan,
        provider: Provider,
        prices: PriceTable,
        admission: Admission,
        limiter: AdaptiveLimiter,
        rng: random.Random,
        retry_base_delay: float,
        exact_count: bool,
        listener: Callable[[TaskResult], None],
        collab: Collaboration | None = None,
    ) -> None:
        self.collab = collab
        self.plan, self.provider, self.prices = plan, provider, prices
        self.admission, self.budget, self.limiter, self.rng = (
            admission,
            admission.budget,
            limiter,
            rng,
        )
        self.retry_base_delay, self.exact_count, self.listener = (
            retry_base_delay,
            exact_count,
            listener,
        )

    async def run(
        self,
        task: TaskResult,
        decision: Decision,
        on_first_answer: Callable[[], None] | None = None,
    ) -> None:
        """Answer one admitted task: sets its status, output, attempts and model."""
        assert decision.request is not None and decision.reservation is not None
        request, reservation = decision.request, decision.reservation
        task.status, task.started_at = "running", time.time()
        self.listener(task)
        tokens_in: int | None = None
        if self.exact_count:
            tokens_in = await self._exact_count(request, decision)
            if tokens_in is None:
                task.status, task.ended_at = "budget", time.time()
                task.error = "budget: the exact input count no longer fits"
                return

        def on_attempt(attempt: Attempt, charged_to: Reservation | None = None) -> None:
            self._charge(task, charged_to or reservation, attempt)
            if on_first_answer is not None:
                on_first_answer()

        chain = decision.chain or (request.model,)
        asking = self.admission.classify_request(task.id, request)
        if asking is not None:
            model = await self._classify(task, request, asking, decision, tokens_in)
            if model is None:
                task.status, task.ended_at = "budget", time.time()
                task.error = "budget: the classified tier's model no longer fits"
                return
            request, chain = replace(request, model=model), (model,)

        spec = self.plan.workflow.tasks[task.id]
        gated = spec.checks is not None or len(chain) > 1

        def accept(response: ModelResponse, document: Any) -> str | None:
            return answer_problem(response.text, response.stop_reason, spec.checks, document)

        outcome = None
        for step, model in enumerate(chain):
            last = step == len(chain) - 1
            attempt_request = replace(request, model=model)
            worst = self.admission.worst_attempt(attempt_request, tokens_in)
            policy = RetryPolicy(
                retries=decision.attempts - 1,
                base_delay=self.retry_base_delay,
                retry_invalid_output=last,
            )
            task.model = model
            if self.plan.tasks[task.id].tools:
                # A failed check moves up the chain; the next model's turns are reserved
                # turn by turn, so the budget is checked there.
                outcome = await self._converse(
                    task, attempt_request, decision, accept if gated else None, on_attempt
                )
                if outcome.ok or outcome.error_kind != "invalid_output" or last:
                    break
                continue
            outcome = await run_attempts(
                self.provider,
                attempt_request,
                policy,
                self.limiter,
                self.prices,
                self.rng,
                on_attempt=on_attempt,
                may_retry=lambda worst=worst: self.budget.covers(reservation, worst),
                accept=accept if gated else None,
                first_number=len(task.attempts) + 1,
            )
            if outcome.ok or outcome.error_kind != "invalid_output" or last:
                break
            if not self.budget.covers(
                reservation,
                self.admission.worst_attempt(replace(request, model=chain[step + 1]), tokens_in),
            ):
                break
        assert outcome is not None
        task.ended_at = time.time()
        if not outcome.ok:
            task.status = "budget" if outcome.error_kind == "budget" else "failed"
            task.error = outcome.error
            return
        task.status, task.output, task.document = "succeeded", outcome.text, outcome.document
        task.source = "api"
        if self.plan.tasks[task.id].tools:
            # Answered turn by turn (each turn is cached on its own).
            if not any(a.ok for a in task.attempts):
                task.status, task.source = "cached", "cache"
            return
        if self.admission.cache is not None and task.request_hash is not None:
            self.admission.cache.put(
                task.request_hash,
                task.output or "",
                task.document,
                task.model,
                task.attempts[-1].usage,
            )

    def _charge(self, task: TaskResult, reservation: Reservation, attempt: Attempt) -> None:
        self.budget.charge(reservation, Cost(attempt.cost_usd, attempt.usage.total_tokens))
        # Numbered here: sub-calls run side by side, so numbers cannot be handed out ahead.
        task.attempts.append(replace(attempt, number=len(task.attempts) + 1))
        self.listener(task)

    async def _converse(
        self,
        task: TaskResult,
        request: ModelRequest,
        decision: Decision,
        accept: Callable[[ModelResponse, Any], str | None] | None,
        on_attempt: Callable[[Attempt, Reservation | None], None],
    ) -> Outcome:
        """A task that has tools: the tool-use loop, with its sub-calls charged to it.
        `on_attempt` hears each attempt after it is charged (a prompt-cache warm-up ends)."""
        assert self.collab is not None and decision.reservation is not None
        planned, spec = self.plan.tasks[task.id], self.plan.workflow.tasks[task.id]
        conversation = Conversation(
            self.provider,
            self.prices,
            self.limiter,
            self.rng,
            self.admission.cache,
            self.admission.worst_attempt,
            lambda reservation, attempt: on_attempt(attempt, reservation),
        )
        settings = self.admission.settings
        desk = Desk(
            self.collab,
            conversation,
            self.prices,
            self.budget,
            DeskSettings(
                decision.attempts,
                self.retry_base_delay,
                settings.prompt_cache,
                self.admission.worth_caching,
            ),
            task.id,
            request,
        )
        state_keys, topics = subscriptions(spec)
        reads = [*spec.waits_for, *state_keys]
        collab = self.collab
        collab.state.subscribe(task.id, state_keys)
        collab.bus.subscribe(task.id, topics)

        def notes() -> list[str]:
            return collab.state.take_notes(task.id) + collab.bus.take_notes(task.id)

        talk = await conversation.run(
            request,
            TurnSettings(
                tools=desk.tools(planned.tools, field_examples(collab, spec.sets, reads)),
                max_turns=planned.max_turns,
                attempts=decision.attempts,
                retry_base_delay=self.retry_base_delay,
                prompt_cache=settings.prompt_cache,
                accept=accept,
                notes=notes,
            ),
            TaskTurns(self.budget, decision.reservation),
            ToolContext(task.id, planned.agent, collab.log, 0, task.id),
        )
        task.turns += talk.turns
        task.tool_calls += talk.tool_calls
        task.saved_usage = task.saved_usage + talk.saved_usage
        task.saved_usd += talk.saved_usd
        assert talk.outcome is not None
        return talk.outcome

    async def _classify(
        self,
        task: TaskResult,
        request: ModelRequest,
        asking: ModelRequest,
        decision: Decision,
        tokens_in: int | None,
    ) -> str | None:
        """The model of the tier the classifier names (the offline tier if it cannot say);
        None when that model's worst case no longer fits the reservation."""
        assert decision.reservation is not None
        reservation, cache = decision.reservation, self.admission.cache
        key = request_hash(self.provider.name, asking)
        hit = cache.get(key) if cache is not None else None
        tier = hit.document.get("tier") if hit and isinstance(hit.document, dict) else None
        if hit is None:
            outcome = await run_attempts(
                self.provider,
                asking,
                RetryPolicy(CLASSIFY_RETRIES, base_delay=self.retry_base_delay),
                self.limiter,
                self.prices,
                self.rng,
                on_attempt=lambda a: self._charge(
                    task, reservation, replace(a, purpose="classify")
                ),
                first_number=len(task.attempts) + 1,
            )
            if outcome.ok and isinstance(outcome.document, dict):
                tier = outcome.document.get("tier")
                if cache is not None:
                    cache.put(
                        key,
                        outcome.text or "",
                        outcome.document,
                        asking.model,
                        task.attempts[-1].usage,
                    )
        planned = self.plan.tasks[task.id]
        tier = tier if tier in self.plan.workflow.routing.tiers else planned.tier
        model = self.prices.resolve(self.plan.workflow.routing.tiers[tier or "standard"])
        task.model = model
        worst = self.admission.worst_attempt(replace(request, model=model), tokens_in)
        total = Cost(worst.usd * decision.attempts, worst.tokens * decision.attempts)
        return model if self.budget.resize(reservation, total) else None

    async def _exact_count(self, request: ModelRequest, decision: Decision) -> int | None:
        """The provider's own input count, with the reservation resized to it; None when
        it no longer fits. A provider that cannot count keeps the (over-)estimate."""
        try:
            counted = await self.provider.count_tokens(request)
        except (ProviderError, AttributeError, NotImplementedError):
            return estimate_request_tokens(request.system, [request.prompt])
        worst = self.admission.worst_attempt(request, counted, models=decision.chain)
        total = Cost(worst.usd * decision.attempts, worst.tokens * decision.attempts)
        assert decision.reservation is not None
        return counted if self.budget.resize(decision.reservation, total) else None

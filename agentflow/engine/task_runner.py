"""One admitted task, from request to answer: an exact count if asked, the classifier's
tier, then attempts on each model of its escalate chain until an answer passes its checks
(a task with tools converses instead of making one call)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from agentflow.engine.admission import Admission, Decision
from agentflow.engine.attempts import Judge, Outcome, cacheable, run_attempts
from agentflow.engine.cache import CachedAnswer, request_hash
from agentflow.engine.context import RunContext
from agentflow.engine.conversation import Conversation, TurnSettings
from agentflow.engine.ledger import Cost, Reservation
from agentflow.engine.results import Answer, Attempt, TaskResult
from agentflow.engine.retry import RetryPolicy
from agentflow.engine.toolbox import TaskToolbox, TaskTurnBudget
from agentflow.providers.base import ModelRequest, ModelResponse, ProviderError
from agentflow.routing.checks import answer_problem
from agentflow.routing.classifier import CLASSIFY_RETRIES
from agentflow.tools.base import ToolContext


@dataclass(frozen=True)
class _Job:
    """One started task: its request and reservation, and who hears of each attempt."""

    task: TaskResult
    request: ModelRequest
    reservation: Reservation
    on_first_answer: Callable[[], None] | None
    tokens_in: int | None = None  # the exact input count, with --exact-count


class TaskRunner:
    def __init__(self, ctx: RunContext, admission: Admission) -> None:
        self.ctx, self.admission = ctx, admission

    async def run(
        self,
        task: TaskResult,
        decision: Decision,
        on_first_answer: Callable[[], None] | None = None,
    ) -> None:
        """Answer one admitted task: its status, output, attempts and model."""
        assert decision.request is not None and decision.reservation is not None
        self.ctx.progress.set_status(task, "running")
        job = _Job(task, decision.request, decision.reservation, on_first_answer)
        if self.ctx.options.exact_count:
            fits, counted = await self._exact_count(job)
            if not fits:
                self._over_budget(task, "budget: the exact input count no longer fits")
                return
            job = replace(job, tokens_in=counted)
        chain = self.ctx.plan.tasks[task.id].escalate or (job.request.model,)
        asking = self.admission.classify_request(task.id, job.request)
        if asking is not None:
            model = await self._classify(job, asking)
            if model is None:
                self._over_budget(task, "budget: the classified tier's model no longer fits")
                return
            job, chain = replace(job, request=replace(job.request, model=model)), (model,)
        self._finish(job, decision, await self._answer(job, chain))

    def _over_budget(self, task: TaskResult, why: str) -> None:
        self.ctx.progress.set_status(task, "budget", error=why)

    def _on_attempt(self, job: _Job, attempt: Attempt, charged_to: Reservation | None) -> None:
        self._charge(job.task, charged_to or job.reservation, attempt)
        if job.on_first_answer is not None:
            job.on_first_answer()

    def _charge(self, task: TaskResult, reservation: Reservation, attempt: Attempt) -> None:
        self.ctx.ledger.charge(reservation, Cost(attempt.cost_usd, attempt.usage.total_tokens))
        self.ctx.progress.attempted(task, attempt)

    async def _answer(self, job: _Job, chain: tuple[str, ...]) -> Outcome:
        """Up the chain until a model's answer passes (or fails for another reason)."""
        ctx, task = self.ctx, job.task
        planned = ctx.plan.tasks[task.id]
        gated = planned.checks is not None or len(chain) > 1

        def accept(response: ModelResponse, document: Any) -> str | None:
            return answer_problem(response.text, response.stop_reason, planned.checks, document)

        judge = accept if gated else None
        outcome: Outcome | None = None
        for step, model in enumerate(chain):
            last = step == len(chain) - 1
            ctx.progress.model_chosen(task, model)
            request = replace(job.request, model=model)
            if planned.tools:
                # The next model's turns are reserved turn by turn, so the budget is
                # checked there.
                outcome = await self._converse(job, request, judge)
            else:
                outcome = await self._call(job, request, judge, last)
            if outcome.ok or outcome.error_kind != "invalid_output" or last:
                break
            if not planned.tools and not self._next_fits(job, chain[step + 1]):
                break
        assert outcome is not None
        return outcome

    async def _call(
        self, job: _Job, request: ModelRequest, judge: Judge | None, last: bool
    ) -> Outcome:
        ctx = self.ctx
        worst = ctx.worst_attempt(request, job.tokens_in)
        return await run_attempts(
            ctx,
            request,
            policy=RetryPolicy(
                retries=ctx.attempts(job.task.id) - 1,
                base_delay=ctx.options.retry_base_delay,
                retry_invalid_output=last,
            ),
            on_attempt=lambda attempt: self._on_attempt(job, attempt, None),
            may_retry=lambda: job.reservation.held.covers(worst),
            accept=judge,
            first_number=len(job.task.attempts) + 1,
            input_tokens=job.tokens_in,
        )

    def _next_fits(self, job: _Job, model: str) -> bool:
        worst = self.ctx.worst_attempt(replace(job.request, model=model), job.tokens_in)
        return job.reservation.held.covers(worst)

    def _finish(self, job: _Job, decision: Decision, outcome: Outcome) -> None:
        ctx, task = self.ctx, job.task
        if not outcome.ok:
            status = "budget" if outcome.error_kind == "budget" else "failed"
            ctx.progress.set_status(task, status, error=outcome.error)
            return
        output = outcome.text or ""
        response = outcome.response
        truncated = response is not None and response.stop_reason == "max_tokens"
        if ctx.plan.tasks[task.id].tools:
            # Answered turn by turn (each turn is cached on its own): from the cache only
            # when no turn was asked of the API.
            from_cache = not any(a.ok for a in task.attempts)
            source = "cache" if from_cache else "api"
            answer = Answer(output, outcome.document, source, truncated=truncated)
            ctx.progress.set_status(task, "cached" if from_cache else "succeeded", answer=answer)
            return
        answer = Answer(output, outcome.document, truncated=truncated)
        ctx.progress.set_status(task, "succeeded", answer=answer)
        if decision.key is not None and response is not None and cacheable(response):
            usage = response.usage
            ctx.cache.store(decision.key, CachedAnswer(output, outcome.document, task.model, usage))

    async def _converse(self, job: _Job, request: ModelRequest, judge: Judge | None) -> Outcome:
        """A task that has tools: the tool-use loop, with its sub-calls charged to it."""
        ctx, task = self.ctx, job.task
        planned, collab = ctx.plan.tasks[task.id], ctx.collab
        conversation = Conversation(
            ctx, charge=lambda reservation, attempt: self._on_attempt(job, attempt, reservation)
        )
        toolbox = TaskToolbox(ctx, conversation, task_id=task.id, base=request)
        collab.state.subscribe(task.id, planned.subscribed_keys)
        collab.bus.subscribe(task.id, planned.subscribed_topics)
        reads = [*planned.waits_for, *planned.subscribed_keys]
        talk = await conversation.run(
            request,
            TurnSettings(
                tools=toolbox.tools(planned.tools, collab.field_examples(planned.sets, reads)),
                max_turns=planned.max_turns,
                attempts=ctx.attempts(task.id),
                accept=judge,
                notes=lambda: collab.notes(task.id),
                tool_timeout=ctx.options.tool_timeout,
            ),
            TaskTurnBudget(ctx.ledger, job.reservation),
            ToolContext(task.id, planned.agent, collab.log, 0, task.id),
        )
        ctx.progress.conversed(
            task,
            turns=talk.turns,
            tool_calls=talk.tool_calls,
            saved=talk.saved_usage,
            saved_usd=talk.saved_usd,
        )
        assert talk.outcome is not None
        return talk.outcome

    async def _classify(self, job: _Job, asking: ModelRequest) -> str | None:
        """The model of the tier the classifier names (the offline tier if it cannot say);
        None when that model's worst case no longer fits the reservation."""
        ctx, task = self.ctx, job.task
        key = request_hash(ctx.provider.name, asking)
        hit = ctx.cache.lookup(key)
        tier = hit.document.get("tier") if hit and isinstance(hit.document, dict) else None
        if hit is None:
            outcome = await run_attempts(
                ctx,
                asking,
                policy=RetryPolicy(CLASSIFY_RETRIES, base_delay=ctx.options.retry_base_delay),
                on_attempt=lambda a: self._charge(
                    task, job.reservation, replace(a, purpose="classify")
                ),
                first_number=len(task.attempts) + 1,
            )
            if outcome.ok and isinstance(outcome.document, dict) and outcome.response is not None:
                tier = outcome.document.get("tier")
                if cacheable(outcome.response):
                    answer = CachedAnswer.of(outcome.response, outcome.document, model=asking.model)
                    ctx.cache.store(key, answer)
        tiers = ctx.plan.routing.tiers
        tier = tier if tier in tiers else ctx.plan.tasks[task.id].tier
        model = ctx.prices.resolve(tiers[tier or "standard"])
        ctx.progress.model_chosen(task, model)
        worst = ctx.worst_attempt(replace(job.request, model=model), job.tokens_in)
        return model if ctx.ledger.resize(job.reservation, worst * ctx.attempts(task.id)) else None

    async def _exact_count(self, job: _Job) -> tuple[bool, int | None]:
        """The provider's own input count, with the reservation resized to it (False when
        it no longer fits). A provider that cannot count keeps the byte bound (None)."""
        ctx, request = self.ctx, job.request
        await ctx.gate.ready()
        try:
            counted = await ctx.provider.count_tokens(request)
        except (ProviderError, AttributeError, NotImplementedError):
            return True, None
        chain = ctx.plan.tasks[job.task.id].escalate
        worst = ctx.worst_attempt(request, counted, models=chain)
        return ctx.ledger.resize(job.reservation, worst * ctx.attempts(job.task.id)), counted

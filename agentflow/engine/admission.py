"""Whether a ready task may start, and how: answered from a cache, held back, or sent.

Everything here is synchronous and fast, so the scheduler can decide for many ready tasks
between two awaits: render the request, look it up (an earlier run's output when resuming,
then the response cache), wait for a shared prompt prefix to be cached by its first user,
and reserve the task's worst case against the budget. Admission decides; the scheduler
(agentflow.engine.run) acts on the decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agentflow.engine.cache import request_hash
from agentflow.engine.context import RunContext
from agentflow.engine.ledger import Reservation
from agentflow.engine.results import Answer
from agentflow.providers.base import ModelRequest
from agentflow.routing.classifier import CLASSIFY_RETRIES, classifier_request
from agentflow.spec.templates import RenderContext, render_template

DecisionKind = Literal["start", "answered", "wait_budget", "wait_warm", "over_budget"]


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    key: str | None = None  # the request's hash (its cache key, and what --resume matches)
    request: ModelRequest | None = None
    reservation: Reservation | None = None
    prefix: str | None = None  # the prompt-cache prefix this task shares, if any
    answer: Answer | None = None  # for "answered"
    reason: str = ""  # for "over_budget"


class Admission:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.warm: set[str] = set()  # prefixes whose first request has been answered
        self.warming: set[str] = set()  # prefixes whose first request is in flight

    def request(
        self, tid: str, outputs: Mapping[str, str], documents: Mapping[str, Any]
    ) -> ModelRequest:
        task = self.ctx.plan.tasks[tid]
        return ModelRequest(
            task_id=tid,
            model=task.model,
            system=task.system,
            prompt=render_template(task.prompt, self._context(outputs, documents)),
            max_tokens=task.max_tokens,
            timeout=self.ctx.timeout(tid),
            output_schema=task.output_schema,
            cache_system=self.ctx.worth_caching(task.model, task.system),
        )

    def _context(self, outputs: Mapping[str, str], documents: Mapping[str, Any]) -> RenderContext:
        collab = self.ctx.collab
        return RenderContext(
            self.ctx.plan.inputs,
            outputs,
            documents,
            state=collab.state.values(),
            messages=collab.bus.rendered(),
        )

    def admit(self, tid: str, outputs: Mapping[str, str], documents: Mapping[str, Any]) -> Decision:
        ctx, task = self.ctx, self.ctx.plan.tasks[tid]
        request = self.request(tid, outputs, documents)
        variant = task.escalate or ((f"classifier:{task.classifier}",) if task.classifier else ())
        key = request_hash(ctx.provider.name, request, escalate=variant)
        # A task with tools is never answered whole: its tools must run again (they set
        # state, notify, read files), and its turns are answered from the cache one by one.
        answer = None if task.tools else (self._from_prior(tid, key) or self._from_cache(key))
        if answer is not None:
            return Decision("answered", key, answer=answer)
        if not task.tools:  # it will send a request (a loop's turns may all be cached)
            ctx.gate.prefetch()
        prefix = _prefix_key(request) if request.cache_system else None
        if prefix is not None and prefix not in self.warm and prefix in self.warming:
            return Decision("wait_warm", key, prefix=prefix)
        total = ctx.worst_attempt(request, models=task.escalate) * ctx.attempts(tid)
        asking = self.classify_request(tid, request)
        if asking is not None:
            total += ctx.worst_attempt(asking) * (CLASSIFY_RETRIES + 1)
        reservation = ctx.ledger.reserve(tid, total)
        if reservation is None and ctx.ledger.overran is not None:
            return Decision("over_budget", key, reason=ctx.ledger.overran)
        if reservation is None:
            if ctx.ledger.fits(total, counting_reserved=False):
                return Decision("wait_budget", key)  # in-flight reservations may yet be released
            return Decision("over_budget", key, reason=ctx.ledger.shortfall(total))
        if prefix is not None and prefix not in self.warm:
            self.warming.add(prefix)
        return Decision("start", key, request, reservation, prefix)

    def classify_request(self, tid: str, request: ModelRequest) -> ModelRequest | None:
        """The question to routing.classifier when it decides this task's tier."""
        task = self.ctx.plan.tasks[tid]
        if task.classifier is None:
            return None
        return classifier_request(
            tid, request.prompt, task.agent_description, task.classifier, request.timeout
        )

    def prefix_warmed(self, prefix: str) -> None:
        self.warming.discard(prefix)
        self.warm.add(prefix)

    def _from_prior(self, tid: str, key: str) -> Answer | None:
        prior = (self.ctx.prior or {}).get(tid)
        if prior is None or prior.request_hash != key:
            return None
        saved = prior.usage, prior.cost_usd  # what asking again would have cost
        return Answer(prior.output, prior.document, "resume", *saved, model=prior.model)

    def _from_cache(self, key: str) -> Answer | None:
        ctx = self.ctx
        hit = ctx.cache.lookup(key)
        if hit is None:
            return None
        saved = ctx.prices.cost(hit.model, hit.usage) if ctx.prices.knows(hit.model) else 0.0
        return Answer(hit.text, hit.document, "cache", hit.usage, saved, model=hit.model)


def _prefix_key(request: ModelRequest) -> str:
    return f"{request.model}\x00{request.system}"

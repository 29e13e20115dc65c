"""Whether a ready task may start, and how: answered from a cache, held back, or sent.

Everything here is synchronous and fast, so the scheduler can decide for many ready tasks
between two awaits: render the request, look it up (an earlier run's output when resuming,
then the response cache), wait for a shared prompt prefix to be cached by its first user,
and reserve the task's worst case against the budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from agentflow.engine.cache import ResponseCache, request_hash
from agentflow.engine.collaboration import Collaboration
from agentflow.engine.ledger import Budget, Cost, Reservation
from agentflow.engine.results import PriorOutput, TaskResult
from agentflow.plan import Plan
from agentflow.prices import PriceTable
from agentflow.providers.base import ModelRequest
from agentflow.routing.classifier import CLASSIFY_RETRIES, classifier_request
from agentflow.spec.agents import AgentCatalog
from agentflow.spec.templates import RenderContext, render_template
from agentflow.tokens import conversation_tokens, estimate_request_tokens, raw_token_count

DecisionKind = Literal["start", "answered", "wait_budget", "wait_warm", "over_budget"]


@dataclass(frozen=True)
class Decision:
    kind: DecisionKind
    request: ModelRequest | None = None
    attempts: int = 1
    worst_attempt: Cost = Cost(0.0, 0)
    reservation: Reservation | None = None
    prefix: str | None = None  # the prompt-cache prefix this task shares, if any
    reason: str = ""
    chain: tuple[str, ...] = ()  # an escalate chain (resolved ids), request.model first


@dataclass(frozen=True)
class AdmissionSettings:
    provider: str
    timeout: float | None  # overrides every task's
    retries: int | None  # overrides every task's
    prompt_cache: bool = True
    prior: Mapping[str, PriorOutput] | None = None  # by task id, when resuming


class Admission:
    def __init__(
        self,
        plan: Plan,
        catalog: AgentCatalog,
        prices: PriceTable,
        budget: Budget,
        cache: ResponseCache | None,
        settings: AdmissionSettings,
        collab: Collaboration | None = None,
    ) -> None:
        self.plan, self.catalog, self.prices = plan, catalog, prices
        self.collab = collab
        self.budget, self.cache, self.settings = budget, cache, settings
        self.warm: set[str] = set()  # prefixes whose first request has been answered
        self.warming: set[str] = set()  # prefixes whose first request is in flight

    def request(
        self, tid: str, outputs: Mapping[str, str], documents: Mapping[str, Any]
    ) -> ModelRequest:
        planned = self.plan.tasks[tid]
        spec = self.plan.workflow.tasks[tid]
        agent = self.catalog.agents.get(planned.agent) if planned.agent else None
        system = agent.system_prompt if agent else ""
        return ModelRequest(
            task_id=tid,
            model=planned.model,
            system=system,
            prompt=render_template(spec.prompt, self._context(outputs, documents)),
            max_tokens=planned.max_output_tokens,
            timeout=self.settings.timeout or planned.timeout,
            output_schema=spec.output_schema,
            cache_system=self.worth_caching(planned.model, system),
        )

    def _context(self, outputs: Mapping[str, str], documents: Mapping[str, Any]) -> RenderContext:
        if self.collab is None:
            return RenderContext(self.plan.inputs, outputs, documents)
        return RenderContext(
            self.plan.inputs,
            outputs,
            documents,
            state=self.collab.state.values(),
            messages=self.collab.bus.rendered(),
        )

    def worth_caching(self, model: str, system: str) -> bool:
        """A breakpoint after the system prompt pays once it reaches the model's minimum
        cacheable length: shorter prefixes are never cached by the API."""
        if not self.settings.prompt_cache or not system:
            return False
        return raw_token_count(system) >= self.prices.price(model).min_cache_tokens

    def worst_attempt(
        self, request: ModelRequest, input_tokens: int | None = None, models: tuple[str, ...] = ()
    ) -> Cost:
        """One attempt's worst case; with `models` (an escalate chain), one attempt on each."""
        tokens_in = input_tokens
        if tokens_in is None:
            tokens_in = estimate_request_tokens(request.system, [request.prompt])
            if request.history or request.tools:
                tokens_in += conversation_tokens(request.history, request.tools)
        usd = 0.0
        for model in models or (request.model,):
            usd += tokens_in * self.prices.worst_input_rate(model)
            usd += request.max_tokens * self.prices.price(model).output / 1_000_000
        return Cost(usd, (tokens_in + request.max_tokens) * max(1, len(models)))

    def admit(
        self, task: TaskResult, outputs: Mapping[str, str], documents: Mapping[str, Any]
    ) -> Decision:
        request = self.request(task.id, outputs, documents)
        chain = self.plan.tasks[task.id].escalate
        classifier = self.classifier_for(task.id)
        variant = chain or ((f"classifier:{classifier}",) if classifier else ())
        task.request_hash = request_hash(self.settings.provider, request, escalate=variant)
        # A task with tools is never answered whole: its tools must run again (they set
        # state, notify, read files), and its turns are answered from the cache one by one.
        loops = bool(self.plan.tasks[task.id].tools)
        if not loops and (self._answer_from_prior(task) or self._answer_from_cache(task)):
            return Decision("answered")
        prefix = _prefix_key(request) if request.cache_system else None
        if prefix is not None and prefix not in self.warm and prefix in self.warming:
            return Decision("wait_warm", prefix=prefix)
        planned = self.plan.tasks[task.id]
        retries = self.settings.retries
        attempts = (retries + 1) if retries is not None else planned.attempts
        worst = self.worst_attempt(request, models=chain)
        total = Cost(worst.usd * attempts, worst.tokens * attempts)
        asking = self.classify_request(task.id, request)
        if asking is not None:
            asked = self.worst_attempt(asking)
            total = Cost(
                total.usd + asked.usd * (CLASSIFY_RETRIES + 1),
                total.tokens + asked.tokens * (CLASSIFY_RETRIES + 1),
            )
        reservation = self.budget.reserve(task.id, total)
        if reservation is None:
            if self.budget.fits(total, counting_reserved=False):
                return Decision("wait_budget")  # in-flight reservations may yet be released
            return Decision("over_budget", reason=self._over_budget(total))
        if prefix is not None and prefix not in self.warm:
            self.warming.add(prefix)
        return Decision("start", request, attempts, worst, reservation, prefix, chain=chain)

    def classifier_for(self, tid: str) -> str | None:
        """The classifier model (resolved) when routing.classifier decides this task's tier."""
        name = self.plan.workflow.routing.classifier
        if not name or self.plan.tasks[tid].tier is None:
            return None
        return self.prices.resolve(name)

    def classify_request(self, tid: str, request: ModelRequest) -> ModelRequest | None:
        classifier = self.classifier_for(tid)
        if classifier is None:
            return None
        agent = self.catalog.agents.get(self.plan.tasks[tid].agent or "")
        return classifier_request(
            tid, request.prompt, agent.description if agent else "", classifier, request.timeout
        )

    def prefix_warmed(self, prefix: str) -> None:
        self.warming.discard(prefix)
        self.warm.add(prefix)

    def _over_budget(self, total: Cost) -> str:
        left = []
        if self.budget.cap_usd is not None:
            remaining = self.budget.cap_usd - self.budget.spent_usd
            left.append(f"needs up to ${total.usd:.4f}, ${max(remaining, 0):.4f} left")
        if self.budget.cap_tokens is not None:
            remaining_tokens = self.budget.cap_tokens - self.budget.spent_tokens
            left.append(f"needs up to {total.tokens:,} tokens, {max(remaining_tokens, 0):,} left")
        return "budget: " + "; ".join(left)

    def _answer_from_prior(self, task: TaskResult) -> bool:
        prior = (self.settings.prior or {}).get(task.id)
        if prior is None or prior.request_hash != task.request_hash:
            return False
        task.status, task.source = "cached", "resume"
        task.output, task.document = prior.output, prior.document
        return True

    def _answer_from_cache(self, task: TaskResult) -> bool:
        if self.cache is None or task.request_hash is None:
            return False
        hit = self.cache.get(task.request_hash)
        if hit is None:
            return False
        task.status, task.source = "cached", "cache"
        task.output, task.document = hit.text, hit.document
        task.saved_usage = hit.usage
        task.saved_usd = (
            self.prices.cost(hit.model, hit.usage) if self.prices.knows(hit.model) else 0.0
        )
        return True


def _prefix_key(request: ModelRequest) -> str:
    return f"{request.model}\x00{request.system}"

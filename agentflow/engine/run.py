"""The execute stage: run a plan's tasks as their needs finish, within the concurrency limit,
the budget, and without paying twice for an answer."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agentflow.cache import ResponseCache, request_hash
from agentflow.engine.admission import Admission, AdmissionSettings, Decision
from agentflow.engine.attempts import run_attempts
from agentflow.engine.budget import Budget, Cost, Reservation
from agentflow.engine.limiter import AdaptiveLimiter
from agentflow.engine.recorder import Recorder
from agentflow.engine.results import FINISHED_OK, Attempt, PriorOutput, RunResult, TaskResult
from agentflow.engine.retry import RetryPolicy
from agentflow.engine.scheduler import ReadyQueue, ScheduleMode
from agentflow.models import PriceTable
from agentflow.plan import Plan
from agentflow.providers.base import ModelRequest, ModelResponse, Provider, ProviderError
from agentflow.routing.checks import answer_problem
from agentflow.routing.classifier import CLASSIFY_RETRIES
from agentflow.spec.agents import AgentCatalog
from agentflow.tokens import estimate_request_tokens


@dataclass(frozen=True)
class RunOptions:
    concurrency: int
    schedule: ScheduleMode = "dynamic"
    fail_fast: bool = False
    timeout: float | None = None  # overrides every task's
    retries: int | None = None  # overrides every task's
    retry_base_delay: float = 1.0
    seed: int | None = None  # for backoff jitter; None = random
    budget_usd: float | None = None  # the cap in force (the CLI's, else the workflow's)
    budget_tokens: int | None = None
    prompt_cache: bool = True
    exact_count: bool = False  # ask the provider to count input tokens before reserving
    prior: Mapping[str, PriorOutput] | None = None  # an earlier run's outputs, for --resume


class RunControl:
    """How the outside (a signal handler) asks a run to stop."""

    def __init__(self) -> None:
        self.stop_requested = asyncio.Event()

    def request_stop(self) -> None:
        self.stop_requested.set()


Listener = Callable[[TaskResult], None]


class _Run:
    def __init__(
        self,
        plan: Plan,
        provider: Provider,
        prices: PriceTable,
        options: RunOptions,
        admission: Admission,
        recorder: Recorder,
        listener: Listener,
        control: RunControl,
        result: RunResult,
    ) -> None:
        self.plan, self.provider, self.prices, self.options = plan, provider, prices, options
        self.admission, self.budget = admission, admission.budget
        self.recorder, self.listener, self.control, self.result = (
            recorder,
            listener,
            control,
            result,
        )
        self.limiter = AdaptiveLimiter(options.concurrency)
        self.rng = random.Random(options.seed)
        self.outputs: dict[str, str] = {}
        self.documents: dict[str, Any] = {}
        self.queue = ReadyQueue(
            {tid: t.needs for tid, t in plan.tasks.items()},
            {tid: t.remaining_seconds for tid, t in plan.tasks.items()},
            plan.waves,
            options.schedule,
        )
        self.waiting_for_budget: list[str] = []
        self.waiting_for_warmup: dict[str, list[str]] = {}
        self.failed_fast = False
        # Set when a task parked for a prompt-cache warm-up may start: wakes the loop
        # without waiting for some task to finish.
        self.wake = asyncio.Event()

    async def run(self) -> None:
        running: dict[asyncio.Task[None], str] = {}
        stop_wait = asyncio.ensure_future(self.control.stop_requested.wait())
        wake_wait = asyncio.ensure_future(self.wake.wait())
        try:
            while True:
                self._start_ready(running)
                if not running and self.waiting_for_budget:
                    self._requeue(self.waiting_for_budget)  # nothing left to release: decide
                    self._start_ready(running)
                if not running:
                    break
                done, _ = await asyncio.wait(
                    [*running, stop_wait, wake_wait], return_when=asyncio.FIRST_COMPLETED
                )
                for future in done:
                    if future in running:
                        self._finished(running.pop(future))
                if wake_wait.done():
                    self.wake.clear()
                    wake_wait = asyncio.ensure_future(self.wake.wait())
                if self.control.stop_requested.is_set():
                    await self._cancel(running)
                    break
        finally:
            stop_wait.cancel()
            wake_wait.cancel()
        self._cancel_unstarted()

    def _start_ready(self, running: dict[asyncio.Task[None], str]) -> None:
        if self.failed_fast or self.control.stop_requested.is_set():
            return
        while len(running) < self.options.concurrency:
            tid = self.queue.pop()
            if tid is None:
                return
            task = self.result.tasks[tid]
            decision = self.admission.admit(task, self.outputs, self.documents)
            if decision.kind == "answered":
                task.started_at = task.ended_at = time.time()
                self._keep_output(task)
                self._finished(tid)
            elif decision.kind == "wait_budget":
                self.waiting_for_budget.append(tid)
            elif decision.kind == "wait_warm" and decision.prefix is not None:
                self.waiting_for_warmup.setdefault(decision.prefix, []).append(tid)
            elif decision.kind == "over_budget":
                task.status, task.error = "budget", decision.reason
                self._finished(tid)
            else:
                running[asyncio.create_task(self._task(task, decision), name=tid)] = tid

    def _requeue(self, tids: list[str]) -> None:
        for tid in tids:
            self.queue.requeue(tid)
        tids.clear()

    async def _task(self, task: TaskResult, decision: Decision) -> None:
        try:
            await self._attempt_task(task, decision)
        except Exception as exc:  # noqa: BLE001 - one task's bug must not sink the run
            task.status, task.ended_at = "failed", time.time()
            task.error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            if decision.reservation is not None:
                self.budget.release(decision.reservation)
            if decision.prefix is not None:
                self._warmed(decision.prefix)

    async def _attempt_task(self, task: TaskResult, decision: Decision) -> None:
        assert decision.request is not None and decision.reservation is not None
        request, reservation = decision.request, decision.reservation
        task.status, task.started_at = "running", time.time()
        self.listener(task)
        tokens_in: int | None = None
        if self.options.exact_count:
            tokens_in = await self._exact_count(request, decision)
            if tokens_in is None:
                task.status, task.ended_at = "budget", time.time()
                task.error = "budget: the exact input count no longer fits"
                return

        def on_attempt(attempt: Attempt) -> None:
            self._charge(task, reservation, attempt)
            if decision.prefix is not None:
                self._warmed(decision.prefix)

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
                base_delay=self.options.retry_base_delay,
                retry_invalid_output=last,
            )
            task.model = model
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
            task.status, task.error = "failed", outcome.error
            return
        task.status, task.output, task.document = "succeeded", outcome.text, outcome.document
        task.source = "api"
        self._keep_output(task)
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
        task.attempts.append(attempt)
        self.listener(task)

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
                RetryPolicy(CLASSIFY_RETRIES, base_delay=self.options.retry_base_delay),
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

    def _warmed(self, prefix: str) -> None:
        if prefix in self.admission.warm:
            return
        self.admission.prefix_warmed(prefix)
        self._requeue(self.waiting_for_warmup.pop(prefix, []))
        self.wake.set()

    def _keep_output(self, task: TaskResult) -> None:
        self.outputs[task.id] = task.output or ""
        if task.document is not None:
            self.documents[task.id] = task.document

    def _finished(self, tid: str) -> None:
        task = self.result.tasks[tid]
        ok = task.status in FINISHED_OK
        self.recorder.task_finished(task)
        self.listener(task)
        self._requeue(self.waiting_for_budget)  # a finished task may have released budget
        for doomed in self.queue.done(tid, ok):
            skipped = self.result.tasks[doomed]
            skipped.status = "skipped"
            skipped.error = f"skipped: needs {tid!r}, which {_verb(task.status)}"
            self.recorder.task_finished(skipped)
            self.listener(skipped)
        if not ok and task.status != "budget" and self.options.fail_fast:
            self.failed_fast = True
            self.queue.stop()

    async def _cancel(self, running: dict[asyncio.Task[None], str]) -> None:
        self.queue.stop()
        for future in running:
            future.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        now = time.time()
        for tid in running.values():
            task = self.result.tasks[tid]
            task.status, task.ended_at, task.error = "cancelled", now, "cancelled: run stopped"
            self.recorder.task_finished(task)
            self.listener(task)
        running.clear()

    def _cancel_unstarted(self) -> None:
        why = "not started: --fail-fast" if self.failed_fast else "not started: run stopped"
        for task in self.result.tasks.values():
            if task.status == "pending":
                task.status, task.error = "cancelled", why
                self.recorder.task_finished(task)
                self.listener(task)


def _verb(status: str) -> str:
    return {"budget": "did not fit the budget", "failed": "failed"}.get(status, status)


def _run_status(result: RunResult, interrupted: bool) -> str:
    statuses = {t.status for t in result.tasks.values()}
    if interrupted:
        return "interrupted"
    if "budget" in statuses:
        return "budget_exceeded"
    if statuses & {"failed", "cancelled"}:
        return "failed"
    return "succeeded"


async def execute(
    plan: Plan,
    catalog: AgentCatalog,
    provider: Provider,
    prices: PriceTable,
    options: RunOptions,
    *,
    run_id: str,
    run_dir: Path,
    cache: ResponseCache | None = None,
    recorder: Recorder | None = None,
    listener: Listener | None = None,
    control: RunControl | None = None,
) -> RunResult:
    recorder = recorder or Recorder()
    budget = Budget(options.budget_usd, options.budget_tokens)
    result = RunResult(
        run_id=run_id,
        workflow=plan.workflow.name,
        run_dir=run_dir,
        tasks={tid: TaskResult(tid, t.agent, t.model) for tid, t in plan.tasks.items()},
        started_at=time.time(),
        workflow_file=str(plan.workflow.path),
        workflow_hash=plan.workflow.source.text_hash,
        budget_usd=budget.cap_usd,
        budget_tokens=budget.cap_tokens,
    )
    settings = AdmissionSettings(
        provider.name, options.timeout, options.retries, options.prompt_cache, options.prior
    )
    admission = Admission(plan, catalog, prices, budget, cache, settings)
    control = control or RunControl()
    state = _Run(
        plan,
        provider,
        prices,
        options,
        admission,
        recorder,
        listener or (lambda task: None),
        control,
        result,
    )
    recorder.run_started(result)
    await state.run()
    result.ended_at = time.time()
    result.status = _run_status(result, control.stop_requested.is_set())  # type: ignore[assignment]
    result.peak_in_flight = state.limiter.peak_in_flight
    result.throttle_events = state.limiter.throttle_events
    recorder.run_finished(result)
    return result

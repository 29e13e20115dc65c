"""The execute stage: run a plan's tasks as their needs finish, within the concurrency limit,
the budget, and without paying twice for an answer."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentflow.engine.admission import Admission, AdmissionSettings, Decision
from agentflow.engine.cache import ResponseCache
from agentflow.engine.collaboration import Collaboration
from agentflow.engine.ledger import Budget
from agentflow.engine.limiter import AdaptiveLimiter
from agentflow.engine.recorder import Recorder
from agentflow.engine.results import FINISHED_OK, PriorOutput, RunResult, TaskResult
from agentflow.engine.scheduler import ReadyQueue, ScheduleMode
from agentflow.engine.task_runner import TaskRunner
from agentflow.events import Event
from agentflow.plan import Plan
from agentflow.prices import PriceTable
from agentflow.providers.base import Provider
from agentflow.spec.agents import AgentCatalog


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
        collab: Collaboration,
    ) -> None:
        self.plan, self.provider, self.prices, self.options = plan, provider, prices, options
        self.collab = collab
        collab.log.listener = self._on_event
        self.admission, self.budget = admission, admission.budget
        self.recorder, self.listener, self.control, self.result = (
            recorder,
            listener,
            control,
            result,
        )
        self.limiter = AdaptiveLimiter(options.concurrency)
        self.runner = TaskRunner(
            plan,
            provider,
            prices,
            admission,
            self.limiter,
            random.Random(options.seed),
            options.retry_base_delay,
            options.exact_count,
            listener,
            collab,
        )
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
        self.waiting_for_state: dict[str, list[str]] = {}  # state key -> tasks (waits_for)
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
                if not running and self.waiting_for_state:
                    self._never_set()  # nothing left running could set the keys
                    continue
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
            unset = [
                k for k in self.plan.workflow.tasks[tid].waits_for if not self.collab.state.has(k)
            ]
            if unset:
                self.waiting_for_state.setdefault(unset[0], []).append(tid)
                continue
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

    def _on_event(self, event: Event) -> None:
        self.recorder.message(event)
        if event.kind == "state":
            waiting = self.waiting_for_state.pop(str(event.payload.get("key")), [])
            if waiting:
                self._requeue(waiting)  # re-checked: a task may wait for several keys
                self.wake.set()

    def _never_set(self) -> None:
        for key, tids in list(self.waiting_for_state.items()):
            for tid in tids:
                task = self.result.tasks[tid]
                task.status, task.ended_at = "failed", time.time()
                task.error = f"waits_for state.{key}, which no task set ({self._setters(key)})"
                self._finished(tid)
        self.waiting_for_state.clear()

    def _setters(self, key: str) -> str:
        """How the tasks that declared they set `key` ended, for the waiter's error."""
        ended = [
            f"{t.id} {self.result.tasks[t.id].status}"
            for t in self.plan.workflow.tasks.values()
            if key in t.sets
        ]
        return "; ".join(ended) + f" without calling set_state for {key!r}"

    def _requeue(self, tids: list[str]) -> None:
        for tid in tids:
            self.queue.requeue(tid)
        tids.clear()

    async def _task(self, task: TaskResult, decision: Decision) -> None:
        on_first_answer = (lambda: self._warmed(decision.prefix)) if decision.prefix else None
        try:
            await self.runner.run(task, decision, on_first_answer)
            if task.status == "succeeded":
                self._keep_output(task)
        except Exception as exc:  # noqa: BLE001 - one task's bug must not sink the run
            task.status, task.ended_at = "failed", time.time()
            task.error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            if decision.reservation is not None:
                self.budget.release(decision.reservation)
            if decision.prefix is not None:
                self._warmed(decision.prefix)

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
    collab = Collaboration.start(plan.workflow, catalog)
    admission = Admission(plan, catalog, prices, budget, cache, settings, collab)
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
        collab,
    )
    recorder.run_started(result)
    await state.run()
    result.ended_at = time.time()
    result.status = _run_status(result, control.stop_requested.is_set())  # type: ignore[assignment]
    result.peak_in_flight = state.limiter.peak_in_flight
    result.throttle_events = state.limiter.throttle_events
    recorder.run_finished(result)
    return result

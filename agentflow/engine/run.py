"""The execute stage: run a plan's tasks as their needs finish, within the concurrency limit."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentflow.engine.attempts import run_attempts
from agentflow.engine.limiter import AdaptiveLimiter
from agentflow.engine.results import FINISHED_OK, Attempt, RunResult, TaskResult
from agentflow.engine.retry import RetryPolicy
from agentflow.engine.scheduler import ReadyQueue, ScheduleMode
from agentflow.models import PriceTable
from agentflow.plan import Plan, PlannedTask
from agentflow.providers.base import ModelRequest, Provider
from agentflow.spec.agents import AgentCatalog
from agentflow.spec.templates import RenderContext, render_template


@dataclass(frozen=True)
class RunOptions:
    concurrency: int
    schedule: ScheduleMode = "dynamic"
    fail_fast: bool = False
    timeout: float | None = None  # overrides every task's
    retries: int | None = None  # overrides every task's
    retry_base_delay: float = 1.0
    seed: int | None = None  # for backoff jitter; None = random


class RunControl:
    """How the outside (a signal handler) asks a run to stop."""

    def __init__(self) -> None:
        self.stop_requested = asyncio.Event()

    def request_stop(self) -> None:
        self.stop_requested.set()


class Recorder:
    """Receives the run's start, each finished task, and the run's end (agentflow.record)."""

    def run_started(self, run: RunResult) -> None: ...

    def task_finished(self, task: TaskResult) -> None: ...

    def run_finished(self, run: RunResult) -> None: ...


class Recorders(Recorder):
    """Several recorders as one (the run folder and the history database)."""

    def __init__(self, *recorders: Recorder) -> None:
        self.recorders = recorders

    def run_started(self, run: RunResult) -> None:
        for recorder in self.recorders:
            recorder.run_started(run)

    def task_finished(self, task: TaskResult) -> None:
        for recorder in self.recorders:
            recorder.task_finished(task)

    def run_finished(self, run: RunResult) -> None:
        for recorder in self.recorders:
            recorder.run_finished(run)


Listener = Callable[[TaskResult], None]


class _Run:
    def __init__(
        self,
        plan: Plan,
        catalog: AgentCatalog,
        provider: Provider,
        prices: PriceTable,
        options: RunOptions,
        recorder: Recorder,
        listener: Listener,
        control: RunControl,
        result: RunResult,
    ) -> None:
        self.plan, self.catalog, self.provider, self.prices = plan, catalog, provider, prices
        self.options, self.recorder, self.listener, self.control = (
            options,
            recorder,
            listener,
            control,
        )
        self.result = result
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
        self.failed_fast = False

    async def run(self) -> None:
        running: dict[asyncio.Task[None], str] = {}
        stop_wait = asyncio.ensure_future(self.control.stop_requested.wait())
        try:
            while self.queue.is_active() or running:
                self._start_ready(running)
                if not running:
                    break
                done, _ = await asyncio.wait(
                    [*running, stop_wait], return_when=asyncio.FIRST_COMPLETED
                )
                for future in done:
                    if future is not stop_wait:
                        self._finished(running.pop(future))
                if self.control.stop_requested.is_set():
                    await self._cancel(running)
                    break
        finally:
            stop_wait.cancel()
        self._cancel_unstarted()

    def _start_ready(self, running: dict[asyncio.Task[None], str]) -> None:
        if self.failed_fast or self.control.stop_requested.is_set():
            return
        while len(running) < self.options.concurrency:
            tid = self.queue.pop()
            if tid is None:
                return
            running[asyncio.create_task(self._task(tid), name=tid)] = tid

    async def _task(self, tid: str) -> None:
        try:
            await self._attempt_task(tid)
        except Exception as exc:  # noqa: BLE001 - one task's bug must not sink the run
            task = self.result.tasks[tid]
            task.status, task.ended_at = "failed", time.time()
            task.error = f"internal error: {type(exc).__name__}: {exc}"

    async def _attempt_task(self, tid: str) -> None:
        planned = self.plan.tasks[tid]
        task = self.result.tasks[tid]
        task.status, task.started_at = "running", time.time()
        self.listener(task)
        request = self._request(planned)
        retries = self.options.retries if self.options.retries is not None else planned.attempts - 1
        policy = RetryPolicy(retries=retries, base_delay=self.options.retry_base_delay)
        outcome = await run_attempts(
            self.provider,
            request,
            policy,
            self.limiter,
            self.prices,
            self.rng,
            on_attempt=lambda a: self._attempt(task, a),
        )
        task.ended_at = time.time()
        if outcome.ok:
            task.status, task.output, task.document = "succeeded", outcome.text, outcome.document
            self.outputs[tid] = outcome.text or ""
            if outcome.document is not None:
                self.documents[tid] = outcome.document
        else:
            task.status, task.error = "failed", outcome.error

    def _attempt(self, task: TaskResult, attempt: Attempt) -> None:
        task.attempts.append(attempt)
        self.listener(task)

    def _request(self, planned: PlannedTask) -> ModelRequest:
        spec = self.plan.workflow.tasks[planned.id]
        context = RenderContext(self.plan.inputs, self.outputs, self.documents)
        agent = self.catalog.agents.get(planned.agent) if planned.agent else None
        return ModelRequest(
            task_id=planned.id,
            model=planned.model,
            system=agent.system_prompt if agent else "",
            prompt=render_template(spec.prompt, context),
            max_tokens=planned.max_output_tokens,
            timeout=self.options.timeout or planned.timeout,
            output_schema=spec.output_schema,
        )

    def _finished(self, tid: str) -> None:
        task = self.result.tasks[tid]
        ok = task.status in FINISHED_OK
        self.recorder.task_finished(task)
        self.listener(task)
        for doomed in self.queue.done(tid, ok):
            skipped = self.result.tasks[doomed]
            skipped.status = "skipped"
            skipped.error = f"skipped: needs {tid!r}, which {task.status}"
            self.listener(skipped)
        if not ok and self.options.fail_fast:
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
                self.listener(task)


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
    run_dir: Any,
    recorder: Recorder | None = None,
    listener: Listener | None = None,
    control: RunControl | None = None,
) -> RunResult:
    result = RunResult(
        run_id=run_id,
        workflow=plan.workflow.name,
        run_dir=run_dir,
        tasks={tid: TaskResult(tid, t.agent, t.model) for tid, t in plan.tasks.items()},
        started_at=time.time(),
    )
    control = control or RunControl()
    state = _Run(
        plan,
        catalog,
        provider,
        prices,
        options,
        recorder or Recorder(),
        listener or (lambda task: None),
        control,
        result,
    )
    await state.run()
    result.ended_at = time.time()
    result.status = _run_status(result, control.stop_requested.is_set())  # type: ignore[assignment]
    result.peak_in_flight = state.limiter.peak_in_flight
    result.throttle_events = state.limiter.throttle_events
    (recorder or Recorder()).run_finished(result)
    return result

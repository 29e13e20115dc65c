"""The execute stage: run a plan's tasks as their needs finish, within the concurrency limit,
the budget, and without paying twice for an answer."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentflow.engine.admission import Admission, Decision
from agentflow.engine.cache import ResponseCache
from agentflow.engine.collaboration import Collaboration
from agentflow.engine.context import ProviderGate, RunContext, RunOptions
from agentflow.engine.ledger import BudgetLedger
from agentflow.engine.limiter import AdaptiveLimiter
from agentflow.engine.progress import Listener, Progress
from agentflow.engine.recorder import Recorder
from agentflow.engine.results import FINISHED_OK, PriorOutput, RunResult, RunStatus, TaskResult
from agentflow.engine.scheduler import ReadyQueue
from agentflow.engine.task_runner import TaskRunner
from agentflow.events import Event
from agentflow.plan.model import Plan
from agentflow.prices import PriceTable
from agentflow.providers.base import Provider


class RunControl:
    """How the outside (a signal handler) asks a run to stop."""

    def __init__(self) -> None:
        self.stop_requested = asyncio.Event()

    def request_stop(self) -> None:
        self.stop_requested.set()


class _Run:
    """The scheduling loop: pops ready tasks, acts on admission's decisions, and keeps the
    ready queue, the waits and the outputs up to date as tasks end."""

    def __init__(self, ctx: RunContext, result: RunResult, control: RunControl) -> None:
        self.ctx, self.result, self.control = ctx, result, control
        self.admission = Admission(ctx)
        self.runner = TaskRunner(ctx, self.admission)
        plan = ctx.plan
        self.concurrency = ctx.options.concurrency or plan.concurrency
        self.outputs: dict[str, str] = {}
        self.documents: dict[str, Any] = {}
        self.queue = ReadyQueue(
            {tid: t.needs for tid, t in plan.tasks.items()},
            {tid: t.remaining_seconds for tid, t in plan.tasks.items()},
            plan.waves,
            ctx.options.schedule,
        )
        self.waiting_for_budget: list[str] = []
        self.waiting_for_warmup: dict[str, list[str]] = {}
        self.waiting_for_state: dict[str, list[str]] = {}  # state key -> tasks (waits_for)
        self.failed_fast = False
        # Set when a parked task may start (a prompt-cache warm-up ended, a key was set):
        # wakes the loop without waiting for some task to finish.
        self.wake = asyncio.Event()
        self.ended: deque[asyncio.Task[None]] = deque()  # tasks done, for the loop to see
        ctx.collab.log.listener = self._on_event

    async def run(self) -> None:
        running: dict[asyncio.Task[None], str] = {}
        # A task that ends wakes the loop through `wake` (see _act): one event to wait on,
        # not asyncio.wait over every running task, whose cost grows with concurrency.
        stop_wait = asyncio.ensure_future(self.control.stop_requested.wait())
        stop_wait.add_done_callback(lambda _: self.wake.set())
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
                await self.wake.wait()
                self.wake.clear()
                while self.ended:
                    future = self.ended.popleft()
                    if future in running:
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
        while len(running) < self.concurrency:
            tid = self.queue.pop()
            if tid is None:
                return
            unset = [
                k for k in self.ctx.plan.tasks[tid].waits_for if not self.ctx.collab.state.has(k)
            ]
            if unset:
                self.waiting_for_state.setdefault(unset[0], []).append(tid)
                continue
            self._act(tid, self.admission.admit(tid, self.outputs, self.documents), running)

    def _act(self, tid: str, decision: Decision, running: dict[asyncio.Task[None], str]) -> None:
        task, progress = self.result.tasks[tid], self.ctx.progress
        task.request_hash = decision.key
        if decision.kind == "answered":
            progress.set_status(task, "cached", answer=decision.answer)
            self._keep_output(task)
            self._finished(tid)
        elif decision.kind == "wait_budget":
            self.waiting_for_budget.append(tid)
        elif decision.kind == "wait_warm" and decision.prefix is not None:
            self.waiting_for_warmup.setdefault(decision.prefix, []).append(tid)
        elif decision.kind == "over_budget":
            progress.set_status(task, "budget", error=decision.reason)
            self._finished(tid)
        else:
            future = asyncio.create_task(self._task(task, decision), name=tid)
            future.add_done_callback(self._ended)
            running[future] = tid

    def _ended(self, future: asyncio.Task[None]) -> None:
        self.ended.append(future)
        self.wake.set()

    def _on_event(self, event: Event) -> None:
        self.ctx.progress.recorder.message(event)
        if event.kind == "state":
            waiting = self.waiting_for_state.pop(str(event.payload.get("key")), [])
            if waiting:
                self._requeue(waiting)  # re-checked: a task may wait for several keys
                self.wake.set()

    def _never_set(self) -> None:
        for key, tids in list(self.waiting_for_state.items()):
            for tid in tids:
                error = f"waits_for state.{key}, which no task set ({self._setters(key)})"
                self.ctx.progress.set_status(self.result.tasks[tid], "failed", error=error)
                self._finished(tid)
        self.waiting_for_state.clear()

    def _setters(self, key: str) -> str:
        """How the tasks that declared they set `key` ended, for the waiter's error."""
        ended = [
            f"{t.id} {self.result.tasks[t.id].status}"
            for t in self.ctx.plan.tasks.values()
            if key in t.sets
        ]
        return "; ".join(ended) + f" without calling set_state for {key!r}"

    def _requeue(self, tids: list[str]) -> None:
        for tid in tids:
            self.queue.requeue(tid)
        tids.clear()

    async def _task(self, task: TaskResult, decision: Decision) -> None:
        on_first_answer = (lambda: self._warmed(decision.prefix)) if decision.prefix else None
        single = not self.ctx.plan.tasks[task.id].tools  # a tool loop records its own turns
        try:
            if single:
                # Before its clock starts: loading the provider never counts against a task.
                # A tool loop may be answered turn by turn from the cache, so it opens the
                # gate only at its first real request.
                await self.ctx.gate.ready()
                self._said(task, "user", decision)
            await self.runner.run(task, decision, on_first_answer)
            if task.status in FINISHED_OK:
                self._keep_output(task)
                if single:
                    self._said(task, "assistant", decision)
        except Exception as exc:  # noqa: BLE001 - one task's bug must not sink the run
            error = f"internal error: {type(exc).__name__}: {exc}"
            self.ctx.progress.set_status(task, "failed", error=error)
        finally:
            if decision.reservation is not None:
                self.ctx.ledger.release(decision.reservation)
            if decision.prefix is not None:
                self._warmed(decision.prefix)

    def _said(self, task: TaskResult, role: str, decision: Decision) -> None:
        """A single call's prompt (with its system prompt) or answer, as a message of the
        history (a tool loop's conversation records its turns itself)."""
        if role == "user" and decision.request is not None:
            request = decision.request
            payload = {"role": role, "turn": 1, "system": request.system, "text": request.prompt}
            sender, recipient = "agentflow", task.id
        else:
            payload = {"role": role, "turn": 1, "text": task.output or "", "model": task.model}
            sender, recipient = task.id, "agentflow"
        self.ctx.collab.log.add(sender, recipient, "message", payload, task.id, keep=False)

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
        """A task has ended (its status already says how): release what waited on it."""
        task = self.result.tasks[tid]
        ok = task.status in FINISHED_OK
        self._requeue(self.waiting_for_budget)  # a finished task may have released budget
        for doomed in self.queue.done(tid, ok):
            error = f"skipped: needs {tid!r}, which {_verb(task.status)}"
            self.ctx.progress.set_status(self.result.tasks[doomed], "skipped", error=error)
        if not ok and task.status != "budget" and self.ctx.options.fail_fast:
            self.failed_fast = True
            self.queue.stop()

    async def _cancel(self, running: dict[asyncio.Task[None], str]) -> None:
        self.queue.stop()
        for future in running:
            future.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        for tid in running.values():
            task = self.result.tasks[tid]
            self.ctx.progress.set_status(task, "cancelled", error="cancelled: run stopped")
        running.clear()

    def _cancel_unstarted(self) -> None:
        why = "not started: --fail-fast" if self.failed_fast else "not started: run stopped"
        for task in self.result.tasks.values():
            if task.status == "pending":
                self.ctx.progress.set_status(task, "cancelled", error=why)


def _verb(status: str) -> str:
    return {"budget": "did not fit the budget", "failed": "failed"}.get(status, status)


def _run_status(result: RunResult, interrupted: bool) -> RunStatus:
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
    *,
    provider: Provider,
    prices: PriceTable,
    options: RunOptions,
    run_id: str,
    run_dir: Path,
    cache: ResponseCache | None = None,
    prior: Mapping[str, PriorOutput] | None = None,
    recorder: Recorder | None = None,
    listener: Listener | None = None,
    control: RunControl | None = None,
) -> RunResult:
    """Run `plan`. The run's clock starts here: load the provider before calling this.
    `prior` are an earlier run's outputs (--resume); `recorder` hears the run as it
    happens (agentflow.store), `listener` each change of a task (the live view)."""
    recorder = recorder or Recorder()
    control = control or RunControl()
    result = RunResult(
        run_id=run_id,
        workflow=plan.name,
        run_dir=run_dir,
        tasks={tid: TaskResult(tid, t.agent, t.model) for tid, t in plan.tasks.items()},
        started_at=time.time(),
        workflow_file=str(plan.file),
        workflow_hash=plan.file_hash,
        budget_usd=plan.budget.usd,
        budget_tokens=plan.budget.tokens,
        provider=provider.name,
    )
    ctx = RunContext(
        plan=plan,
        provider=provider,
        prices=prices,
        options=options,
        ledger=BudgetLedger(plan.budget),
        limiter=AdaptiveLimiter(options.concurrency or plan.concurrency),
        progress=Progress(recorder=recorder, listener=listener),
        collab=Collaboration.start(plan),
        rng=random.Random(options.seed),
        gate=ProviderGate(provider),
        cache=cache or ResponseCache.off(),
        prior=prior,
    )
    loop = _Run(ctx, result, control)
    recorder.run_started(result)
    await loop.run()
    result.ended_at = time.time()
    result.status = _run_status(result, control.stop_requested.is_set())
    result.peak_in_flight = ctx.limiter.peak_in_flight
    result.throttle_events = ctx.limiter.throttle_events
    recorder.run_finished(result)
    await recorder.drained()  # awaited, never blocking: a second Ctrl-C still exits at once
    return result

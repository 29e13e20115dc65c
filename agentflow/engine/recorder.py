"""What the engine tells the record stage (agentflow.store implements it): the run's start,
each finished task, each message, the run's end."""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

from agentflow.engine.results import RunResult, TaskResult
from agentflow.events import Event

BATCH_LIMIT = 500  # queued calls handed to the recorder as one batch, at most
# After a short batch the worker waits this long for more: fewer, larger transactions, and
# less time competing with the event loop for the interpreter (the GIL).
BATCH_PAUSE = 0.02


class Recorder:
    """Receives the run's start, each finished task, each message, and the run's end."""

    def run_started(self, run: RunResult) -> None: ...

    def task_finished(self, task: TaskResult) -> None: ...

    def message(self, event: Event) -> None:
        """One message between agents or tools (agentflow.events.Event), as it happens."""

    def run_finished(self, run: RunResult) -> None: ...

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Calls made inside may be held and written together when it ends."""
        yield

    async def drained(self) -> None:
        """Returns when everything heard so far is written (at once, unless deferred)."""


class Recorders(Recorder):
    """Several recorders as one (the run folder and the history database). One that fails
    does not keep the others from hearing the run: its error is kept in `errors`."""

    def __init__(self, *recorders: Recorder) -> None:
        self.recorders = recorders
        self.errors: list[str] = []

    def _each(self, call: Callable[[Recorder], None]) -> None:
        for recorder in self.recorders:
            try:
                call(recorder)
            except Exception as exc:  # noqa: BLE001 - kept for the caller to report
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def run_started(self, run: RunResult) -> None:
        self._each(lambda recorder: recorder.run_started(run))

    def task_finished(self, task: TaskResult) -> None:
        self._each(lambda recorder: recorder.task_finished(task))

    def message(self, event: Event) -> None:
        self._each(lambda recorder: recorder.message(event))

    def run_finished(self, run: RunResult) -> None:
        self._each(lambda recorder: recorder.run_finished(run))

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        with contextlib.ExitStack() as stack:
            self._each(lambda recorder: stack.enter_context(recorder.batch()))
            yield


def _snapshot(task: TaskResult) -> TaskResult:
    """A copy the engine will not change (it appends attempts to the live one); made with
    the fewest steps, once per finished task on the event loop."""
    copy = object.__new__(TaskResult)
    copy.__dict__.update(task.__dict__)
    copy.attempts = list(task.attempts)
    return copy


class BackgroundRecorder(Recorder):
    """Runs a recorder on one worker thread, in order, so that disk writes (output files,
    SQLite) never stall the event loop: every call only queues. The worker hands what has
    queued up to the recorder as one batch (one transaction, not one per call). After
    `run_finished`, `drained()` waits for every earlier write without blocking the event
    loop (a second Ctrl-C still exits at once); then everything is on disk, or said in
    `errors` (a full disk, say): a write that fails never stops the others, nor the run."""

    def __init__(self, inner: Recorder) -> None:
        self.inner = inner
        self.errors: list[str] = []
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._done = threading.Event()
        self._worker = threading.Thread(target=self._drain, name="agentflow-recorder", daemon=True)
        self._worker.start()

    @property
    def pending(self) -> int:
        """Calls heard but not yet written (about: the worker may be writing some)."""
        return self._queue.qsize()

    def _drain(self) -> None:
        try:
            finished = False
            while not finished:
                jobs = [self._queue.get()]
                while len(jobs) < BATCH_LIMIT and not self._queue.empty():
                    jobs.append(self._queue.get_nowait())
                finished = None in jobs
                self._run_batch([job for job in jobs if job is not None])
                if not finished and len(jobs) < BATCH_LIMIT:
                    time.sleep(BATCH_PAUSE)
        finally:
            self._done.set()

    def _run_batch(self, jobs: list[Callable[[], None]]) -> None:
        try:
            with self.inner.batch():
                for job in jobs:
                    try:
                        job()
                    except Exception as exc:  # noqa: BLE001 - kept for the caller to report
                        self.errors.append(f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - a failed commit, likewise
            self.errors.append(f"{type(exc).__name__}: {exc}")

    def run_started(self, run: RunResult) -> None:
        # Deferred too (opening the history may create and migrate it): the first request
        # need not wait. A snapshot, as for tasks: the engine goes on changing the run.
        tasks = {tid: _snapshot(t) for tid, t in run.tasks.items()}
        snapshot = replace(run, tasks=tasks)
        self._queue.put(lambda: self.inner.run_started(snapshot))

    def task_finished(self, task: TaskResult) -> None:
        snapshot = _snapshot(task)  # the engine keeps the live object
        self._queue.put(lambda: self.inner.task_finished(snapshot))

    def message(self, event: Event) -> None:
        self._queue.put(lambda: self.inner.message(event))  # events are frozen: no copy

    def run_finished(self, run: RunResult) -> None:
        """Queued like the rest: await `drained()` (or call `join()`) for it to be written."""
        self._queue.put(lambda: self.inner.run_finished(run))
        self._queue.put(None)

    async def drained(self) -> None:
        while not self._done.is_set():
            await asyncio.sleep(0.005)  # polled: the event loop stays free for signals

    def join(self) -> None:
        self._done.wait()

"""What the engine tells the record stage (agentflow.store implements it): the run's start,
each finished task, each message, the run's end."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import replace

from agentflow.engine.results import RunResult, TaskResult
from agentflow.events import Event


class Recorder:
    """Receives the run's start, each finished task, each message, and the run's end."""

    def run_started(self, run: RunResult) -> None: ...

    def task_finished(self, task: TaskResult) -> None: ...

    def message(self, event: Event) -> None:
        """One message between agents or tools (agentflow.events.Event), as it happens."""

    def run_finished(self, run: RunResult) -> None: ...


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


class BackgroundRecorder(Recorder):
    """Runs a recorder on one worker thread, in order, so that disk writes (output files,
    SQLite) never stall the event loop between two tasks. `run_finished` waits for every
    earlier write: when it returns, everything is on disk, or said in `errors` (a full
    disk, say): a write that fails never stops the others, nor the run."""

    def __init__(self, inner: Recorder) -> None:
        self.inner = inner
        self.errors: list[str] = []
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._drain, name="agentflow-recorder", daemon=True)
        self._worker.start()

    def _drain(self) -> None:
        while (job := self._queue.get()) is not None:
            try:
                job()
            except Exception as exc:  # noqa: BLE001 - kept for the caller to report
                self.errors.append(f"{type(exc).__name__}: {exc}")

    def run_started(self, run: RunResult) -> None:
        # Deferred too (opening the history may create and migrate it): the first request
        # need not wait. A snapshot, as for tasks: the engine goes on changing the run.
        tasks = {tid: replace(t, attempts=list(t.attempts)) for tid, t in run.tasks.items()}
        snapshot = replace(run, tasks=tasks)
        self._queue.put(lambda: self.inner.run_started(snapshot))

    def task_finished(self, task: TaskResult) -> None:
        # A snapshot: the engine keeps the live object.
        snapshot = replace(task, attempts=list(task.attempts))
        self._queue.put(lambda: self.inner.task_finished(snapshot))

    def message(self, event: Event) -> None:
        self._queue.put(lambda: self.inner.message(event))  # events are frozen: no copy

    def run_finished(self, run: RunResult) -> None:
        self._queue.put(lambda: self.inner.run_finished(run))
        self._queue.put(None)
        self._worker.join()

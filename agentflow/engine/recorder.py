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
    """Several recorders as one (the run folder and the history database)."""

    def __init__(self, *recorders: Recorder) -> None:
        self.recorders = recorders

    def run_started(self, run: RunResult) -> None:
        for recorder in self.recorders:
            recorder.run_started(run)

    def task_finished(self, task: TaskResult) -> None:
        for recorder in self.recorders:
            recorder.task_finished(task)

    def message(self, event: Event) -> None:
        for recorder in self.recorders:
            recorder.message(event)

    def run_finished(self, run: RunResult) -> None:
        for recorder in self.recorders:
            recorder.run_finished(run)


class BackgroundRecorder(Recorder):
    """Runs a recorder on one worker thread, in order, so that disk writes (output files,
    SQLite) never stall the event loop between two tasks. `run_finished` waits for every
    earlier write: when it returns, everything is on disk."""

    def __init__(self, inner: Recorder) -> None:
        self.inner = inner
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._worker = threading.Thread(target=self._drain, name="agentflow-recorder", daemon=True)
        self._worker.start()

    def _drain(self) -> None:
        while (job := self._queue.get()) is not None:
            job()

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

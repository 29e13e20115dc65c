"""What the engine tells the record stage: the run's start, each finished task, its end."""

from __future__ import annotations

from agentflow.engine.results import RunResult, TaskResult


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

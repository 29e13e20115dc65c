"""The one place a task's result changes: its status (stamping its times, keeping its
answer, handing every task that ends to the recorder), its attempts, model and turns; the
live view hears each change.

A task's times say when it ran: `started_at` when it started (or was answered from a cache
or an earlier run), `ended_at` when it ended; a task that never started has neither.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from agentflow.engine.recorder import Recorder
from agentflow.engine.results import FINAL, Answer, Attempt, TaskResult, TaskStatus
from agentflow.guard.redact import redact, redact_data, secrets
from agentflow.prices import Usage

Listener = Callable[[TaskResult], None]


class Progress:
    def __init__(self, *, recorder: Recorder, listener: Listener | None = None) -> None:
        self.recorder = recorder
        self.listener: Listener = listener or (lambda task: None)

    def set_status(
        self,
        task: TaskResult,
        status: TaskStatus,
        *,
        error: str | None = None,
        answer: Answer | None = None,
    ) -> None:
        now = time.time()
        found = secrets()  # an answer or error quoting a key is recorded without it
        if answer is not None:
            task.output = redact(answer.output, found)
            task.document = redact_data(answer.document, found)
            task.source = answer.source
            task.model = answer.model or task.model
            task.truncated = answer.truncated
            task.saved_usage = task.saved_usage + answer.saved_usage
            task.saved_usd += answer.saved_usd
        if status == "running" or (answer is not None and task.started_at is None):
            task.started_at = now
        task.status = status
        if error is not None:
            task.error = redact(error, found)
        if status in FINAL:
            if task.started_at is not None:
                task.ended_at = now
            self.recorder.task_finished(task)
        self.listener(task)

    def attempted(self, task: TaskResult, attempt: Attempt) -> None:
        """One more attempt (already charged), numbered here: sub-calls run side by side,
        so numbers cannot be handed out ahead."""
        if attempt.error is not None:  # an API error quoting a key is recorded without it
            attempt = replace(attempt, error=redact(attempt.error))
        task.attempts.append(attempt.renumbered(len(task.attempts) + 1))
        self.listener(task)

    def model_chosen(self, task: TaskResult, model: str) -> None:
        """The model a task now runs on (a step of its escalate chain, a classified tier)."""
        task.model = model
        self.listener(task)

    def conversed(
        self, task: TaskResult, *, turns: int, tool_calls: int, saved: Usage, saved_usd: float
    ) -> None:
        """What a task's tool-use loop did: its turns, its tool calls, and what the turns
        answered from the response cache saved."""
        task.turns += turns
        task.tool_calls += tool_calls
        task.saved_usage = task.saved_usage + saved
        task.saved_usd += saved_usd
        self.listener(task)

"""Shared helpers for the engine tests: write a workflow, prepare its plan, run it through
the function provider (no HTTP, no SDK), and watch what the engine does."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentflow.engine.cache import ResponseCache
from agentflow.engine.context import RunOptions
from agentflow.engine.recorder import Recorder
from agentflow.engine.results import PriorOutput, RunResult, TaskResult
from agentflow.engine.run import RunControl, execute
from agentflow.events import Event
from agentflow.prepare import Prepared, prepare
from agentflow.prices import Usage
from agentflow.providers.base import ModelRequest, ModelResponse, Provider
from agentflow.providers.function import FunctionProvider
from agentflow.tokens import estimate_request_tokens

Answer = ModelResponse | str


def write_workflow(folder: Path, body: str, name: str = "wf.yaml") -> Path:
    """A workflow file: the required header, then `body` (YAML)."""
    path = folder / name
    path.write_text("version: 1\nname: engine-test\n" + body)
    return path


def plan_for(folder: Path, body: str, name: str = "wf.yaml", **kwargs: Any) -> Prepared:
    """Write `body` as a workflow and prepare its plan (no estimates: they are slow)."""
    return prepare(write_workflow(folder, body, name), estimate=False, **kwargs)


def run(
    prepared: Prepared,
    provider: Provider,
    *,
    cache: ResponseCache | None = None,
    prior: Mapping[str, PriorOutput] | None = None,
    recorder: Recorder | None = None,
    listener: Callable[[TaskResult], None] | None = None,
    control: RunControl | None = None,
    run_id: str = "run-1",
    **options: Any,
) -> RunResult:
    """`execute` the plan to its end; `options` are RunOptions fields (no backoff sleeps
    and a fixed seed unless given)."""
    settings: dict[str, Any] = {"seed": 0, "retry_base_delay": 0.0, **options}
    return asyncio.run(
        execute(
            prepared.plan,
            provider=provider,
            prices=prepared.prices,
            options=RunOptions(**settings),
            run_id=run_id,
            run_dir=prepared.plan.file.parent / "runs" / run_id,
            cache=cache,
            prior=prior,
            recorder=recorder,
            listener=listener,
            control=control,
        )
    )


def statuses(result: RunResult) -> dict[str, str]:
    return {tid: task.status for tid, task in result.tasks.items()}


def echo(request: ModelRequest) -> str:
    """The default answer: says what it was asked."""
    return f"Answer to: {request.prompt}"


def asked(provider: FunctionProvider) -> list[str]:
    """The task ids of the requests the provider saw, in order."""
    return [request.task_id for request in provider.requests]


def worst_case(prepared: Prepared, task_id: str, prompt: str) -> float:
    """One attempt's worst case in USD, as the README's *Hard budget cap* promises to reserve
    it: the rendered input counted offline with the safety margin, at the dearest input
    rate, plus max_tokens of output."""
    task, prices = prepared.plan.tasks[task_id], prepared.prices
    tokens_in = estimate_request_tokens(task.system, [prompt])
    output = task.max_tokens * prices.price(task.model).output / 1_000_000
    return tokens_in * prices.worst_input_rate(task.model) + output


def worst_reply(request: ModelRequest) -> ModelResponse:
    """The dearest answer a request can get within its reservation: input as estimated
    (margin included), all of it billed as a cache write, and max_tokens of output."""
    tokens_in = estimate_request_tokens(request.system, [request.prompt])
    usage = Usage(0, request.max_tokens, cache_creation_input_tokens=tokens_in)
    return ModelResponse("x" * 20, usage, request.model, "end_turn")


class InFlight:
    """An async answer function that counts how many calls are in flight at once."""

    def __init__(
        self, answer: Callable[[ModelRequest], Answer] = echo, *, delay: float = 0.005
    ) -> None:
        self.answer, self.delay = answer, delay
        self.now = 0
        self.peak = 0

    async def __call__(self, request: ModelRequest) -> Answer:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await asyncio.sleep(self.delay)
            return self.answer(request)
        finally:
            self.now -= 1


@dataclass(frozen=True)
class Finished:
    """What the recorder was told of a task, copied when it was told (the task object keeps
    changing)."""

    id: str
    status: str
    error: str | None
    started_at: float | None
    ended_at: float | None
    attempts: int


@dataclass
class Tape(Recorder):
    """A recorder that writes down everything it hears, in order."""

    calls: list[str] = field(default_factory=list)
    finished: list[Finished] = field(default_factory=list)
    messages: list[Event] = field(default_factory=list)
    final_status: str | None = None

    def run_started(self, run: RunResult) -> None:
        self.calls.append("run_started")

    def task_finished(self, task: TaskResult) -> None:
        self.calls.append(f"task_finished:{task.id}")
        self.finished.append(
            Finished(
                task.id, task.status, task.error, task.started_at, task.ended_at, task.requests
            )
        )

    def message(self, event: Event) -> None:
        self.calls.append(f"message:{event.kind}")
        self.messages.append(event)

    def run_finished(self, run: RunResult) -> None:
        self.calls.append("run_finished")
        self.final_status = run.status

    def heard(self, task_id: str) -> list[Finished]:
        return [f for f in self.finished if f.id == task_id]

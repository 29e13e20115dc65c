"""The provider warms up once, before its first request, and never for a run that sends
none (see Provider.warm_up)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentflow.engine.cache import ResponseCache
from agentflow.engine.run import RunControl
from agentflow.providers.base import ModelRequest, ModelResponse
from agentflow.providers.function import Answerer, FunctionProvider, tool_call
from tests.engine.helpers import InFlight, echo, plan_for, run, statuses

pytestmark = pytest.mark.usefixtures("home")

FIVE = "defaults: {model: haiku}\ntasks:\n" + "".join(
    f"  t{i}: {{prompt: 'task {i}'}}\n" for i in range(5)
)


class CountingProvider(FunctionProvider):
    """Writes down, in order, when its warm-up starts and ends and each request."""

    def __init__(self, answer: Answerer, *, warm_seconds: float = 0.0) -> None:
        super().__init__(answer)
        self.warm_seconds = warm_seconds
        self.log: list[str] = []

    async def warm_up(self) -> None:
        self.log.append("warm_up")
        await asyncio.sleep(self.warm_seconds)
        self.log.append("warmed")

    async def complete(self, request: ModelRequest) -> ModelResponse:
        self.log.append(f"complete:{request.task_id}")
        return await super().complete(request)

    @property
    def warm_ups(self) -> int:
        return self.log.count("warm_up")


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[ResponseCache]:
    opened = ResponseCache(tmp_path / "cache")
    yield opened
    opened.close()


def test_warm_up_is_awaited_once_before_the_first_request(tmp_path: Path) -> None:
    provider = CountingProvider(InFlight(), warm_seconds=0.005)
    result = run(plan_for(tmp_path, FIVE), provider, concurrency=3)
    assert result.status == "succeeded"
    assert provider.warm_ups == 1
    assert provider.log[:2] == ["warm_up", "warmed"]  # no request while it was loading
    assert sorted(provider.log[2:]) == [f"complete:t{i}" for i in range(5)]


def test_no_warm_up_for_a_run_answered_wholly_from_the_cache(
    tmp_path: Path, cache: ResponseCache
) -> None:
    prepared = plan_for(tmp_path, FIVE)
    run(prepared, CountingProvider(echo), cache=cache)
    provider = CountingProvider(echo)
    result = run(prepared, provider, cache=cache, run_id="run-2")
    assert set(statuses(result).values()) == {"cached"}
    assert provider.log == []


def test_a_partly_cached_run_warms_up_once_before_its_first_request(
    tmp_path: Path, cache: ResponseCache
) -> None:
    run(plan_for(tmp_path, FIVE), CountingProvider(echo), cache=cache)
    provider = CountingProvider(echo)
    more = FIVE + "  t5: {prompt: 'task 5'}\n  t6: {prompt: 'task 6'}\n"
    result = run(plan_for(tmp_path, more), provider, cache=cache, run_id="run-2")
    assert result.count("cached") == 5 and result.count("succeeded") == 2
    assert provider.log[:2] == ["warm_up", "warmed"]
    assert provider.warm_ups == 1
    assert sorted(provider.log[2:]) == ["complete:t5", "complete:t6"]


def test_no_warm_up_when_the_budget_refuses_every_task(tmp_path: Path) -> None:
    body = (
        "defaults: {model: opus, max_tokens: 4000}\nbudget: {usd: 0.0001}\n"
        + FIVE.split("\n", 1)[1]
    )
    provider = CountingProvider(echo)
    result = run(plan_for(tmp_path, body), provider)
    assert set(statuses(result).values()) == {"budget"}
    assert provider.log == []


def test_no_warm_up_for_a_run_stopped_before_it_began(tmp_path: Path) -> None:
    control = RunControl()
    control.request_stop()
    provider = CountingProvider(echo)
    result = run(plan_for(tmp_path, FIVE), provider, control=control)
    assert result.status == "interrupted"
    assert provider.log == []


def test_no_warm_up_for_a_tool_loop_answered_wholly_from_the_cache(
    tmp_path: Path, cache: ResponseCache
) -> None:
    body = (
        "defaults: {model: haiku}\ntasks:\n"
        "  setter: {prompt: 'Make a plan', tools: [set_state], sets: [plan]}\n"
    )

    def answer(request: ModelRequest) -> ModelResponse | str:
        if not request.history:
            return tool_call("set_state", {"key": "plan", "value": "P"})
        return "planned"

    prepared = plan_for(tmp_path, body)
    run(prepared, CountingProvider(answer), cache=cache)
    provider = CountingProvider(answer)
    result = run(prepared, provider, cache=cache, run_id="run-2")
    task = result.tasks["setter"]
    assert (task.status, task.source, task.requests) == ("cached", "cache", 0)
    # Every turn came from the cache: nothing was sent, so nothing needed loading.
    assert provider.log == []

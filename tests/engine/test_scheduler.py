"""The ready queue and the limiter on their own (no network, no clock but a fake one), and
the plan's priorities, learned or estimated, ordering a run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentflow.engine.limiter import AdaptiveLimiter
from agentflow.engine.scheduler import ReadyQueue
from agentflow.plan.build import build_plan
from agentflow.plan.model import LearnedDuration
from agentflow.prepare import Prepared
from agentflow.prices import load_prices
from agentflow.providers.function import FunctionProvider
from agentflow.validate.workflow import validate_workflow
from tests.engine.helpers import asked, echo, run, write_workflow

#   a -> c -> e        b (short, alone)
#   a -> d
NEEDS = {"a": [], "b": [], "c": ["a"], "d": ["a"], "e": ["c"]}
WAVES = [["a", "b"], ["c", "d"], ["e"]]
REMAINING = {"a": 9.0, "b": 1.0, "c": 6.0, "d": 2.0, "e": 3.0}


def drain(queue: ReadyQueue) -> list[str]:
    ready = []
    while (tid := queue.pop()) is not None:
        ready.append(tid)
    return ready


def test_longest_remaining_path_goes_first():
    queue = ReadyQueue(NEEDS, {**REMAINING, "b": 20.0}, WAVES)
    assert drain(queue) == ["b", "a"]
    queue.done("a", succeeded=True)
    assert drain(queue) == ["c", "d"]


def test_dynamic_releases_a_task_as_soon_as_its_needs_finish():
    queue = ReadyQueue(NEEDS, REMAINING, WAVES, "dynamic")
    assert drain(queue) == ["a", "b"]
    queue.done("a", succeeded=True)  # b still running: c and d are ready anyway
    assert drain(queue) == ["c", "d"]
    queue.done("c", succeeded=True)
    assert drain(queue) == ["e"]  # d still running


def test_waves_wait_for_the_whole_previous_wave():
    queue = ReadyQueue(NEEDS, REMAINING, WAVES, "waves")
    assert drain(queue) == ["a", "b"]
    queue.done("a", succeeded=True)
    assert drain(queue) == []  # b is still running
    queue.done("b", succeeded=True)
    assert drain(queue) == ["c", "d"]
    queue.done("c", succeeded=True)
    assert drain(queue) == []
    queue.done("d", succeeded=True)
    assert drain(queue) == ["e"]


def test_failure_dooms_every_descendant_and_nothing_else():
    queue = ReadyQueue(NEEDS, REMAINING, WAVES)
    drain(queue)
    assert queue.done("a", succeeded=False) == ["c", "d", "e"]
    assert queue.is_active()  # b is still out
    queue.done("b", succeeded=True)
    assert not queue.is_active()


def test_stop_releases_nothing_more():
    queue = ReadyQueue(NEEDS, REMAINING, WAVES)
    queue.pop()
    queue.stop()
    assert queue.pop() is None
    queue.done("a", succeeded=True)
    assert queue.pop() is None


def test_limiter_halves_on_throttle_and_grows_back():
    now = [0.0]
    limiter = AdaptiveLimiter(8, cooldown=5.0, successes_to_grow=2, clock=lambda: now[0])
    limiter.on_throttle()
    assert limiter.limit == 4
    limiter.on_throttle()
    assert limiter.limit == 2

    async def succeed(times: int) -> None:
        for _ in range(times):
            await limiter.on_success()

    asyncio.run(succeed(4))
    assert limiter.limit == 2  # still inside the cooldown
    now[0] = 10.0
    asyncio.run(succeed(4))
    assert limiter.limit == 4
    asyncio.run(succeed(100))
    assert limiter.limit == 8  # never above the configured concurrency


def test_limiter_bounds_concurrent_holders():
    async def scenario() -> int:
        limiter = AdaptiveLimiter(3)
        limiter.on_throttle()  # down to 1

        async def hold() -> None:
            async with limiter.slot():
                await asyncio.sleep(0.01)

        await asyncio.gather(*(hold() for _ in range(6)))
        return limiter.peak_in_flight

    assert asyncio.run(scenario()) == 1


# `quick` looks longest by its estimate (max_tokens); what earlier runs measured says the
# path slow -> tail is the long one.
LEARNING = """\
concurrency: 1
defaults: {model: haiku}
tasks:
  quick: {prompt: "go", max_tokens: 4000}
  slow: {prompt: "go", max_tokens: 64}
  tail: {needs: [slow], prompt: "after {{ tasks.slow.output }}", max_tokens: 64}
"""


def planned_with(folder: Path, durations: dict[str, LearnedDuration]) -> Prepared:
    prices = load_prices()
    validated = validate_workflow(write_workflow(folder, LEARNING), prices)
    plan = build_plan(validated, prices, inputs={}, durations=durations, estimate=False)
    return Prepared(plan, prices)


def test_learned_durations_order_the_ready_queue(tmp_path: Path) -> None:
    estimated = FunctionProvider(echo)
    run(planned_with(tmp_path, {}), estimated)
    assert asked(estimated) == ["quick", "slow", "tail"]

    learned = {
        "quick": LearnedDuration(0.2, 3),
        "slow": LearnedDuration(4.0, 3),
        "tail": LearnedDuration(1.0, 3),
    }
    prepared = planned_with(tmp_path, learned)
    assert prepared.plan.critical_path == ("slow", "tail")
    assert prepared.plan.critical_path_seconds == pytest.approx(5.0)
    assert prepared.plan.tasks["slow"].remaining_seconds == pytest.approx(5.0)
    provider = FunctionProvider(echo)
    run(prepared, provider)
    assert asked(provider) == ["slow", "tail", "quick"]


def test_a_task_without_a_learned_duration_keeps_its_estimate(tmp_path: Path) -> None:
    prepared = planned_with(tmp_path, {"slow": LearnedDuration(4.0, 2)})
    quick = prepared.plan.tasks["quick"]
    assert quick.learned is None and quick.seconds == quick.est_seconds > 4.0
    provider = FunctionProvider(echo)
    run(prepared, provider)
    assert asked(provider) == ["quick", "slow", "tail"]

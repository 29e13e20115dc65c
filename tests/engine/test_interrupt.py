"""RunControl.request_stop: in-flight tasks are cancelled, nothing more starts, nothing is
left pending."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from agentflow.engine.run import RunControl
from agentflow.providers.base import ModelRequest
from agentflow.providers.function import FunctionProvider
from tests.engine.helpers import Tape, asked, echo, plan_for, run, statuses

pytestmark = pytest.mark.usefixtures("home")

SIX = (
    "defaults: {model: haiku}\ntasks:\n"
    + "".join(f"  t{i}: {{prompt: 'task {i}'}}\n" for i in range(5))
    + "  child: {prompt: 'after {{ tasks.t1.output }}', needs: [t1]}\n"
)


def test_a_stop_from_inside_a_request_interrupts_the_run(tmp_path: Path) -> None:
    control = RunControl()
    t3_asked = asyncio.Event()

    async def answer(request: ModelRequest) -> str:
        if request.task_id == "t0":
            return "first"  # answers at once, freeing its slot for t3
        if request.task_id == "t3":
            t3_asked.set()
        if request.task_id == "t2":
            await t3_asked.wait()  # t0 has finished; t1, t2 and t3 are in flight
            control.request_stop()
        await asyncio.sleep(5)  # cancelled by the stop, never waited out
        return "too late"

    tape = Tape()
    provider = FunctionProvider(answer)
    began = time.monotonic()
    result = run(plan_for(tmp_path, SIX), provider, control=control, recorder=tape, concurrency=3)
    assert time.monotonic() - began < 1.0
    assert result.status == "interrupted" and tape.final_status == "interrupted"
    assert sorted(asked(provider)) == ["t0", "t1", "t2", "t3"]  # t1 heads a longer path
    assert statuses(result) == {
        "t0": "succeeded",
        "t1": "cancelled",
        "t2": "cancelled",
        "t3": "cancelled",
        "t4": "cancelled",
        "child": "cancelled",
    }
    for tid in ("t1", "t2", "t3"):  # in flight when the stop came
        task = result.tasks[tid]
        assert task.error == "cancelled: run stopped"
        assert task.started_at is not None and task.ended_at is not None
    for tid in ("t4", "child"):  # never started
        task = result.tasks[tid]
        assert task.error == "not started: run stopped"
        assert task.started_at is None and task.ended_at is None
    assert result.tasks["t0"].output == "first"
    assert not {"pending", "running"} & set(statuses(result).values())
    assert sorted(f.id for f in tape.finished) == sorted(result.tasks)


def test_a_stop_before_the_run_starts_nothing(tmp_path: Path) -> None:
    control = RunControl()
    control.request_stop()
    provider = FunctionProvider(echo)
    result = run(plan_for(tmp_path, SIX), provider, control=control)
    assert provider.requests == []
    assert set(statuses(result).values()) == {"cancelled"}
    assert {t.error for t in result.tasks.values()} == {"not started: run stopped"}
    assert result.status == "interrupted"


def test_a_stop_cancels_a_task_waiting_for_state(tmp_path: Path) -> None:
    body = """\
defaults: {model: haiku}
tasks:
  setter: {prompt: "Make a plan", tools: [set_state], sets: [plan]}
  waiter: {prompt: "Follow {{ state.plan }}", waits_for: [state.plan]}
"""
    control = RunControl()

    async def answer(request: ModelRequest) -> str:
        control.request_stop()
        await asyncio.sleep(5)
        return "never"

    result = run(plan_for(tmp_path, body), FunctionProvider(answer), control=control)
    assert statuses(result) == {"setter": "cancelled", "waiter": "cancelled"}
    assert result.tasks["waiter"].error == "not started: run stopped"
    assert result.status == "interrupted"

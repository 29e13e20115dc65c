"""Status ownership and times: the recorder hears every task end exactly once, with its
final status; a task that never started has no times."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentflow.engine.cache import ResponseCache
from agentflow.engine.results import FINAL, TaskResult
from agentflow.providers.base import ModelRequest, ProviderError
from agentflow.providers.function import FunctionProvider
from tests.engine.helpers import Tape, echo, plan_for, run, statuses

pytestmark = pytest.mark.usefixtures("home")

MIXED = """\
defaults: {model: haiku, max_tokens: 100, retries: 0}
budget: {usd: 0.01}
tasks:
  ok: {prompt: "Answer from the cache"}
  fresh: {prompt: "Answer from the API"}
  bad: {prompt: "This one fails"}
  dep: {prompt: "Needs {{ tasks.bad.output }}", needs: [bad]}
  big: {prompt: "Too dear", model: opus, max_tokens: 4000}
  after_big: {prompt: "After {{ tasks.big.output }}", needs: [big]}
"""


def fails_bad(request: ModelRequest) -> str:
    if request.task_id == "bad":
        raise ProviderError("client", "bad request", status=400)
    return echo(request)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[ResponseCache]:
    opened = ResponseCache(tmp_path / "cache")
    yield opened
    opened.close()


@pytest.fixture
def mixed(tmp_path: Path, cache: ResponseCache) -> tuple[dict[str, TaskResult], Tape, str]:
    """A run with a task of every final status but `cancelled`: `ok` answered from the
    cache (filled by an earlier run of it alone), the rest as their names say."""
    only_ok = MIXED.split("tasks:")[0] + "tasks:\n  ok: {prompt: 'Answer from the cache'}\n"
    run(plan_for(tmp_path, only_ok, name="warm.yaml"), FunctionProvider(echo), cache=cache)
    tape = Tape()
    result = run(plan_for(tmp_path, MIXED), FunctionProvider(fails_bad), cache=cache, recorder=tape)
    return result.tasks, tape, result.status


def test_every_final_status_happens_in_the_mixed_run(
    mixed: tuple[dict[str, TaskResult], Tape, str],
) -> None:
    tasks, _, status = mixed
    assert {tid: t.status for tid, t in tasks.items()} == {
        "ok": "cached",
        "fresh": "succeeded",
        "bad": "failed",
        "dep": "skipped",
        "big": "budget",
        "after_big": "skipped",
    }
    assert status == "budget_exceeded"  # a budget refusal outranks a failure


def test_the_recorder_hears_each_task_end_once_with_its_final_status(
    mixed: tuple[dict[str, TaskResult], Tape, str],
) -> None:
    tasks, tape, status = mixed
    for tid, task in tasks.items():
        heard = tape.heard(tid)
        assert len(heard) == 1, (tid, heard)
        assert heard[0].status == task.status and heard[0].status in FINAL
        assert heard[0].error == task.error
        assert heard[0].attempts == task.requests
    assert tape.calls[0] == "run_started" and tape.calls[-1] == "run_finished"
    assert tape.final_status == status


def test_a_task_that_never_started_has_no_times(
    mixed: tuple[dict[str, TaskResult], Tape, str],
) -> None:
    tasks, tape, _ = mixed
    for tid in ("dep", "big", "after_big"):
        assert tasks[tid].started_at is None and tasks[tid].ended_at is None, tid
        assert tape.heard(tid)[0].started_at is None
        assert tasks[tid].requests == 0


def test_a_task_that_ran_or_was_answered_has_both_times(
    mixed: tuple[dict[str, TaskResult], Tape, str],
) -> None:
    tasks, tape, _ = mixed
    for tid in ("ok", "fresh", "bad"):
        task = tasks[tid]
        assert task.started_at is not None and task.ended_at is not None, tid
        assert task.ended_at >= task.started_at
        # The times were already stamped when the recorder heard of the task.
        assert tape.heard(tid)[0].ended_at == task.ended_at
        for attempt in task.attempts:
            assert task.started_at <= attempt.started_at <= attempt.ended_at <= task.ended_at


def test_a_cached_task_is_answered_at_once(
    mixed: tuple[dict[str, TaskResult], Tape, str],
) -> None:
    tasks, _, _ = mixed
    ok = tasks["ok"]
    assert ok.source == "cache" and ok.saved_usd > 0 and ok.requests == 0
    assert ok.started_at is not None and ok.ended_at is not None


def test_a_task_below_two_failed_needs_is_reported_once(tmp_path: Path) -> None:
    body = """\
defaults: {model: haiku}
tasks:
  left: {prompt: left}
  right: {prompt: right}
  join: {prompt: join, needs: [left, right]}
  tail: {prompt: tail, needs: [join]}
"""

    async def answer(request: ModelRequest) -> str:
        if request.task_id == "right":
            await asyncio.sleep(0.005)  # fails after left has
        raise ProviderError("client", "bad request", status=400)

    tape = Tape()
    result = run(plan_for(tmp_path, body), FunctionProvider(answer), recorder=tape)
    assert statuses(result) == {
        "left": "failed",
        "right": "failed",
        "join": "skipped",
        "tail": "skipped",
    }
    heard = [f.id for f in tape.finished]
    assert sorted(heard) == ["join", "left", "right", "tail"], heard
    # The reason names the need that failed first, and is not rewritten afterwards.
    assert result.tasks["join"].error == "skipped: needs 'left', which failed"


def test_cancelled_tasks_are_heard_once_without_times(tmp_path: Path) -> None:
    tasks = "".join(f"  t{i}: {{prompt: 't{i}'}}\n" for i in range(4))
    body = "defaults: {model: haiku}\ntasks:\n" + tasks

    def answer(request: ModelRequest) -> str:
        raise ProviderError("client", "bad request", status=400)

    tape = Tape()
    result = run(
        plan_for(tmp_path, body),
        FunctionProvider(answer),
        recorder=tape,
        fail_fast=True,
        concurrency=1,
    )
    assert statuses(result) == {"t0": "failed", **dict.fromkeys(["t1", "t2", "t3"], "cancelled")}
    assert sorted(f.id for f in tape.finished) == ["t0", "t1", "t2", "t3"]
    for tid in ("t1", "t2", "t3"):
        assert result.tasks[tid].started_at is None and result.tasks[tid].ended_at is None


def test_the_listener_sees_each_task_run_and_end(tmp_path: Path) -> None:
    seen: dict[str, list[str]] = {}

    def listener(task: TaskResult) -> None:
        seen.setdefault(task.id, []).append(task.status)

    body = "defaults: {model: haiku}\ntasks:\n  a: {prompt: a}\n  b: {prompt: b, needs: [a]}\n"
    run(plan_for(tmp_path, body), FunctionProvider(echo), listener=listener)
    for tid in ("a", "b"):
        assert seen[tid][0] == "running" and seen[tid][-1] == "succeeded"
        assert seen[tid].count("succeeded") == 1


def test_attempts_are_numbered_in_order_with_their_own_times(tmp_path: Path) -> None:
    calls: list[int] = []

    def answer(request: ModelRequest) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ProviderError("connection", "dropped")
        return "ok"

    result = run(plan_for(tmp_path, "tasks:\n  a: {prompt: a}\n"), FunctionProvider(answer))
    task = result.tasks["a"]
    assert [a.number for a in task.attempts] == [1, 2, 3]
    assert [a.error_kind for a in task.attempts] == ["connection", "connection", None]
    started = [a.started_at for a in task.attempts]
    assert started == sorted(started)
    assert task.started_at is not None and task.ended_at is not None
    assert task.started_at <= started[0] and task.attempts[-1].ended_at <= task.ended_at

"""Outputs flow downstream, concurrency holds, failures stay where they belong."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentflow.prices import Usage
from agentflow.providers.base import ModelRequest, ProviderError
from agentflow.providers.function import FunctionProvider
from tests.engine.helpers import InFlight, asked, echo, plan_for, run, statuses

pytestmark = pytest.mark.usefixtures("home")

DIAMOND = """\
defaults: {model: haiku}
tasks:
  draft: {prompt: "Draft about owls"}
  facts: {prompt: "Facts about owls"}
  review:
    needs: [draft, facts]
    prompt: "Review <<{{ tasks.draft.output }}>> with <<{{ tasks.facts.output }}>>"
"""


def independent(count: int, extra: str = "") -> str:
    tasks = "".join(f"  t{i}: {{prompt: 'task {i}'}}\n" for i in range(count))
    return f"defaults: {{model: haiku}}\n{extra}tasks:\n{tasks}"


def test_a_task_prompt_carries_its_needs_outputs(tmp_path: Path) -> None:
    provider = FunctionProvider(echo)
    result = run(plan_for(tmp_path, DIAMOND), provider)
    assert result.status == "succeeded"
    assert statuses(result) == dict.fromkeys(["draft", "facts", "review"], "succeeded")
    review = next(r for r in provider.requests if r.task_id == "review")
    assert review.prompt == (
        "Review <<Answer to: Draft about owls>> with <<Answer to: Facts about owls>>"
    )
    assert asked(provider)[-1] == "review"  # only once both needs had answered
    assert result.tasks["review"].output == f"Answer to: {review.prompt}"
    assert result.requests == 3


def test_structured_output_is_readable_downstream(tmp_path: Path) -> None:
    body = """\
defaults: {model: haiku}
tasks:
  judge:
    prompt: judge it
    output_schema: {type: object, required: [verdict]}
  announce: {needs: [judge], prompt: "The verdict was {{ tasks.judge.json.verdict }}."}
"""

    def answer(request: ModelRequest) -> str:
        return '{"verdict": "ship"}' if request.task_id == "judge" else "ok"

    provider = FunctionProvider(answer)
    result = run(plan_for(tmp_path, body), provider)
    assert result.tasks["judge"].document == {"verdict": "ship"}
    assert provider.requests[-1].prompt == "The verdict was ship."


def test_independent_tasks_run_side_by_side_up_to_the_workflow_concurrency(
    tmp_path: Path,
) -> None:
    answer = InFlight()
    provider = FunctionProvider(answer)
    result = run(plan_for(tmp_path, independent(9, "concurrency: 3\n")), provider)
    assert result.status == "succeeded"
    assert answer.peak == 3
    assert result.peak_in_flight == 3
    assert len(provider.requests) == 9


@pytest.mark.parametrize("limit", [1, 4])
def test_the_concurrency_option_overrides_the_workflow(tmp_path: Path, limit: int) -> None:
    answer = InFlight()
    result = run(
        plan_for(tmp_path, independent(8, "concurrency: 2\n")),
        FunctionProvider(answer),
        concurrency=limit,
    )
    assert result.status == "succeeded"
    assert answer.peak == limit


def test_a_dependent_starts_only_after_its_need_has_answered(tmp_path: Path) -> None:
    body = """\
defaults: {model: haiku}
concurrency: 5
tasks:
  first: {prompt: one}
  second: {prompt: "two {{ tasks.first.output }}", needs: [first]}
  third: {prompt: "three {{ tasks.second.output }}", needs: [second]}
"""
    answer = InFlight()
    provider = FunctionProvider(answer)
    result = run(plan_for(tmp_path, body), provider)
    assert answer.peak == 1  # a chain never overlaps, whatever the concurrency
    assert asked(provider) == ["first", "second", "third"]
    first, second, third = (result.tasks[t] for t in ("first", "second", "third"))
    assert first.ended_at is not None and second.started_at is not None
    assert first.ended_at <= second.started_at
    assert provider.requests[-1].prompt == "three Answer to: two Answer to: one"
    assert third.status == "succeeded"


# Failures ----------------------------------------------------------------------------------


def server_error(request: ModelRequest) -> str:
    raise ProviderError("server", "internal trouble", status=500)


@pytest.mark.parametrize(("retries", "attempts"), [(None, 4), (0, 1), (2, 3)])
def test_a_server_error_that_persists_uses_every_attempt_then_fails(
    tmp_path: Path, retries: int | None, attempts: int
) -> None:
    provider = FunctionProvider(server_error)
    body = "defaults: {model: haiku}\ntasks:\n  a: {prompt: hello}\n"
    result = run(plan_for(tmp_path, body), provider, retries=retries)
    task = result.tasks["a"]
    assert task.status == "failed"
    assert len(provider.requests) == attempts == task.requests
    assert [a.number for a in task.attempts] == list(range(1, attempts + 1))
    assert {a.error_kind for a in task.attempts} == {"server"}
    assert {a.status_code for a in task.attempts} == {500}
    assert task.error is not None and task.error.startswith("HTTP 500: internal trouble")
    if attempts > 1:
        assert task.error.endswith(f"(after {attempts} attempts)")
    assert result.status == "failed"


def test_the_workflow_retries_setting_counts(tmp_path: Path) -> None:
    provider = FunctionProvider(server_error)
    body = "defaults: {model: haiku}\ntasks:\n  a: {prompt: hello, retries: 1}\n"
    result = run(plan_for(tmp_path, body), provider)
    assert result.tasks["a"].requests == 2 == len(provider.requests)


def test_a_transient_error_is_retried_and_the_task_succeeds(tmp_path: Path) -> None:
    calls: list[str] = []

    def answer(request: ModelRequest) -> str:
        calls.append(request.task_id)
        if len(calls) < 3:
            raise ProviderError("overloaded", "busy", status=529)
        return "finally"

    result = run(plan_for(tmp_path, "tasks:\n  a: {prompt: hello}\n"), FunctionProvider(answer))
    task = result.tasks["a"]
    assert (task.status, task.output, task.requests) == ("succeeded", "finally", 3)
    assert [a.ok for a in task.attempts] == [False, False, True]
    assert result.throttle_events == 2
    assert result.status == "succeeded"


@pytest.mark.parametrize("kind", ["client", "auth"])
def test_a_non_retryable_error_fails_after_one_attempt(tmp_path: Path, kind: str) -> None:
    def answer(request: ModelRequest) -> str:
        raise ProviderError(kind, "max_tokens: too large", status=400)  # type: ignore[arg-type]

    provider = FunctionProvider(answer)
    body = "defaults: {model: haiku, retries: 5}\ntasks:\n  a: {prompt: hello}\n"
    result = run(plan_for(tmp_path, body), provider)
    task = result.tasks["a"]
    assert task.status == "failed"
    assert len(provider.requests) == 1 == task.requests
    assert task.error == "HTTP 400: max_tokens: too large"


def test_a_failed_attempt_that_was_billed_is_charged(tmp_path: Path) -> None:
    billed = Usage(1000, 200)

    def answer(request: ModelRequest) -> str:
        raise ProviderError("server", "cut off", status=500, usage=billed)

    prepared = plan_for(tmp_path, "defaults: {model: haiku}\ntasks:\n  a: {prompt: hi}\n")
    result = run(prepared, FunctionProvider(answer), retries=1)
    one = prepared.prices.cost("haiku", billed)
    assert one > 0
    assert result.tasks["a"].cost_usd == pytest.approx(2 * one)
    assert result.cost_usd == pytest.approx(2 * one)
    assert result.usage.input_tokens == 2000


def test_a_timeout_is_a_retried_attempt(tmp_path: Path) -> None:
    calls: list[int] = []

    async def answer(request: ModelRequest) -> str:
        calls.append(1)
        if len(calls) == 1:
            await asyncio.sleep(1)  # cut short by the 0.02 s timeout
        return "in time"

    provider = FunctionProvider(answer)
    result = run(plan_for(tmp_path, "tasks:\n  a: {prompt: hi}\n"), provider, timeout=0.02)
    task = result.tasks["a"]
    assert (task.status, task.output) == ("succeeded", "in time")
    assert task.attempts[0].error_kind == "timeout"
    assert task.attempts[0].error.startswith("no answer within 0.02s (charged up to $")
    # The API may still bill an attempt it was not waited for: charged at its worst case.
    assert task.attempts[0].estimated and task.attempts[0].cost_usd > 0
    assert task.attempts[0].usage.output_tokens == 1024
    assert provider.requests[0].timeout == 0.02


def test_a_failure_skips_its_dependents_and_nothing_else(tmp_path: Path) -> None:
    body = DIAMOND + "  other: {prompt: 'Unrelated work'}\n  after: {prompt: x, needs: [review]}\n"

    def answer(request: ModelRequest) -> str:
        if request.task_id == "draft":
            raise ProviderError("server", "internal trouble", status=500)
        return echo(request)

    provider = FunctionProvider(answer)
    result = run(plan_for(tmp_path, body), provider, retries=1)
    assert statuses(result) == {
        "draft": "failed",
        "facts": "succeeded",
        "review": "skipped",
        "other": "succeeded",
        "after": "skipped",
    }
    for skipped in ("review", "after"):
        assert result.tasks[skipped].error == "skipped: needs 'draft', which failed"
        assert result.tasks[skipped].requests == 0
    assert sorted(asked(provider)) == ["draft", "draft", "facts", "other"]
    assert result.status == "failed"


def test_fail_fast_cancels_what_has_not_started(tmp_path: Path) -> None:
    def answer(request: ModelRequest) -> str:
        if request.task_id == "t0":
            raise ProviderError("client", "bad request", status=400)
        return "ok"

    body = independent(5) + "  child: {prompt: c, needs: [t0]}\n"
    provider = FunctionProvider(answer)
    result = run(plan_for(tmp_path, body), provider, fail_fast=True, concurrency=1)
    assert asked(provider) == ["t0"]
    assert result.tasks["t0"].status == "failed"
    assert result.tasks["child"].status == "skipped"
    for tid in ("t1", "t2", "t3", "t4"):
        assert result.tasks[tid].status == "cancelled"
        assert result.tasks[tid].error == "not started: --fail-fast"
        assert result.tasks[tid].started_at is None
    assert result.status == "failed"


def test_without_fail_fast_the_rest_still_runs(tmp_path: Path) -> None:
    def answer(request: ModelRequest) -> str:
        if request.task_id == "t0":
            raise ProviderError("client", "bad request", status=400)
        return "ok"

    provider = FunctionProvider(answer)
    result = run(plan_for(tmp_path, independent(5)), provider, concurrency=1)
    assert asked(provider) == ["t0", "t1", "t2", "t3", "t4"]
    assert result.count("succeeded") == 4 and result.count("failed") == 1


def test_fail_fast_lets_in_flight_tasks_finish(tmp_path: Path) -> None:
    async def answer(request: ModelRequest) -> str:
        if request.task_id == "t0":
            raise ProviderError("client", "bad request", status=400)
        await asyncio.sleep(0.01)
        return "ok"

    result = run(
        plan_for(tmp_path, independent(6)), FunctionProvider(answer), fail_fast=True, concurrency=3
    )
    assert statuses(result) == {
        "t0": "failed",
        "t1": "succeeded",
        "t2": "succeeded",
        "t3": "cancelled",
        "t4": "cancelled",
        "t5": "cancelled",
    }


def test_an_unexpected_exception_fails_only_its_task(tmp_path: Path) -> None:
    def answer(request: ModelRequest) -> str:
        if request.task_id == "t1":
            raise RuntimeError("a bug in the answer")
        return "ok"

    result = run(plan_for(tmp_path, independent(3)), FunctionProvider(answer))
    assert statuses(result) == {"t0": "succeeded", "t1": "failed", "t2": "succeeded"}
    assert result.tasks["t1"].error == "internal error: RuntimeError: a bug in the answer"
    assert result.status == "failed"


# Scheduling ---------------------------------------------------------------------------------

WAVES = """\
defaults: {model: haiku}
tasks:
  a: {prompt: a}
  slow: {prompt: slow}
  c: {prompt: c, needs: [a]}
"""


async def slow_answer(request: ModelRequest) -> str:
    await asyncio.sleep(0.01 if request.task_id == "slow" else 0.0)
    return "done"


def test_dynamic_scheduling_starts_a_task_as_soon_as_its_needs_are_done(tmp_path: Path) -> None:
    c_asked = asyncio.Event()

    async def answer(request: ModelRequest) -> str:
        if request.task_id == "c":
            c_asked.set()
        elif request.task_id == "slow":
            # Answers only once c has been asked (or gives up after a second): c must not
            # wait for the rest of its wave.
            await asyncio.wait_for(c_asked.wait(), timeout=1.0)
        return "done"

    result = run(plan_for(tmp_path, WAVES), FunctionProvider(answer))
    assert statuses(result) == dict.fromkeys(["a", "slow", "c"], "succeeded")
    c, slow = result.tasks["c"], result.tasks["slow"]
    assert c.started_at is not None and slow.ended_at is not None
    assert c.started_at < slow.ended_at


def test_waves_scheduling_waits_for_the_whole_previous_wave(tmp_path: Path) -> None:
    prepared = plan_for(tmp_path, WAVES)
    assert prepared.plan.waves == (("a", "slow"), ("c",))
    result = run(prepared, FunctionProvider(slow_answer), schedule="waves")
    c, slow = result.tasks["c"], result.tasks["slow"]
    assert c.started_at is not None and slow.ended_at is not None
    assert c.started_at >= slow.ended_at


def test_the_longest_remaining_path_goes_first(tmp_path: Path) -> None:
    body = """\
defaults: {model: haiku}
tasks:
  short: {prompt: s}
  head: {prompt: h}
  middle: {prompt: m, needs: [head]}
  end: {prompt: e, needs: [middle]}
"""
    provider = FunctionProvider(echo)
    run(plan_for(tmp_path, body), provider, concurrency=1)
    # head and middle lead longer paths than short; then short and end tie (file order).
    assert asked(provider) == ["head", "middle", "short", "end"]


# Prompt caching -----------------------------------------------------------------------------

AGENT_BODY = " ".join(
    f"Rule {i}: review every claim for evidence before accepting it." for i in range(240)
)  # about 3,000 tokens: past sonnet's minimum cacheable prefix


def shared_prefix(tmp_path: Path) -> str:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "checker.md").write_text(
        f"---\nname: checker\ndescription: checks claims\nmodel: sonnet\n---\n{AGENT_BODY}\n"
    )
    tasks = "".join(f"  t{i}: {{prompt: 'Check claim {i}.', agent: checker}}\n" for i in range(6))
    return "agents: agents\ndefaults: {max_tokens: 50}\nconcurrency: 5\ntasks:\n" + tasks


def test_tasks_sharing_a_cacheable_prefix_wait_for_its_first_answer(tmp_path: Path) -> None:
    order: list[str] = []

    async def answer(request: ModelRequest) -> str:
        order.append(f"start:{request.task_id}")
        await asyncio.sleep(0.002)
        order.append(f"end:{request.task_id}")
        return "checked"

    provider = FunctionProvider(answer)
    result = run(plan_for(tmp_path, shared_prefix(tmp_path)), provider)
    assert result.status == "succeeded"
    assert order[:2] == ["start:t0", "end:t0"]  # the prefix is written once...
    assert order[2:4] == ["start:t1", "start:t2"]  # ...then read side by side
    assert all(r.cache_system for r in provider.requests)
    assert {r.system for r in provider.requests} == {AGENT_BODY}


def test_without_prompt_caching_nothing_waits(tmp_path: Path) -> None:
    answer = InFlight(lambda request: "checked")
    provider = FunctionProvider(answer)
    run(plan_for(tmp_path, shared_prefix(tmp_path)), provider, prompt_cache=False)
    assert answer.peak == 5
    assert not any(r.cache_system for r in provider.requests)

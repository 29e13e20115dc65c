"""Tool-use loops: turns, tool calls, shared state, waits_for and max_turns."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentflow.engine.cache import ResponseCache
from agentflow.providers.base import ModelRequest, ModelResponse
from agentflow.providers.function import FunctionProvider, reply, tool_call
from tests.engine.helpers import Tape, asked, plan_for, run, statuses

pytestmark = pytest.mark.usefixtures("home")

SETTER = """\
defaults: {model: haiku}
tasks:
  setter: {prompt: "Make a plan", tools: [set_state], sets: [plan]}
"""

WAITER = (
    SETTER
    + """\
  waiter: {prompt: "Follow {{ state.plan }}", waits_for: [state.plan]}
  after: {prompt: "Then {{ tasks.waiter.output }}", needs: [waiter]}
"""
)


def tool_results(request: ModelRequest) -> list[dict[str, Any]]:
    """The tool_result blocks of the request's last user turn."""
    if not request.history:
        return []
    content = request.history[-1]["content"]
    return [block for block in content if block.get("type") == "tool_result"]


def sets_the_plan(value: str = "PLAN-42") -> Any:
    """The setter calls set_state on its first turn, answers on its second; others echo."""

    def answer(request: ModelRequest) -> ModelResponse | str:
        if request.task_id == "setter":
            if not request.history:
                return tool_call("set_state", {"key": "plan", "value": value})
            return "planned"
        return f"did: {request.prompt}"

    return answer


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[ResponseCache]:
    opened = ResponseCache(tmp_path / "cache")
    yield opened
    opened.close()


def test_a_tool_call_then_an_answer_is_two_turns_and_one_call(tmp_path: Path) -> None:
    tape = Tape()
    provider = FunctionProvider(sets_the_plan())
    result = run(plan_for(tmp_path, SETTER), provider, recorder=tape)
    task = result.tasks["setter"]
    assert (task.status, task.output) == ("succeeded", "planned")
    assert (task.turns, task.tool_calls) == (2, 1)
    assert task.requests == 2 and len(provider.requests) == 2
    first, second = provider.requests
    assert [t["name"] for t in first.tools] == ["set_state"]
    assert first.history == ()
    # The second turn carries the call and its result back to the model.
    assert second.history[0]["role"] == "assistant"
    assert second.history[0]["content"][0]["name"] == "set_state"
    assert tool_results(second) == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": 'state "plan" set (version 1)'}
    ]
    changes = [e for e in tape.messages if e.kind == "state"]
    assert [(e.task, e.payload["key"], e.payload["new"]) for e in changes] == [
        ("setter", "plan", "PLAN-42")
    ]
    assert task.cost_usd == pytest.approx(sum(a.cost_usd for a in task.attempts))
    assert task.cost_usd > 0


def test_a_waiter_starts_once_the_key_is_set_and_reads_it(tmp_path: Path) -> None:
    tape = Tape()
    provider = FunctionProvider(sets_the_plan())
    result = run(plan_for(tmp_path, WAITER), provider, recorder=tape)
    assert statuses(result) == dict.fromkeys(["setter", "waiter", "after"], "succeeded")
    waiter_request = next(r for r in provider.requests if r.task_id == "waiter")
    assert waiter_request.prompt == "Follow PLAN-42"
    assert asked(provider).index("waiter") > asked(provider).index("setter")
    set_at = next(e.at for e in tape.messages if e.kind == "state")
    waiter = result.tasks["waiter"]
    assert waiter.started_at is not None and waiter.started_at >= set_at
    assert provider.requests[-1].prompt == "Then did: Follow PLAN-42"


def test_a_waiter_does_not_start_early_even_with_free_slots(tmp_path: Path) -> None:
    async def slow_setter(request: ModelRequest) -> ModelResponse | str:
        if request.task_id == "setter" and not request.history:
            await asyncio.sleep(0.01)  # the waiter has every chance to jump the gun
        return sets_the_plan("late plan")(request)

    provider = FunctionProvider(slow_setter)
    result = run(plan_for(tmp_path, WAITER), provider, concurrency=5)
    assert asked(provider)[0] == "setter"
    assert result.tasks["waiter"].output == "did: Follow late plan"


def test_a_key_never_set_fails_its_waiter_instead_of_hanging(tmp_path: Path) -> None:
    provider = FunctionProvider(lambda request: "I forgot to set it")
    result = run(plan_for(tmp_path, WAITER), provider)
    assert statuses(result) == {"setter": "succeeded", "waiter": "failed", "after": "skipped"}
    assert result.tasks["waiter"].error == (
        "waits_for state.plan, which no task set "
        "(setter succeeded without calling set_state for 'plan')"
    )
    assert result.tasks["waiter"].started_at is None
    assert result.tasks["after"].error == "skipped: needs 'waiter', which failed"
    assert asked(provider) == ["setter"]
    assert result.status == "failed"


def test_max_turns_reached_fails_the_task_and_keeps_its_turns_counted(tmp_path: Path) -> None:
    body = (
        "defaults: {model: haiku}\ntasks:\n"
        "  busy: {prompt: go, tools: [set_state], sets: [k], max_turns: 3}\n"
    )
    calls: list[int] = []

    def answer(request: ModelRequest) -> ModelResponse:
        calls.append(1)
        return tool_call("set_state", {"key": "k", "value": len(calls)}, f"toolu_{len(calls)}")

    result = run(plan_for(tmp_path, body), FunctionProvider(answer))
    task = result.tasks["busy"]
    assert task.status == "failed"
    assert len(calls) == 3 == task.requests == task.turns
    assert task.tool_calls == 2  # the third turn's calls were not run
    assert task.error is not None and task.error.startswith("max_turns: stopped after 3 turns")
    assert task.cost_usd > 0
    assert result.status == "failed"


def test_an_unknown_tool_is_an_error_result_the_model_can_act_on(tmp_path: Path) -> None:
    def answer(request: ModelRequest) -> ModelResponse | str:
        if not request.history:
            return tool_call("Bash", {"command": "rm -rf /"})
        return "gave up on Bash"

    provider = FunctionProvider(answer)
    result = run(plan_for(tmp_path, SETTER), provider)
    assert result.tasks["setter"].status == "succeeded"
    [block] = tool_results(provider.requests[1])
    assert block["is_error"] is True
    assert block["content"] == "no tool named 'Bash' (tools: set_state)"


@pytest.mark.parametrize("tool_input", ["plan", ["plan", 1], 7])
def test_a_tool_input_that_is_not_an_object_is_an_error_result(
    tmp_path: Path, tool_input: object
) -> None:
    def answer(request: ModelRequest) -> ModelResponse | str:
        if not request.history:
            block = {"type": "tool_use", "id": "toolu_1", "name": "set_state", "input": tool_input}
            return reply(stop_reason="tool_use", content=(block,))
        return "gave up"

    provider = FunctionProvider(answer)
    result = run(plan_for(tmp_path, SETTER), provider)
    assert result.tasks["setter"].status == "succeeded"  # not "internal error"
    [block] = tool_results(provider.requests[1])
    assert block["is_error"] is True
    assert block["content"].startswith("the input of set_state must be a JSON object")


def test_a_tool_call_has_a_time_limit(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_text("line\n" * 50_000)
    body = "defaults: {model: haiku}\ntasks:\n  look: {prompt: go, tools: [Grep]}\n"

    def answer(request: ModelRequest) -> ModelResponse | str:
        if not request.history:
            return tool_call("Grep", {"pattern": "nothing-like-this"})
        return "done"

    provider = FunctionProvider(answer)
    result = run(plan_for(tmp_path, body), provider, tool_timeout=0.001)
    assert result.tasks["look"].status == "succeeded"
    [block] = tool_results(provider.requests[1])
    assert block["is_error"] is True and block["content"] == "Grep did not finish within 0.001 s"


def test_several_calls_in_one_turn_all_run(tmp_path: Path) -> None:
    body = (
        "defaults: {model: haiku}\ntasks:\n"
        "  many: {prompt: go, tools: [set_state, get_state], sets: [a, b]}\n"
    )

    def answer(request: ModelRequest) -> ModelResponse | str:
        if not request.history:
            first = tool_call("set_state", {"key": "a", "value": 1}, "u1").content
            second = tool_call("set_state", {"key": "b", "value": 2}, "u2").content
            return reply(stop_reason="tool_use", content=(*first, *second))
        return "both set"

    provider = FunctionProvider(answer)
    result = run(plan_for(tmp_path, body), provider)
    task = result.tasks["many"]
    assert (task.status, task.turns, task.tool_calls) == ("succeeded", 2, 2)
    assert [b["tool_use_id"] for b in tool_results(provider.requests[1])] == ["u1", "u2"]


def test_a_loop_turn_that_fails_its_check_is_retried(tmp_path: Path) -> None:
    body = (
        "defaults: {model: haiku}\ntasks:\n"
        "  setter: {prompt: go, tools: [set_state], sets: [plan], checks: {contains: DONE},"
        " retries: 1}\n"
    )
    answers = iter(["not yet", "DONE"])

    def answer(request: ModelRequest) -> ModelResponse | str:
        if not request.history:
            return tool_call("set_state", {"key": "plan", "value": 1})
        return next(answers)

    result = run(plan_for(tmp_path, body), FunctionProvider(answer))
    task = result.tasks["setter"]
    assert (task.status, task.output, task.turns, task.requests) == ("succeeded", "DONE", 2, 3)
    assert task.attempts[1].error_kind == "invalid_output"


def test_a_rerun_replays_every_turn_from_the_cache_and_runs_the_tools_again(
    tmp_path: Path, cache: ResponseCache
) -> None:
    prepared = plan_for(tmp_path, WAITER)
    first = run(prepared, FunctionProvider(sets_the_plan()), cache=cache)
    assert first.status == "succeeded"

    tape = Tape()
    provider = FunctionProvider(sets_the_plan())
    result = run(prepared, provider, cache=cache, recorder=tape, run_id="run-2")
    assert provider.requests == []
    setter = result.tasks["setter"]
    assert (setter.status, setter.source, setter.output) == ("cached", "cache", "planned")
    assert (setter.turns, setter.tool_calls, setter.requests) == (2, 1, 0)
    assert setter.saved_usd == pytest.approx(first.tasks["setter"].cost_usd)
    # The tool ran again: the key was set in this run too, and the waiter read it.
    assert [e.payload["new"] for e in tape.messages if e.kind == "state"] == ["PLAN-42"]
    assert result.tasks["waiter"].output == "did: Follow PLAN-42"
    assert statuses(result) == dict.fromkeys(["setter", "waiter", "after"], "cached")


def test_a_loop_answered_from_the_cache_passes_its_output_on(
    tmp_path: Path, cache: ResponseCache
) -> None:
    body = SETTER + '  reader: {prompt: "Read {{ tasks.setter.output }}", needs: [setter]}\n'
    prepared = plan_for(tmp_path, body)
    assert run(prepared, FunctionProvider(sets_the_plan()), cache=cache).status == "succeeded"
    provider = FunctionProvider(sets_the_plan())
    result = run(prepared, provider, cache=cache, run_id="run-2")
    assert result.tasks["setter"].status == "cached"
    # The reader's prompt has the setter's output, as in the first run: its answer is cached.
    assert provider.requests == []
    assert (result.tasks["reader"].status, result.tasks["reader"].output) == (
        "cached",
        "did: Read planned",
    )


def test_ask_agent_is_a_sub_call_charged_to_the_asking_task(tmp_path: Path) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "expert.md").write_text(
        "---\nname: expert\ndescription: The arithmetic expert.\nmodel: sonnet\n---\n"
        "You are the EXPERT on arithmetic.\n"
    )
    body = (
        "agents: agents\ndefaults: {model: haiku}\n"
        "tasks:\n  decide: {prompt: Decide the number., tools: [ask_agent]}\n"
    )

    def answer(request: ModelRequest) -> ModelResponse | str:
        if "EXPERT" in request.system:
            return "The answer is 42."
        if not request.history:
            return tool_call("ask_agent", {"agent": "expert", "question": "What is 6 * 7?"})
        return f"Decided: {tool_results(request)[0]['content']}"

    provider = FunctionProvider(answer)
    result = run(plan_for(tmp_path, body), provider)
    task = result.tasks["decide"]
    assert (task.status, task.output) == ("succeeded", "Decided: The answer is 42.")
    assert (task.turns, task.tool_calls, task.requests) == (2, 1, 3)
    sub = provider.requests[1]
    assert (sub.prompt, sub.model, sub.tools) == ("What is 6 * 7?", "claude-sonnet-5-5", ())
    assert [a.purpose for a in task.attempts] == ["answer", "ask:expert", "answer"]
    assert [a.model for a in task.attempts][1] == "claude-sonnet-5-5"

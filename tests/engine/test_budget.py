"""The hard budget cap: reserve the worst case first, so the sum of charges never exceeds it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from agentflow.prices import Usage
from agentflow.providers.base import ModelRequest, ModelResponse, ProviderError
from agentflow.providers.function import FunctionProvider, reply, tool_call
from tests.engine.helpers import InFlight, asked, plan_for, run, statuses, worst_case, worst_reply

pytestmark = pytest.mark.usefixtures("home")

MAX_TOKENS = 200


def pairs(count: int, budget: str) -> str:
    """`count` parents, each with a child that reads it."""
    tasks = "".join(
        f"  p{i}: {{prompt: 'Parent {i}'}}\n"
        f"  c{i}: {{prompt: 'Child of {{{{ tasks.p{i}.output }}}}', needs: [p{i}]}}\n"
        for i in range(count)
    )
    return (
        f"defaults: {{model: haiku, max_tokens: {MAX_TOKENS}, retries: 0}}\n"
        f"budget: {budget}\nconcurrency: 4\ntasks:\n{tasks}"
    )


def test_the_cap_holds_when_every_answer_costs_its_whole_reservation(tmp_path: Path) -> None:
    probe = plan_for(tmp_path, pairs(8, "{usd: 1.0}"), name="probe.yaml")
    one = worst_case(probe, "p0", "Parent 0")
    cap = round(one * 5.5, 8)  # about five parents' worth
    prepared = plan_for(tmp_path, pairs(8, f"{{usd: {cap}}}"))
    answer = InFlight(worst_reply, delay=0.002)
    provider = FunctionProvider(answer)
    result = run(prepared, provider)

    spent = sum(a.cost_usd for t in result.tasks.values() for a in t.attempts)
    assert spent <= cap + 1e-12, (spent, cap)
    # Every answer cost what was reserved for it: the cap is filled, not just respected.
    assert spent > cap - 2 * one
    assert answer.peak > 1  # the cap held at concurrency, not one task at a time
    assert result.status == "budget_exceeded"
    refused = [tid for tid, task in result.tasks.items() if task.status == "budget"]
    assert refused, statuses(result)
    assert set(statuses(result).values()) <= {"succeeded", "budget", "skipped"}
    for tid in refused:
        task = result.tasks[tid]
        assert task.requests == 0 and tid not in asked(provider)
        assert task.error is not None and task.error.startswith("budget: needs up to $")
    for i in range(8):
        parent, child = result.tasks[f"p{i}"], result.tasks[f"c{i}"]
        if parent.status == "budget":
            assert child.status == "skipped"
            assert child.error == f"skipped: needs 'p{i}', which did not fit the budget"
    assert len(provider.requests) == result.count("succeeded")


def test_a_task_waits_for_budget_that_running_tasks_release(tmp_path: Path) -> None:
    body = "".join(f"  t{i}: {{prompt: 'Task {i}'}}\n" for i in range(6))
    header = f"defaults: {{model: haiku, max_tokens: {MAX_TOKENS}, retries: 0}}\nconcurrency: 4\n"
    probe = plan_for(tmp_path, header + "tasks:\n" + body, name="probe.yaml")
    one = max(worst_case(probe, f"t{i}", f"Task {i}") for i in range(6))
    cap = round(one * 2.5, 8)  # two worst cases at a time
    prepared = plan_for(tmp_path, header + f"budget: {{usd: {cap}}}\ntasks:\n" + body)
    answer = InFlight(lambda request: reply("cheap", input_tokens=1, output_tokens=1))
    result = run(prepared, FunctionProvider(answer))
    # Each answer costs almost nothing, so every task fits in the end; but no more than two
    # worst cases were ever held at once, whatever the concurrency.
    assert statuses(result) == {f"t{i}": "succeeded" for i in range(6)}
    assert answer.peak == 2
    assert result.status == "succeeded"


def test_a_task_whose_worst_case_never_fits_is_refused_without_a_request(tmp_path: Path) -> None:
    body = (
        "defaults: {model: opus, max_tokens: 4000}\nbudget: {usd: 0.001}\n"
        "tasks:\n  big: {prompt: hello}\n  after: {prompt: x, needs: [big]}\n"
    )
    provider = FunctionProvider(lambda request: "never")
    result = run(plan_for(tmp_path, body), provider)
    assert provider.requests == []
    big = result.tasks["big"]
    assert big.status == "budget"
    assert big.error is not None and "$0.0010 left" in big.error
    assert result.tasks["after"].status == "skipped"
    assert result.status == "budget_exceeded"
    assert result.budget_usd == 0.001


def test_a_retry_is_reserved_and_charged(tmp_path: Path) -> None:
    billed = Usage(5, 50)
    calls: list[str] = []

    def answer(request: ModelRequest) -> ModelResponse:
        calls.append(request.task_id)
        if len(calls) == 1:
            raise ProviderError("server", "oops", status=500, usage=billed)
        return reply("fine", input_tokens=5, output_tokens=50)

    body = (
        "defaults: {model: haiku, max_tokens: 100, retries: 1}\nbudget: {usd: 1.0}\n"
        "tasks:\n  a: {prompt: hello}\n"
    )
    prepared = plan_for(tmp_path, body)
    result = run(prepared, FunctionProvider(answer))
    task = result.tasks["a"]
    assert task.status == "succeeded" and task.requests == 2
    assert task.cost_usd == pytest.approx(2 * prepared.prices.cost("haiku", billed))


def test_no_retry_is_made_that_the_reservation_cannot_cover(tmp_path: Path) -> None:
    # The failed attempt was billed far more than its worst case was thought to be (the
    # estimate can be wrong): what is left of the reservation cannot pay for another try.
    def answer(request: ModelRequest) -> ModelResponse:
        raise ProviderError("server", "oops", status=500, usage=Usage(100_000, 0))

    body = (
        "defaults: {model: haiku, max_tokens: 100, retries: 3}\nbudget: {usd: 1.0}\n"
        "tasks:\n  a: {prompt: hello}\n"
    )
    provider = FunctionProvider(answer)
    result = run(plan_for(tmp_path, body), provider)
    task = result.tasks["a"]
    assert task.status == "failed"
    assert len(provider.requests) == 1
    assert task.error == "HTTP 500: oops; no retry: the budget cannot cover it"


def test_a_token_cap_holds_too(tmp_path: Path) -> None:
    tasks = "".join(f"  t{i}: {{prompt: 'Task {i}'}}\n" for i in range(6))
    body = (
        "defaults: {model: haiku, max_tokens: 100, retries: 0}\nbudget: {tokens: 400}\n"
        "tasks:\n" + tasks
    )

    def answer(request: ModelRequest) -> ModelResponse:
        return reply("long", input_tokens=10, output_tokens=request.max_tokens)

    result = run(plan_for(tmp_path, body), FunctionProvider(answer), concurrency=3)
    spent = sum(t.usage.total_tokens for t in result.tasks.values())
    assert spent <= 400
    assert result.count("succeeded") >= 2
    assert result.count("budget") >= 1
    refused = next(t for t in result.tasks.values() if t.status == "budget")
    assert refused.error is not None and "tokens" in refused.error
    assert result.status == "budget_exceeded"
    assert result.budget_tokens == 400


def test_without_a_cap_nothing_is_refused(tmp_path: Path) -> None:
    tasks = "".join(f"  t{i}: {{prompt: 'Task {i}'}}\n" for i in range(5))
    body = "defaults: {model: opus, max_tokens: 4000}\ntasks:\n" + tasks
    result = run(plan_for(tmp_path, body), FunctionProvider(worst_reply))
    assert result.count("succeeded") == 5
    assert result.status == "succeeded"
    assert result.budget_usd is None


def test_the_prepare_budget_overrides_the_file(tmp_path: Path) -> None:
    body = (
        "defaults: {model: opus, max_tokens: 4000}\nbudget: {usd: 100}\n"
        "tasks:\n  a: {prompt: hello}\n"
    )
    provider = FunctionProvider(lambda request: "never")
    result = run(plan_for(tmp_path, body, budget_usd=0.0001), provider)
    assert result.tasks["a"].status == "budget" and provider.requests == []


LOOP = """\
defaults: {{model: haiku, max_tokens: 1000, retries: 0}}
budget: {{usd: {cap}}}
tasks:
  loop: {{prompt: "Make a plan", tools: [set_state], sets: [plan]}}
"""


def costly_loop(request: ModelRequest) -> ModelResponse:
    """Turn 1 calls set_state, turn 2 answers; each turn costs $0.00501 on haiku."""
    if not request.history:
        call = tool_call("set_state", {"key": "plan", "value": "P"})
        return replace(call, usage=Usage(10, 1000))
    return reply("done", input_tokens=10, output_tokens=1000)


def test_a_loop_whose_next_turn_no_longer_fits_ends_budget(tmp_path: Path) -> None:
    provider = FunctionProvider(costly_loop)
    result = run(plan_for(tmp_path, LOOP.format(cap=0.008)), provider)
    task = result.tasks["loop"]
    assert task.status == "budget"
    assert task.error is not None and task.error.startswith("budget: turn 2 no longer fits")
    assert len(provider.requests) == 1 == task.requests  # turn 2 was never sent
    assert task.tool_calls == 1
    assert task.cost_usd == pytest.approx(0.00501) and task.cost_usd <= 0.008
    assert task.started_at is not None and task.ended_at is not None  # it did run
    assert result.status == "budget_exceeded"


def test_a_loop_counts_only_the_turns_it_took(tmp_path: Path) -> None:
    provider = FunctionProvider(costly_loop)
    result = run(plan_for(tmp_path, LOOP.format(cap=0.008)), provider)
    task = result.tasks["loop"]
    assert task.status == "budget"
    # `turns` counts model turns "answered by the API or by the cache"; turn 2 was neither.
    assert task.turns == 1


def test_a_loop_that_fits_runs_to_its_answer(tmp_path: Path) -> None:
    result = run(plan_for(tmp_path, LOOP.format(cap=0.012)), FunctionProvider(costly_loop))
    task = result.tasks["loop"]
    assert (task.status, task.turns, task.requests) == ("succeeded", 2, 2)
    assert task.cost_usd == pytest.approx(0.01002)


class CountingTokens(FunctionProvider):
    """A provider whose exact count says the input is far larger than estimated."""

    def __init__(self, tokens: int) -> None:
        super().__init__(lambda request: "answered")
        self.tokens = tokens
        self.counted: list[str] = []

    async def count_tokens(self, request: ModelRequest) -> int:
        self.counted.append(request.task_id)
        return self.tokens


@pytest.mark.parametrize(("tokens", "status"), [(20, "succeeded"), (2_000_000, "budget")])
def test_exact_count_resizes_the_reservation(tmp_path: Path, tokens: int, status: str) -> None:
    body = (
        "defaults: {model: haiku, max_tokens: 100}\nbudget: {usd: 0.5}\n"
        "tasks:\n  a: {prompt: hello}\n"
    )
    provider = CountingTokens(tokens)
    result = run(plan_for(tmp_path, body), provider, exact_count=True)
    task = result.tasks["a"]
    assert provider.counted == ["a"]
    assert task.status == status
    if status == "budget":
        assert task.error == "budget: the exact input count no longer fits"
        assert provider.requests == []

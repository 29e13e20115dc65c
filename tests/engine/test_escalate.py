"""Escalate chains, checks and output schemas: a poor answer is a failed attempt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentflow.providers.base import ModelRequest, ModelResponse, ProviderError
from agentflow.providers.function import FunctionProvider, reply
from tests.engine.helpers import plan_for, run

pytestmark = pytest.mark.usefixtures("home")

HAIKU, SONNET, OPUS = "claude-haiku-5-5", "claude-sonnet-5-5", "claude-opus-5-5"

CHAIN = """\
tasks:
  a:
    prompt: "Give the verdict"
    escalate: [haiku, sonnet]
    checks: {contains: VERDICT}
    retries: 1
"""


def by_model(answers: dict[str, str]) -> FunctionProvider:
    def answer(request: ModelRequest) -> ModelResponse:
        return reply(answers[request.model], input_tokens=100, output_tokens=20)

    return FunctionProvider(answer)


def test_an_answer_that_fails_its_check_moves_up_the_chain(tmp_path: Path) -> None:
    prepared = plan_for(tmp_path, CHAIN)
    provider = by_model({HAIKU: "meh", SONNET: "VERDICT: ship"})
    result = run(prepared, provider)
    task = result.tasks["a"]
    assert (task.status, task.output, task.model) == ("succeeded", "VERDICT: ship", SONNET)
    assert [r.model for r in provider.requests] == [HAIKU, SONNET]  # haiku is not asked twice
    assert [(a.number, a.model, a.ok, a.error_kind) for a in task.attempts] == [
        (1, HAIKU, False, "invalid_output"),
        (2, SONNET, True, None),
    ]
    assert task.attempts[0].error == "check failed: the answer does not contain 'VERDICT'"
    # Each attempt is priced at its own model's rates, and the failed one is charged too.
    prices = prepared.prices
    assert task.attempts[0].cost_usd == pytest.approx(prices.cost("haiku", task.attempts[0].usage))
    assert task.attempts[1].cost_usd == pytest.approx(prices.cost("sonnet", task.attempts[1].usage))
    assert task.attempts[1].cost_usd > task.attempts[0].cost_usd > 0
    assert task.cost_usd == pytest.approx(sum(a.cost_usd for a in task.attempts))
    assert result.status == "succeeded"


def test_a_first_model_that_passes_ends_the_chain(tmp_path: Path) -> None:
    provider = by_model({HAIKU: "VERDICT: fine", SONNET: "never asked"})
    result = run(plan_for(tmp_path, CHAIN), provider)
    task = result.tasks["a"]
    assert (task.status, task.model, task.requests) == ("succeeded", HAIKU, 1)
    assert [r.model for r in provider.requests] == [HAIKU]


def test_the_last_model_keeps_its_retries_then_the_task_fails(tmp_path: Path) -> None:
    provider = by_model({HAIKU: "meh", SONNET: "still meh"})
    result = run(plan_for(tmp_path, CHAIN), provider)
    task = result.tasks["a"]
    assert task.status == "failed"
    assert [r.model for r in provider.requests] == [HAIKU, SONNET, SONNET]  # retries: 1
    assert [a.number for a in task.attempts] == [1, 2, 3]
    assert task.error == "check failed: the answer does not contain 'VERDICT' (after 2 attempts)"
    assert result.status == "failed"


def test_a_transient_error_is_retried_on_the_same_model(tmp_path: Path) -> None:
    calls: list[str] = []

    def answer(request: ModelRequest) -> str:
        calls.append(request.model)
        if len(calls) == 1:
            raise ProviderError("server", "blip", status=503)
        return "VERDICT: ok"

    provider = FunctionProvider(answer)
    result = run(plan_for(tmp_path, CHAIN), provider)
    assert calls == [HAIKU, HAIKU]
    assert (result.tasks["a"].status, result.tasks["a"].model) == ("succeeded", HAIKU)


def test_an_empty_answer_moves_up_the_chain(tmp_path: Path) -> None:
    provider = by_model({HAIKU: "", SONNET: "VERDICT"})
    result = run(plan_for(tmp_path, CHAIN), provider)
    task = result.tasks["a"]
    assert task.model == SONNET and task.status == "succeeded"
    assert task.attempts[0].error == "the answer is empty"


def test_a_failed_check_without_a_chain_is_retried_on_the_same_model(tmp_path: Path) -> None:
    body = "tasks:\n  a: {prompt: p, model: haiku, checks: {max_chars: 5}, retries: 2}\n"
    answers = iter(["far too long", "also too long", "short"])
    provider = FunctionProvider(lambda request: next(answers))
    result = run(plan_for(tmp_path, body), provider)
    task = result.tasks["a"]
    assert (task.status, task.output, task.requests) == ("succeeded", "short", 3)
    assert {r.model for r in provider.requests} == {HAIKU}
    assert [a.error_kind for a in task.attempts] == ["invalid_output", "invalid_output", None]


SCHEMA = """\
tasks:
  a:
    prompt: judge
    model: haiku
    output_schema: {type: object, required: [verdict], properties: {verdict: {type: string}}}
"""


def test_invalid_json_then_valid_json_is_a_retry(tmp_path: Path) -> None:
    answers = iter(["not json at all", '{"verdict": "ship"}'])
    provider = FunctionProvider(lambda request: next(answers))
    result = run(plan_for(tmp_path, SCHEMA), provider)
    task = result.tasks["a"]
    assert task.status == "succeeded"
    assert task.requests == 2 == len(provider.requests)
    assert task.attempts[0].error_kind == "invalid_output"
    assert task.attempts[0].error is not None
    assert task.attempts[0].error.startswith("output is not JSON")
    assert task.attempts[0].cost_usd > 0  # the poor answer was billed, so it is counted
    assert task.document == {"verdict": "ship"}
    assert json.loads(task.output or "") == {"verdict": "ship"}
    assert provider.requests[0].output_schema is not None
    assert provider.requests[0].output_schema["required"] == ["verdict"]


def test_json_that_breaks_the_schema_is_a_retry_too(tmp_path: Path) -> None:
    answers = iter(['{"verdict": 3}', '```json\n{"verdict": "hold"}\n```'])
    provider = FunctionProvider(lambda request: next(answers))
    result = run(plan_for(tmp_path, SCHEMA), provider)
    task = result.tasks["a"]
    assert task.attempts[0].error == (
        "output fails output_schema at verdict: 3 is not of type 'string'"
    )
    assert task.document == {"verdict": "hold"}  # a fenced answer is read too


def test_an_answer_that_never_fits_the_schema_fails_the_task(tmp_path: Path) -> None:
    provider = FunctionProvider(lambda request: "nope")
    result = run(plan_for(tmp_path, SCHEMA), provider, retries=2)
    task = result.tasks["a"]
    assert task.status == "failed" and task.requests == 3
    assert task.error is not None and task.error.endswith("(after 3 attempts)")
    assert task.document is None


def test_schema_and_checks_up_a_chain(tmp_path: Path) -> None:
    body = """\
tasks:
  a:
    prompt: judge
    escalate: [haiku, sonnet, opus]
    output_schema: {type: object, required: [verdict]}
    checks: {json_path: {path: verdict, equals: ship}}
"""
    answers = {HAIKU: "no json", SONNET: '{"verdict": "hold"}', OPUS: '{"verdict": "ship"}'}
    provider = by_model(answers)
    result = run(plan_for(tmp_path, body), provider)
    task = result.tasks["a"]
    assert task.model == OPUS and task.document == {"verdict": "ship"}
    assert [a.model for a in task.attempts] == [HAIKU, SONNET, OPUS]
    assert task.attempts[1].error == "check failed: verdict is 'hold', expected 'ship'"

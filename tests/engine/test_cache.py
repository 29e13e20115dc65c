"""The response cache and resume: never pay twice for the same answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agentflow.engine.cache import ResponseCache
from agentflow.engine.results import PriorOutput
from agentflow.providers.base import ModelRequest, ProviderError
from agentflow.providers.function import FunctionProvider
from tests.engine.helpers import asked, echo, plan_for, run, statuses

pytestmark = pytest.mark.usefixtures("home")

DAG = """\
defaults: {model: haiku, max_tokens: 100}
tasks:
  source: {prompt: "List three owls"}
  sibling: {prompt: "Name a heron"}
  child: {prompt: "Describe {{ tasks.source.output }}", needs: [source]}
"""


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[ResponseCache]:
    opened = ResponseCache(tmp_path / "cache")
    yield opened
    opened.close()


def test_a_rerun_sends_nothing_and_says_what_it_saved(tmp_path: Path, cache: ResponseCache) -> None:
    prepared = plan_for(tmp_path, DAG)
    first_provider = FunctionProvider(echo)
    first = run(prepared, first_provider, cache=cache)
    assert first.status == "succeeded" and len(first_provider.requests) == 3
    assert {t.source for t in first.tasks.values()} == {"api"}

    provider = FunctionProvider(echo)
    second = run(prepared, provider, cache=cache, run_id="run-2")
    assert provider.requests == []
    assert second.status == "succeeded"
    for tid, task in second.tasks.items():
        before = first.tasks[tid]
        assert task.status == "cached" and task.source == "cache"
        assert task.output == before.output
        assert task.requests == 0 and task.cost_usd == 0
        assert task.saved_usd > 0
        assert task.saved_usd == pytest.approx(before.cost_usd)
        assert task.saved_usage == before.usage
        assert task.request_hash == before.request_hash
    assert second.cost_usd == 0
    assert second.saved_usd == pytest.approx(first.cost_usd)


def test_a_changed_upstream_output_makes_only_its_dependents_miss(
    tmp_path: Path, cache: ResponseCache
) -> None:
    run(plan_for(tmp_path, DAG), FunctionProvider(echo), cache=cache)
    edited = plan_for(tmp_path, DAG.replace("List three owls", "List four owls"))

    provider = FunctionProvider(echo)
    result = run(edited, provider, cache=cache, run_id="run-2")
    assert statuses(result) == {"source": "succeeded", "sibling": "cached", "child": "succeeded"}
    assert sorted(asked(provider)) == ["child", "source"]
    assert provider.requests[-1].prompt == "Describe Answer to: List four owls"
    assert result.tasks["sibling"].source == "cache"


def test_an_upstream_that_answers_the_same_keeps_its_dependents_cached(
    tmp_path: Path, cache: ResponseCache
) -> None:
    def same_answer(request: ModelRequest) -> str:
        return "Snowy, barn, tawny" if request.task_id == "source" else echo(request)

    run(plan_for(tmp_path, DAG), FunctionProvider(same_answer), cache=cache)
    edited = plan_for(tmp_path, DAG.replace("List three owls", "Name three owls"))
    provider = FunctionProvider(same_answer)
    result = run(edited, provider, cache=cache, run_id="run-2")
    # The key is the rendered request: the child's prompt did not change, so it hits.
    assert asked(provider) == ["source"]
    assert statuses(result) == {"source": "succeeded", "sibling": "cached", "child": "cached"}


@pytest.mark.parametrize(
    "change",
    [
        ("model: haiku", "model: sonnet"),
        ("max_tokens: 100", "max_tokens: 101"),
    ],
    ids=["model", "max_tokens"],
)
def test_what_decides_the_answer_is_part_of_the_key(
    tmp_path: Path, cache: ResponseCache, change: tuple[str, str]
) -> None:
    run(plan_for(tmp_path, DAG), FunctionProvider(echo), cache=cache)
    provider = FunctionProvider(echo)
    result = run(plan_for(tmp_path, DAG.replace(*change)), provider, cache=cache)
    assert len(provider.requests) == 3
    assert result.count("cached") == 0


def test_errors_are_never_cached(tmp_path: Path, cache: ResponseCache) -> None:
    def refuse(request: ModelRequest) -> str:
        raise ProviderError("client", "no", status=400)

    prepared = plan_for(tmp_path, "tasks:\n  a: {prompt: hi}\n")
    assert run(prepared, FunctionProvider(refuse), cache=cache).tasks["a"].status == "failed"
    provider = FunctionProvider(echo)
    result = run(prepared, provider, cache=cache, run_id="run-2")
    assert result.tasks["a"].status == "succeeded" and len(provider.requests) == 1


def test_a_refresh_asks_again_and_its_answer_serves_the_next_run(
    tmp_path: Path, cache: ResponseCache
) -> None:
    prepared = plan_for(tmp_path, DAG)
    run(prepared, FunctionProvider(lambda request: "old"), cache=cache)
    refreshing = ResponseCache(tmp_path / "cache", read=False)
    provider = FunctionProvider(lambda request: "new")
    refreshed = run(prepared, provider, cache=refreshing, run_id="run-2")
    refreshing.close()
    assert len(provider.requests) == 3 and refreshed.count("succeeded") == 3
    third = run(prepared, FunctionProvider(echo), cache=cache, run_id="run-3")
    assert {t.output for t in third.tasks.values()} == {"new"}


def test_structured_output_comes_back_from_the_cache(tmp_path: Path, cache: ResponseCache) -> None:
    body = "tasks:\n  a:\n    prompt: judge\n    output_schema: {type: object, required: [v]}\n"
    prepared = plan_for(tmp_path, body)
    run(prepared, FunctionProvider(lambda request: '{"v": 1}'), cache=cache)
    result = run(prepared, FunctionProvider(echo), cache=cache, run_id="run-2")
    assert result.tasks["a"].status == "cached"
    assert result.tasks["a"].document == {"v": 1}


# Resume ------------------------------------------------------------------------------------


def test_prior_outputs_answer_unchanged_tasks(tmp_path: Path) -> None:
    prepared = plan_for(tmp_path, DAG)
    first = run(prepared, FunctionProvider(echo))
    prior = {
        tid: PriorOutput("run-1", task.request_hash or "", task.output or "")
        for tid, task in first.tasks.items()
    }
    provider = FunctionProvider(echo)
    result = run(prepared, provider, prior=prior, run_id="run-2")
    assert provider.requests == []
    for tid, task in result.tasks.items():
        assert (task.status, task.source) == ("cached", "resume")
        assert task.output == first.tasks[tid].output
        assert task.started_at is not None and task.ended_at is not None
    assert result.status == "succeeded"


def test_resume_runs_an_edited_task_again(tmp_path: Path) -> None:
    first = run(plan_for(tmp_path, DAG), FunctionProvider(echo))
    prior = {
        tid: PriorOutput("run-1", task.request_hash or "", task.output or "")
        for tid, task in first.tasks.items()
    }
    provider = FunctionProvider(echo)
    edited = plan_for(tmp_path, DAG.replace("Name a heron", "Name an egret"))
    result = run(edited, provider, prior=prior, run_id="run-2")
    assert asked(provider) == ["sibling"]
    assert {tid: t.source for tid, t in result.tasks.items()} == {
        "source": "resume",
        "sibling": "api",
        "child": "resume",
    }


def test_resume_runs_what_did_not_succeed(tmp_path: Path) -> None:
    def flaky(request: ModelRequest) -> str:
        if request.task_id == "source":
            raise ProviderError("client", "no", status=400)
        return echo(request)

    prepared = plan_for(tmp_path, DAG)
    first = run(prepared, FunctionProvider(flaky))
    assert statuses(first) == {"source": "failed", "sibling": "succeeded", "child": "skipped"}
    prior = {
        tid: PriorOutput("run-1", task.request_hash or "", task.output or "")
        for tid, task in first.tasks.items()
        if task.status == "succeeded"
    }
    provider = FunctionProvider(echo)
    result = run(prepared, provider, prior=prior, run_id="run-2")
    assert sorted(asked(provider)) == ["child", "source"]
    assert result.tasks["sibling"].source == "resume"
    assert result.status == "succeeded"


def test_a_prior_output_with_another_hash_is_not_used(tmp_path: Path) -> None:
    prepared = plan_for(tmp_path, "tasks:\n  a: {prompt: hi}\n")
    provider = FunctionProvider(lambda request: "fresh")
    prior = {"a": PriorOutput("run-1", "0" * 64, "stale")}
    result = run(prepared, provider, prior=prior)
    assert result.tasks["a"].output == "fresh" and result.tasks["a"].source == "api"


def test_a_cached_escalated_answer_names_the_model_that_gave_it(
    tmp_path: Path, cache: ResponseCache
) -> None:
    body = """\
tasks:
  a: {prompt: "Give the verdict", escalate: [haiku, sonnet], checks: {contains: VERDICT}}
"""

    def answer(request: ModelRequest) -> str:
        return "VERDICT: ship" if request.model == "claude-sonnet-5-5" else "meh"

    prepared = plan_for(tmp_path, body)
    first = run(prepared, FunctionProvider(answer), cache=cache).tasks["a"]
    assert first.model == "claude-sonnet-5-5"
    second = run(prepared, FunctionProvider(answer), cache=cache, run_id="run-2").tasks["a"]
    assert (second.status, second.output) == ("cached", "VERDICT: ship")
    # The same answer, from the same model: the run's table and summary.json should say so
    # (the cache entry knows it, and prices the saving at it).
    assert second.model == first.model
    assert second.saved_usd == pytest.approx(first.attempts[-1].cost_usd)

"""`agentflow run` against the loopback Messages API server, through the real SDK."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli, run_json
from tests.cli_helpers import write_workflow as workflow
from tests.conftest import TEST_API_KEY
from tests.support.messages_server import MessagesServer, Reply, fail_first


def prompts(server: MessagesServer) -> list[str]:
    return [r.last_user_text for r in server.requests if r.path == "/v1/messages"]


DIAMOND = """\
tasks:
  draft: {prompt: "Draft about owls"}
  facts: {prompt: "Facts about owls"}
  review:
    needs: [draft, facts]
    prompt: "Review <<{{ tasks.draft.output }}>> with <<{{ tasks.facts.output }}>>"
"""


def test_outputs_reach_dependents_and_land_on_disk(api, capsys, tmp_path):
    code, summary = run_json(capsys, workflow(tmp_path, DIAMOND))
    assert code == 0 and summary["status"] == "succeeded"
    review_prompt = next(p for p in prompts(api) if p.startswith("Review"))
    assert "<<Answer to: Draft about owls>>" in review_prompt
    assert "<<Answer to: Facts about owls>>" in review_prompt
    run_dir = Path(summary["run_dir"])
    assert (run_dir / "draft.md").read_text() == "Answer to: Draft about owls"
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk == summary  # streamed to disk, the same document as --json
    assert summary["totals"]["requests"] == 3 == api.count("/v1/messages")


def test_json_summary_contract(api, capsys, tmp_path):
    _, summary = run_json(capsys, workflow(tmp_path, DIAMOND))
    assert set(summary) >= {"run_id", "workflow", "status", "tasks", "totals"}
    task = summary["tasks"]["draft"]
    assert set(task) >= {
        "status",
        "agent",
        "model",
        "attempts",
        "output",
        "error",
        "usage",
        "cost_usd",
        "started_at",
        "ended_at",
    }
    assert set(task["usage"]) == {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    }
    assert set(summary["totals"]) >= {
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "cost_usd",
        "requests",
        "wall_seconds",
    }
    # The figures are the server's own, summed.
    sent = api.usage_log
    assert summary["totals"]["input_tokens"] == sum(u["input_tokens"] for u in sent)
    assert summary["totals"]["output_tokens"] == sum(u["output_tokens"] for u in sent)
    assert task["ended_at"] >= task["started_at"] > 1_700_000_000


def test_in_flight_requests_never_exceed_the_limit(api, capsys, tmp_path):
    api.responder = lambda request: Reply(delay=0.15)
    tasks = "".join(f"  t{i}: {{prompt: 'task {i}'}}\n" for i in range(12))
    code, _ = run_json(capsys, workflow(tmp_path, "tasks:\n" + tasks), "--concurrency", "3")
    assert code == 0
    assert api.max_in_flight == 3


@pytest.mark.parametrize(
    "failure",
    [
        Reply.rate_limited(retry_after=0),
        Reply.overloaded(),
        Reply.error(500, "internal trouble"),
        Reply(drop=True),
    ],
    ids=["429-retry-after", "529", "500", "dropped-connection"],
)
def test_retryable_failures_are_retried_then_succeed(api, capsys, tmp_path, failure):
    api.responder = fail_first(2, failure)
    code, summary = run_json(capsys, workflow(tmp_path, "tasks:\n  a: {prompt: hello}\n"))
    assert code == 0, summary
    assert summary["tasks"]["a"]["attempts"] == 3
    assert api.count("/v1/messages") == 3


def test_retry_after_is_honoured(api, capsys, tmp_path):
    api.responder = fail_first(1, Reply.rate_limited(retry_after=1))
    code, _ = run_json(capsys, workflow(tmp_path, "tasks:\n  a: {prompt: hello}\n"))
    assert code == 0
    first, second = [r.received_at for r in api.requests]
    assert second - first >= 1.0


def test_slow_response_times_out_and_is_retried(api, capsys, tmp_path):
    api.responder = fail_first(1, Reply(delay=3))
    path = workflow(tmp_path, "tasks:\n  a: {prompt: hello, timeout: 0.5}\n")
    code, summary = run_json(capsys, path)
    assert code == 0
    assert summary["tasks"]["a"]["attempts"] == 2


def test_timeout_fails_the_task_when_retries_run_out(api, capsys, tmp_path):
    api.responder = lambda request: Reply(delay=3)
    path = workflow(tmp_path, "tasks:\n  a: {prompt: hello}\n")
    code, summary = run_json(capsys, path, "--timeout", "0.3", "--retries", "0")
    assert code == 1
    assert summary["tasks"]["a"]["status"] == "failed"
    assert "no answer within 0.3s" in summary["tasks"]["a"]["error"]


@pytest.mark.parametrize(
    ("status", "message"), [(400, "max_tokens: too large"), (401, "invalid x-api-key")]
)
def test_client_errors_fail_at_once_with_the_api_message(api, capsys, tmp_path, status, message):
    api.responder = lambda request: Reply.error(status, message)
    code, summary = run_json(capsys, workflow(tmp_path, DIAMOND))
    assert code == 1 and summary["status"] == "failed"
    draft = summary["tasks"]["draft"]
    assert draft["status"] == "failed" and draft["attempts"] == 1
    assert f"HTTP {status}" in draft["error"] and message in draft["error"]
    assert summary["tasks"]["review"]["status"] == "skipped"
    assert "which failed" in summary["tasks"]["review"]["error"]
    assert api.count("/v1/messages") == 2  # draft and facts, once each; review never sent


def test_failure_skips_only_dependents(api, capsys, tmp_path):
    api.responder = lambda r: Reply.error(400, "bad") if "Draft" in r.last_user_text else None
    body = DIAMOND + "  other: {prompt: 'Unrelated work'}\n"
    code, summary = run_json(capsys, workflow(tmp_path, body))
    statuses = {tid: t["status"] for tid, t in summary["tasks"].items()}
    assert statuses == {
        "draft": "failed",
        "facts": "succeeded",
        "review": "skipped",
        "other": "succeeded",
    }
    assert code == 1


def test_fail_fast_starts_nothing_after_a_failure(api, capsys, tmp_path):
    api.responder = lambda r: Reply.error(400, "bad") if r.last_user_text == "t0" else None
    tasks = "tasks:\n" + "".join(f"  t{i}: {{prompt: t{i}}}\n" for i in range(5))
    path = workflow(tmp_path, tasks)
    code, summary = run_json(capsys, path, "--fail-fast", "--concurrency", "1")
    assert code == 1
    assert summary["tasks"]["t0"]["status"] == "failed"
    assert {summary["tasks"][f"t{i}"]["status"] for i in range(1, 5)} == {"cancelled"}
    assert api.count("/v1/messages") == 1
    api.reset()
    code, summary = run_json(capsys, path, "--concurrency", "1")
    assert api.count("/v1/messages") == 5


def test_invalid_structured_output_is_a_failed_attempt(api, capsys, tmp_path):
    api.responder = fail_first(1, Reply(text="not json at all"))
    body = (
        "tasks:\n  a:\n    prompt: judge\n    output_schema: {type: object, required: [verdict]}\n"
    )
    code, summary = run_json(capsys, workflow(tmp_path, body))
    assert code == 0
    task = summary["tasks"]["a"]
    assert task["attempts"] == 2
    assert json.loads(task["output"])["verdict"]
    sent = api.requests[0].body
    assert sent["output_config"]["format"]["type"] == "json_schema"
    assert (Path(summary["run_dir"]) / "a.json").exists()
    # The invalid answer was billed, so it is counted.
    assert summary["totals"]["output_tokens"] == sum(u["output_tokens"] for u in api.usage_log)


def test_long_outputs_stream(api, capsys, tmp_path):
    body = "tasks:\n  a: {prompt: hello, max_tokens: 8000}\n  b: {prompt: hi, max_tokens: 100}\n"
    code, summary = run_json(capsys, workflow(tmp_path, body))
    assert code == 0
    streamed = {r.last_user_text: r.stream for r in api.requests}
    assert streamed == {"hello": True, "hi": False}
    assert summary["tasks"]["a"]["output"] == "Answer to: hello"


def test_agent_body_is_the_system_prompt(api, capsys, tmp_path):
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "w.md").write_text(
        "---\nname: writer\ndescription: writes\nmodel: haiku\n---\nYou write tersely.\n"
    )
    code, summary = run_json(
        capsys, workflow(tmp_path, "tasks:\n  a: {prompt: x, agent: writer}\n")
    )
    assert code == 0
    assert api.requests[0].system_text == "You write tersely."
    assert api.requests[0].model == "claude-haiku-5-5"
    assert summary["tasks"]["a"]["agent"] == "writer"


def test_key_is_sent_but_never_written(api, capsys, tmp_path):
    api.responder = fail_first(1, Reply.error(401, "invalid x-api-key"))
    _, summary = run_json(capsys, workflow(tmp_path, DIAMOND))
    assert api.requests[0].api_key == TEST_API_KEY
    state = tmp_path / "state"
    for file in state.rglob("*"):
        if file.is_file():
            assert TEST_API_KEY not in file.read_text(errors="replace")


def test_no_api_key_is_exit_2_before_anything_runs(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("AGENTFLOW_HOME", str(tmp_path / "state"))
    result = run_cli(capsys, "run", str(workflow(tmp_path, DIAMOND)))
    assert result.code == 2
    assert "ANTHROPIC_API_KEY" in result.err and "simulate" in result.err
    assert not (tmp_path / "state").exists()


def test_missing_required_input_is_exit_2(api, capsys, tmp_path):
    body = "inputs:\n  topic: {}\ntasks:\n  a: {prompt: '{{ inputs.topic }}'}\n"
    result = run_cli(capsys, "run", str(workflow(tmp_path, body)))
    assert result.code == 2 and "--set topic=VALUE" in result.err
    assert api.count() == 0
    code, summary = run_json(capsys, workflow(tmp_path, body), "--set", "topic=owls")
    assert code == 0 and prompts(api) == ["owls"]


def test_plain_table_when_piped(api, capsys, tmp_path):
    result = run_cli(capsys, "run", str(workflow(tmp_path, DIAMOND)))
    assert result.code == 0
    assert "review" in result.out and "succeeded" in result.out
    assert "cost by model" in result.out
    assert "\x1b[" not in result.out

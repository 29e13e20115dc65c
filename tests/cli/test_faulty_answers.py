"""Issue 11, items 5 and 6 through the CLI: faulty answers are failed attempts (counted,
charged, retried), never outputs, and never cached; refusals fail the task; truncated
answers are kept but marked, and asked again on the next run."""

from __future__ import annotations

from functools import partial

from agentflow.prices import Usage, load_prices
from tests.cli_helpers import run_cli, run_json, write_workflow
from tests.support.messages_server import MessagesServer, Reply

PRICES = load_prices()
write = partial(write_workflow, workflow="faulty")
ONE = "defaults: {model: haiku, max_tokens: 100, retries: 2}\ntasks:\n  a: {prompt: hello}\n"
TWO = ONE + "  b: {prompt: 'Use {{ tasks.a.output }}', needs: [a]}\n"


def billed(server: MessagesServer) -> float:
    return sum(PRICES.cost("haiku", Usage(**u)) for u in server.usage_log)


def test_an_error_object_in_a_200_is_retried_and_never_passed_on(api, capsys, tmp_path):
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    api.script(Reply(mangle=lambda m: error))
    path = write(tmp_path, TWO)
    code, summary = run_json(capsys, path)
    assert code == 0, summary
    a = summary["tasks"]["a"]
    assert a["attempts"] == 2 and a["output"] == "Answer to: hello"
    assert summary["tasks"]["b"]["output"] == "Answer to: Use Answer to: hello"
    before = api.count("/v1/messages")
    code, again = run_json(capsys, path)  # the good answer was cached, the faulty one not
    assert code == 0 and api.count("/v1/messages") == before
    assert again["tasks"]["a"]["output"] == "Answer to: hello"


def test_an_empty_answer_is_a_failed_attempt_and_is_not_cached(api, capsys, tmp_path):
    api.responder = lambda request: Reply(content_blocks=[])
    path = write(tmp_path, TWO)
    code, summary = run_json(capsys, path)
    assert code == 1
    a = summary["tasks"]["a"]
    assert a["status"] == "failed" and a["attempts"] == 3
    assert "the API sent an empty answer" in a["error"]
    assert summary["tasks"]["b"]["status"] == "skipped"
    assert abs(summary["totals"]["cost_usd"] - billed(api)) < 1e-9  # each try was charged
    run_json(capsys, path)
    assert api.count("/v1/messages") == 6  # nothing was cached: asked again


def test_a_refusal_fails_the_task_at_once(api, capsys, tmp_path):
    api.responder = lambda request: Reply(text="I can't help with that.", stop_reason="refusal")
    path = write(tmp_path, TWO)
    code, summary = run_json(capsys, path)
    assert code == 1
    a = summary["tasks"]["a"]
    assert a["status"] == "failed" and a["attempts"] == 1  # the same model would refuse again
    assert "refused" in a["error"]
    run_json(capsys, path)
    assert api.count("/v1/messages") == 2  # not cached


def test_a_refusal_moves_up_an_escalate_chain(api, capsys, tmp_path):
    api.responder = lambda request: (
        Reply(text="No.", stop_reason="refusal") if "haiku" in (request.model or "") else None
    )
    body = "tasks:\n  a: {prompt: hello, escalate: [haiku, sonnet], retries: 0}\n"
    code, summary = run_json(capsys, write(tmp_path, body))
    assert code == 0, summary
    assert summary["tasks"]["a"]["output"] == "Answer to: hello"
    assert summary["tasks"]["a"]["attempts"] == 2


def test_a_truncated_answer_is_kept_marked_and_asked_again(api, capsys, tmp_path):
    api.responder = lambda request: Reply(text="word " * 500)  # more than max_tokens
    path = write(tmp_path, ONE)
    code, summary = run_json(capsys, path)
    assert code == 0
    a = summary["tasks"]["a"]
    assert a["status"] == "succeeded" and a["truncated"] is True and a["output"]
    result = run_cli(capsys, "run", str(path))
    assert "truncated at max_tokens" in result.out
    assert api.count("/v1/messages") == 2  # the cut answer was not cached
    run_id = run_cli(capsys, "runs", "list", "--json").json()[0]["run_id"]
    shown = run_cli(capsys, "runs", "show", run_id)
    assert "truncated at max_tokens" in shown.out  # the history keeps the mark


def test_a_malformed_body_is_a_counted_charged_retry(api, capsys, tmp_path):
    api.script(Reply(mangle=lambda m: b"<html>502</html>", content_type="text/html"))
    code, summary = run_json(capsys, write(tmp_path, ONE), "--budget", "1")
    assert code == 0, summary
    a = summary["tasks"]["a"]
    assert a["attempts"] == 2 and a["output"] == "Answer to: hello"
    # The unreadable attempt was billed by the server; agentflow charged its worst case.
    assert a["cost_estimated_usd"] > 0
    assert a["cost_usd"] >= billed(api) - 1e-9

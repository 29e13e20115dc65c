"""Routing against the loopback server: cascades, checks, adaptive starts, bad config."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

from agentflow.prices import Usage, load_prices
from tests.cli_helpers import run_cli, write_workflow
from tests.cli_helpers import run_json as run_json_strict
from tests.support.messages_server import MessagesServer, Reply

PRICES = load_prices()
HAIKU, SONNET, OPUS = (PRICES.resolve(m) for m in ("haiku", "sonnet", "opus"))
write = partial(write_workflow, workflow="routing")
VERDICT = "output_schema: {type: object, required: [verdict], properties: {verdict: {enum: [ok]}}}"


def run_json(capsys, path: Path, *args: str) -> tuple[int, dict]:
    return run_json_strict(capsys, path, "--no-cache", *args)


def models_sent(server: MessagesServer) -> list[str]:
    return [r.model for r in server.requests if r.path == "/v1/messages"]


def test_cascade_escalates_past_an_invalid_answer(api, capsys, tmp_path):
    api.responder = lambda r: Reply(text="not json at all") if r.model == HAIKU else None
    body = (
        f"tasks:\n  judge:\n    prompt: judge it\n    escalate: [haiku, sonnet, opus]\n"
        f"    {VERDICT}\n"
    )
    code, summary = run_json(capsys, write(tmp_path, body))
    assert code == 0
    assert models_sent(api) == [HAIKU, SONNET]  # no second try on haiku: straight up
    task = summary["tasks"]["judge"]
    assert task["status"] == "succeeded" and task["model"] == SONNET
    assert task["attempts"] == 2
    assert json.loads(task["output"]) == {"verdict": "ok"}
    billed = sum(
        PRICES.cost(r.model, Usage(**u)) for r, u in zip(api.requests, api.usage_log, strict=True)
    )
    assert task["cost_usd"] == pytest.approx(billed)  # the failed haiku answer is charged
    table = run_cli(capsys, "runs", "show", summary["run_id"])
    assert f"escalated {HAIKU} -> {SONNET}" in table.out


@pytest.mark.parametrize(
    ("checks", "bad_reply"),
    [
        ("{contains: APPROVED}", Reply(text="looks fine")),
        ("{not_contains: TODO}", Reply(text="TODO: later")),
        ("{regex: '^## Summary'}", Reply(text="no heading")),
        ("{max_chars: 20}", Reply(text="x" * 50)),
        ("{json_path: {path: a.b, equals: 1}}", Reply(text='{"a": {"b": 2}}')),
        ("{contains: x}", Reply(text="x", stop_reason="refusal")),
        ("{contains: x}", Reply(text="")),
    ],
    ids=["contains", "not_contains", "regex", "max_chars", "json_path", "refusal", "empty"],
)
def test_checks_that_fail_move_up_the_chain(api, capsys, tmp_path, checks, bad_reply):
    good = {
        "contains: APPROVED": "APPROVED",
        "not_contains: TODO": "done",
        "regex: '^## Summary'": "## Summary\nok",
        "max_chars: 20": "short",
        "json_path: {path: a.b, equals: 1}": '{"a": {"b": 1}}',
    }
    good_text = next((v for k, v in good.items() if k in checks), "x marks it")
    api.responder = lambda r: bad_reply if r.model == HAIKU else Reply(text=good_text)
    body = f"tasks:\n  t:\n    prompt: do it\n    escalate: [haiku, sonnet]\n    checks: {checks}\n"
    code, summary = run_json(capsys, write(tmp_path, body))
    assert code == 0, summary["tasks"]["t"]["error"]
    assert models_sent(api) == [HAIKU, SONNET]
    assert summary["tasks"]["t"]["output"] == good_text


def test_checks_without_a_chain_retry_the_same_model_then_fail(api, capsys, tmp_path):
    api.responder = lambda r: Reply(text="nope")
    body = "tasks:\n  t: {prompt: go, model: haiku, retries: 2, checks: {contains: sure}}\n"
    code, summary = run_json(capsys, write(tmp_path, body))
    assert code == 1
    assert models_sent(api) == [HAIKU] * 3
    assert "does not contain 'sure'" in summary["tasks"]["t"]["error"]


def test_chain_that_never_passes_fails_on_the_last_model(api, capsys, tmp_path):
    api.responder = lambda r: Reply(text="nope")
    body = "tasks:\n  t: {prompt: go, retries: 1, escalate: [haiku, opus], checks: {contains: y}}\n"
    code, summary = run_json(capsys, write(tmp_path, body))
    assert code == 1
    assert models_sent(api) == [HAIKU, OPUS, OPUS]  # the last model keeps its retries
    assert summary["tasks"]["t"]["attempts"] == 3


def test_plan_prices_the_whole_chain(capsys, tmp_path):
    body = "tasks:\n  t: {prompt: go, retries: 0, max_tokens: 100, escalate: [haiku, opus]}\n"
    plan = run_cli(capsys, "plan", str(write(tmp_path, body)), "--json").json()["tasks"]["t"]
    assert plan["escalate"] == [HAIKU, OPUS]
    assert plan["model"] == HAIKU
    worst = sum(
        plan["max_input_tokens"] * PRICES.worst_input_rate(m) + 100 * PRICES.price(m).output / 1e6
        for m in (HAIKU, OPUS)
    )
    assert plan["max_cost_usd"] == pytest.approx(worst, abs=1e-6)
    assert plan["model_reason"] == "escalate: haiku -> opus"


ADAPTIVE = """\
routing: {adaptive: true}
tasks:
  t:
    prompt: classify this
    escalate: [haiku, sonnet]
    checks: {contains: LABEL}
"""


def test_adaptive_routing_learns_to_skip_a_failing_model(api, capsys, tmp_path):
    api.responder = lambda r: Reply(text="unsure") if r.model == HAIKU else Reply(text="LABEL")
    path = write(tmp_path, ADAPTIVE)
    for _ in range(2):
        code, _ = run_json(capsys, path)
        assert code == 0
    assert models_sent(api) == [HAIKU, SONNET, HAIKU, SONNET]
    plan = run_cli(capsys, "plan", str(path), "--json").json()["tasks"]["t"]
    assert plan["model"] == SONNET
    assert "learned" in plan["model_reason"] and HAIKU in plan["model_reason"]
    api.reset()
    code, summary = run_json(capsys, path)
    assert code == 0 and models_sent(api) == [SONNET]
    report = run_cli(capsys, "report", "--routing", "--json").json()["workflows"][0]
    assert report["workflow"] == "routing"
    haiku_row = next(m for m in report["models"] if m["model"] == HAIKU)
    assert haiku_row["check_failures"] == 2 and haiku_row["passes"] == 0
    suggestion = report["suggestions"][0]
    assert suggestion["task_id"] == "t" and suggestion["pin_model"] == SONNET
    assert suggestion["saving_per_run_usd"] > 0
    text = run_cli(capsys, "report", "--routing")
    assert f"pin task 't' to {SONNET}" in text.out


def test_without_adaptive_the_chain_always_starts_at_the_bottom(api, capsys, tmp_path):
    api.responder = lambda r: Reply(text="unsure") if r.model == HAIKU else Reply(text="LABEL")
    path = write(tmp_path, ADAPTIVE.replace("adaptive: true", "adaptive: false"))
    for _ in range(3):
        run_json(capsys, path)
    assert models_sent(api) == [HAIKU, SONNET] * 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("routing: {medium: haiku}\ntasks: {a: {prompt: x}}\n", "unknown key 'medium' in routing"),
        ("routing: {simple: hiaku}\ntasks: {a: {prompt: x}}\n", "unknown model 'hiaku'"),
        ("routing: {complex: auto}\ntasks: {a: {prompt: x}}\n", "routing.complex cannot be auto"),
        ("routing: {classifier: gpt-4}\ntasks: {a: {prompt: x}}\n", "unknown model 'gpt-4'"),
        ("tasks: {a: {prompt: x, escalate: [haiku, sonet]}}\n", "unknown model 'sonet'"),
        ("tasks: {a: {prompt: x, escalate: [haiku], model: opus}}\n", "both model and escalate"),
        ("tasks: {a: {prompt: x, agent: auto}}\n", "agent: auto needs agents"),
        ("defaults: {agent: auto}\ntasks: {a: {prompt: x}}\n", "agent: auto needs agents"),
        ("tasks: {a: {prompt: x, checks: {regex: '(['}}}\n", "invalid regex"),
        ("tasks: {a: {prompt: x, checks: {size: 3}}}\n", "unknown key 'size'"),
    ],
)
def test_bad_routing_config_is_rejected(capsys, tmp_path, body, message):
    result = run_cli(capsys, "validate", str(write(tmp_path, body)))
    assert result.code == 2
    assert message in result.err
    assert f"{tmp_path / 'wf.yaml'}:" in result.err


AUTO_AGENTS = """\
agents: {agents}
tasks:
  audit:
    agent: auto
    prompt: "Audit the login handler for SQL injection and session fixation: {{{{ inputs.code }}}}"
  summary:
    agent: auto
    needs: [audit]
    prompt: "Condense this audit into three bullet points: {{{{ tasks.audit.output }}}}"
inputs:
  code: {{default: "def login(u, p): ..."}}
"""
REPO_AGENTS = Path(__file__).resolve().parents[2] / "agents"


def test_agent_auto_picks_and_sends_only_that_agent(api, capsys, tmp_path):
    path = write(tmp_path, AUTO_AGENTS.format(agents=REPO_AGENTS))
    plan = run_cli(capsys, "plan", str(path), "--json").json()["tasks"]
    assert plan["audit"]["agent"] == "security-auditor"
    assert plan["summary"]["agent"] == "summarizer"
    assert plan["audit"]["agent_score"] > 0 and "injection" in plan["audit"]["agent_matched"]
    table = run_cli(capsys, "plan", str(path))
    assert "security-auditor (auto" in table.out
    code, summary = run_json(capsys, path)
    assert code == 0
    auditor = (REPO_AGENTS / "security-auditor.md").read_text().split("---", 2)[2].strip()
    systems = {r.last_user_text[:5]: r.system_text for r in api.requests}
    assert systems["Audit"] == auditor  # one agent's prompt, not the whole library
    assert summary["tasks"]["audit"]["agent"] == "security-auditor"


def test_agent_auto_warns_on_a_weak_match(capsys, tmp_path):
    body = (
        f"agents: {REPO_AGENTS}\ntasks:\n  odd: {{agent: auto, prompt: 'Bake a sourdough "
        "loaf with a crisp crust'}\n"
    )
    result = run_cli(capsys, "plan", str(write(tmp_path, body)))
    assert result.code == 0
    assert "warning: task 'odd': agent: auto picked" in result.err and "weak" in result.err


def test_classifier_model_picks_the_tier(api, capsys, tmp_path):
    from agentflow.routing.classifier import SYSTEM

    def respond(request):
        if request.system_text == SYSTEM:
            return Reply(text='{"tier": "complex"}')
        return None

    api.responder = respond
    body = (
        "routing: {classifier: haiku}\ntasks:\n  t: {prompt: 'Format this list of "
        "dates as ISO 8601', model: auto}\n"
    )
    path = write(tmp_path, body)
    plan = run_cli(capsys, "plan", str(path), "--json").json()["tasks"]["t"]
    assert plan["model"] == HAIKU and "haiku picks the tier at run time" in plan["model_reason"]
    assert plan["max_cost_usd"] > 0
    result = run_cli(capsys, "run", str(path), "--json")
    summary = json.loads(result.out)
    assert result.code == 0
    assert models_sent(api) == [HAIKU, OPUS]  # the classifier said complex, against the guess
    task = summary["tasks"]["t"]
    assert task["model"] == OPUS and task["attempts"] == 2
    billed = sum(
        PRICES.cost(r.model, Usage(**u)) for r, u in zip(api.requests, api.usage_log, strict=True)
    )
    assert task["cost_usd"] == pytest.approx(billed)  # the classifier call is charged too
    shown = run_cli(capsys, "runs", "show", summary["run_id"])
    assert f"tier chosen by {HAIKU}" in shown.out
    api.reset()
    result = run_cli(capsys, "run", str(path), "--json")
    assert result.code == 0 and api.count() == 0  # cached, classification included


def test_an_unusable_classifier_answer_is_said_so_with_the_model_used(api, capsys, tmp_path):
    from agentflow.routing.classifier import SYSTEM

    api.responder = lambda r: Reply(text="hard to say") if r.system_text == SYSTEM else None
    body = (
        "routing: {classifier: haiku}\ntasks:\n  t: {prompt: 'Format this list of "
        "dates as ISO 8601', model: auto}\n"
    )
    result = run_cli(capsys, "run", str(write(tmp_path, body)))
    assert result.code == 0
    assert models_sent(api) == [HAIKU, HAIKU, HAIKU]  # asked twice, then the offline tier
    row = next(line for line in result.out.splitlines() if line.startswith("| t "))
    assert f"no usable tier from {HAIKU}; offline tier: {HAIKU}" in row
    assert "tier chosen by" not in result.out


def test_classifier_failure_falls_back_to_the_offline_tier(api, capsys, tmp_path):
    from agentflow.routing.classifier import SYSTEM

    api.responder = lambda r: Reply.error(400, "no") if r.system_text == SYSTEM else None
    body = (
        "routing: {classifier: haiku}\ntasks:\n  t: {prompt: 'Format this list of "
        "dates as ISO 8601', model: auto}\n"
    )
    code, summary = run_json(capsys, write(tmp_path, body))
    assert code == 0
    assert models_sent(api) == [HAIKU, HAIKU]  # one failed classification, then the answer
    assert summary["tasks"]["t"]["model"] == HAIKU

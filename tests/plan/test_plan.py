"""`agentflow plan`: the dry run's contract, estimates and budget check, with no network."""

from __future__ import annotations

from pathlib import Path

from agentflow.prices import Usage, load_prices
from tests.cli_helpers import run_cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "workflows"
GOOD = FIXTURES / "good.yaml"
TASK_KEYS = {
    "wave",
    "needs",
    "agent",
    "model",
    "model_reason",
    "est_input_tokens",
    "max_output_tokens",
    "max_cost_usd",
    "est_cost_usd",
}


def plan_json(capsys, *args: str) -> dict:
    result = run_cli(capsys, "plan", str(GOOD), "--json", "--set", "topic=owls", *args)
    assert result.code == 0, result.err
    return result.json()


def test_plan_json_matches_the_contract(capsys):
    plan = plan_json(capsys)
    assert {"workflow", "waves", "critical_path", "tasks", "totals", "budget"} <= set(plan)
    assert plan["workflow"] == "good"
    assert plan["waves"] == [["outline", "facts"], ["draft"], ["review"], ["publish"]]
    assert plan["critical_path"] == ["outline", "draft", "review", "publish"]
    for task in plan["tasks"].values():
        assert set(task) >= TASK_KEYS
    assert {"max_cost_usd", "est_cost_usd"} <= set(plan["totals"])
    assert plan["budget"]["usd"] == 1.0 and isinstance(plan["budget"]["fits"], bool)


def test_models_and_reasons(capsys):
    tasks = plan_json(capsys)["tasks"]
    assert tasks["outline"]["model"] == "claude-haiku-5-5"
    assert tasks["outline"]["model_reason"] == "agent's model: haiku"
    assert tasks["review"]["model"] == "claude-opus-5-5"
    assert tasks["review"]["model_reason"] == "task: opus"
    # A one-line announcement is simple work: auto routes it to the simple tier's model.
    assert tasks["publish"]["model"] == "claude-haiku-5-5"
    assert tasks["publish"]["tier"] == "simple"
    assert tasks["publish"]["model_reason"].startswith("auto: simple")
    assert tasks["draft"]["agent"] == "writer" and tasks["publish"]["agent"] is None


def test_costs_follow_the_price_file(capsys):
    prices = load_prices()
    task = plan_json(capsys)["tasks"]["review"]
    attempts = 2  # retries: 1
    opus = prices.price("opus")
    # Worst case: every input token billed at the dearest rate (a prompt-cache write).
    per_attempt = (
        task["max_input_tokens"] * max(opus.input, opus.cache_write) + 400 * opus.output
    ) / 1e6
    assert abs(task["max_cost_usd"] - round(per_attempt * attempts, 6)) < 1e-6
    assert task["est_cost_usd"] < task["max_cost_usd"]
    expected = prices.cost("opus", Usage(task["est_input_tokens"], 200))
    assert abs(task["est_cost_usd"] - round(expected, 6)) < 1e-6


def test_upstream_outputs_count_toward_input(capsys):
    tasks = plan_json(capsys)["tasks"]
    # review reads two upstream outputs of at most 400 tokens each
    assert tasks["review"]["max_input_tokens"] >= tasks["review"]["est_input_tokens"] + 400


def test_budget_that_cannot_cover_the_worst_case(capsys, tmp_path):
    text = GOOD.read_text().replace("budget: {usd: 1.0}", "budget: {usd: 0.01}")
    (tmp_path / "agents").symlink_to(FIXTURES / "agents")
    path = tmp_path / "tight.yaml"
    path.write_text(text)
    result = run_cli(capsys, "plan", str(path), "--set", "topic=x", "--json")
    budget = result.json()["budget"]
    assert budget["fits"] is False and "review" in budget["uncovered"]
    table = run_cli(capsys, "plan", str(path), "--set", "topic=x")
    assert "does not fit" in table.out and "review" in table.out


def test_required_input_missing_is_exit_2(capsys):
    result = run_cli(capsys, "plan", str(GOOD))
    assert result.code == 2
    assert "input 'topic' is required and has no value (pass --set topic=VALUE)" in result.err


def test_unknown_set_name_and_malformed_set(capsys):
    result = run_cli(capsys, "plan", str(GOOD), "--set", "topic=x", "--set", "topc=y")
    assert result.code == 2 and "no input 'topc'" in result.err
    result = run_cli(capsys, "plan", str(GOOD), "--set", "topic")
    assert result.code == 2 and "expected NAME=VALUE" in result.err


def test_plain_table_when_piped(capsys):
    result = run_cli(capsys, "plan", str(GOOD), "--set", "topic=owls")
    assert result.code == 0
    assert "+------" in result.out  # ASCII box: stable for scripts
    assert "\x1b[" not in result.out
    assert "Critical path: outline -> draft -> review -> publish" in result.out


def test_user_price_file_adds_a_model(capsys, tmp_path):
    prices = tmp_path / "prices.yaml"
    prices.write_text("models:\n  my-model: {input: 2, output: 4}\naliases:\n  mine: my-model\n")
    wf = tmp_path / "wf.yaml"
    wf.write_text("version: 1\nname: x\ntasks:\n  a: {prompt: hi, model: mine}\n")
    assert run_cli(capsys, "validate", str(wf)).code == 2
    result = run_cli(capsys, "plan", str(wf), "--prices", str(prices), "--json")
    assert result.code == 0, result.err
    assert result.json()["tasks"]["a"]["model"] == "my-model"

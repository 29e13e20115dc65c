"""Issue 4 against the loopback server: the cap holds, cache hits are free, prompt caching
is priced right, and resume runs only what is left."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from agentflow.prices import Usage, load_prices
from tests.cli_helpers import run_cli, run_json, write_workflow
from tests.conftest import TEST_API_KEY as KEY
from tests.support.messages_server import MessagesServer, Reply

PRICES = load_prices()
write = partial(write_workflow, workflow="costs")


def server_charges(server: MessagesServer) -> float:
    """What the API billed, from its own usage records (every model here is haiku)."""
    return sum(PRICES.cost("haiku", Usage(**u)) for u in server.usage_log)


def messages(server: MessagesServer) -> list[str]:
    return [r.last_user_text for r in server.requests if r.path == "/v1/messages"]


def test_cap_holds_with_200_tasks_at_concurrency_20(api, capsys, tmp_path):
    api.responder = lambda request: Reply(text="word " * 2000)  # always the longest answer
    tasks = "".join(
        f"  t{i}: {{prompt: 'Task {i}: write at length about topic {i}.'}}\n" for i in range(200)
    )
    body = "defaults: {model: haiku, max_tokens: 200, retries: 0}\ntasks:\n" + tasks
    path = write(tmp_path, body)
    plan = run_cli(capsys, "plan", str(path), "--json").json()
    cap = round(plan["totals"]["max_cost_usd"] / 2, 6)  # about half of the work fits
    code, summary = run_json(capsys, path, "--budget", str(cap), "--concurrency", "20")
    assert code == 3 and summary["status"] == "budget_exceeded"
    statuses = [t["status"] for t in summary["tasks"].values()]
    done, stopped = statuses.count("succeeded"), statuses.count("budget")
    assert done + stopped == 200
    assert 80 <= done <= 110, (done, stopped)
    billed = server_charges(api)
    assert billed <= cap, (billed, cap)
    assert abs(summary["totals"]["cost_usd"] - billed) < 1e-6  # our figures are the bill's
    assert api.count("/v1/messages") == done
    assert api.max_in_flight <= 20
    print(
        f"cap ${cap:.6f}: {done} tasks ran, {stopped} refused, billed ${billed:.6f} "
        f"({billed / cap:.1%} of the cap)"
    )


def test_token_budget_refuses_what_does_not_fit(api, capsys, tmp_path):
    body = (
        "defaults: {model: haiku, max_tokens: 150, retries: 0}\nbudget: {tokens: 300}\n"
        "tasks:\n  a: {prompt: first}\n  b: {prompt: second}\n  c: {prompt: third, "
        "needs: [b]}\n"
    )
    api.responder = lambda request: Reply(text="word " * 1000)
    code, summary = run_json(capsys, write(tmp_path, body), "--concurrency", "1")
    statuses = {tid: t["status"] for tid, t in summary["tasks"].items()}
    assert code == 3
    # b goes first (it heads the longer path); what is left then fits neither a nor c.
    assert statuses == {"b": "succeeded", "a": "budget", "c": "budget"}
    assert "tokens" in summary["tasks"]["a"]["error"]
    total = sum(u["input_tokens"] + u["output_tokens"] for u in api.usage_log)
    assert total <= 300


DAG = """\
defaults: {model: haiku, max_tokens: 100}
tasks:
  source: {prompt: "List three owls"}
  sibling: {prompt: "Name a heron"}
  child: {prompt: "Describe {{ tasks.source.output }}", needs: [source]}
"""


def test_rerun_sends_no_request_and_reports_savings(api, capsys, tmp_path):
    path = write(tmp_path, DAG)
    first_code, first = run_json(capsys, path)
    assert first_code == 0 and api.count("/v1/messages") == 3
    api.reset()
    code, second = run_json(capsys, path)
    assert code == 0 and second["status"] == "succeeded"
    assert api.count() == 0
    assert {t["status"] for t in second["tasks"].values()} == {"cached"}
    assert second["totals"]["cost_usd"] == 0 and second["totals"]["requests"] == 0
    assert second["tasks"]["child"]["output"] == first["tasks"]["child"]["output"]
    assert second["totals"]["saved_usd"] == pytest.approx(first["totals"]["cost_usd"])
    assert second["tasks"]["source"]["saved_usage"] == first["tasks"]["source"]["usage"]


def test_changed_upstream_invalidates_only_its_dependents(api, capsys, tmp_path):
    path = write(tmp_path, DAG)
    run_json(capsys, path)
    api.reset()
    path.write_text(path.read_text().replace("List three owls", "List four owls"))
    code, summary = run_json(capsys, path)
    assert code == 0
    assert sorted(messages(api)) == ["Describe Answer to: List four owls", "List four owls"]
    statuses = {tid: t["status"] for tid, t in summary["tasks"].items()}
    assert statuses == {"source": "succeeded", "sibling": "cached", "child": "succeeded"}


def test_no_cache_and_refresh(api, capsys, tmp_path):
    path = write(tmp_path, DAG)
    run_json(capsys, path, "--no-cache")
    assert not (tmp_path / "state" / "cache").exists()
    run_json(capsys, path, "--refresh")
    assert api.count("/v1/messages") == 6  # --refresh asks again...
    api.reset()
    run_json(capsys, path)
    assert api.count() == 0  # ...and what it wrote serves the next run
    code, _ = run_json(capsys, path, "--cache-dir", str(tmp_path / "elsewhere"))
    assert code == 0 and api.count("/v1/messages") == 3


def test_errors_are_never_cached(api, capsys, tmp_path):
    api.responder = lambda request: Reply.error(400, "no")
    path = write(tmp_path, "tasks:\n  a: {prompt: hi}\n")
    run_json(capsys, path)
    api.responder = None
    code, summary = run_json(capsys, path)
    assert code == 0 and summary["tasks"]["a"]["status"] == "succeeded"


AGENT_BODY = " ".join(
    f"Rule {i}: review every claim for evidence before accepting it." for i in range(240)
)  # about 3,000 tokens


def shared_agent_workflow(tmp_path: Path) -> Path:
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "checker.md").write_text(
        f"---\nname: checker\ndescription: checks claims\nmodel: sonnet\n---\n{AGENT_BODY}\n"
    )
    tasks = "".join(f"  t{i}: {{prompt: 'Check claim {i}.', agent: checker}}\n" for i in range(20))
    return write(tmp_path, "defaults: {max_tokens: 50}\nconcurrency: 5\ntasks:\n" + tasks)


def test_prompt_caching_writes_once_then_reads(api, capsys, tmp_path):
    path = shared_agent_workflow(tmp_path)
    code, cached = run_json(capsys, path, "--no-cache")
    assert code == 0
    usage = api.usage_log
    assert api.requests[0].body["system"][0]["cache_control"] == {"type": "ephemeral"}
    writes = [u for u in usage if u["cache_creation_input_tokens"]]
    reads = [u for u in usage if u["cache_read_input_tokens"]]
    assert len(writes) == 1 and len(reads) == 19
    billed = sum(PRICES.cost("sonnet", Usage(**u)) for u in usage)
    assert cached["totals"]["cost_usd"] == pytest.approx(billed)
    assert cached["totals"]["cache_read_input_tokens"] == sum(
        u["cache_read_input_tokens"] for u in usage
    )
    api.reset()
    code, uncached = run_json(capsys, path, "--no-cache", "--no-prompt-cache")
    assert code == 0
    assert all(u["cache_read_input_tokens"] == 0 for u in api.usage_log)
    ratio = cached["totals"]["cost_usd"] / uncached["totals"]["cost_usd"]
    assert ratio <= 0.35, ratio
    assert cached["totals"]["saved_usd"] > 0
    print(
        f"prompt caching: ${cached['totals']['cost_usd']:.6f} vs "
        f"${uncached['totals']['cost_usd']:.6f} uncached ({ratio:.1%})"
    )


def test_resume_runs_only_what_is_left(api, capsys, tmp_path):
    api.responder = lambda r: Reply.error(400, "bad") if "heron" in r.last_user_text else None
    path = write(
        tmp_path,
        DAG + "  last: {prompt: 'Sum up {{ tasks.sibling.output }}', needs: [sibling, child]}\n",
    )
    code, first = run_json(capsys, path, "--no-cache")
    assert code == 1
    assert first["tasks"]["last"]["status"] == "skipped"
    api.reset()
    api.responder = None
    code, resumed = run_json(capsys, path, "--no-cache", "--resume")
    assert code == 0
    assert sorted(messages(api)) == ["Name a heron", "Sum up Answer to: Name a heron"]
    statuses = {tid: t["status"] for tid, t in resumed["tasks"].items()}
    assert statuses == {
        "source": "cached",
        "child": "cached",
        "sibling": "succeeded",
        "last": "succeeded",
    }
    assert resumed["tasks"]["child"]["output"] == first["tasks"]["child"]["output"]
    # Naming the run works too; an edited task runs again even though it succeeded before.
    api.reset()
    path.write_text(path.read_text().replace("Describe", "Explain"))
    code, again = run_json(capsys, path, "--no-cache", "--resume", first["run_id"])
    assert sorted(messages(api)) == [
        "Explain Answer to: List three owls",
        "Name a heron",
        "Sum up Answer to: Name a heron",
    ]


def test_resume_without_history_is_exit_2(api, capsys, tmp_path):
    result = run_cli(capsys, "run", str(write(tmp_path, DAG)), "--resume")
    assert result.code == 2 and "no earlier run" in result.err
    assert api.count() == 0


def test_exact_count_asks_the_api(api, capsys, tmp_path):
    code, _ = run_json(capsys, write(tmp_path, DAG), "--exact-count", "--no-cache")
    assert code == 0
    assert api.count("/v1/messages/count_tokens") == 3


def test_key_never_lands_on_disk(api, capsys, tmp_path):
    api.responder = lambda r: (
        Reply.error(401, f"invalid key {KEY}") if "heron" in (r.last_user_text) else None
    )
    run_json(capsys, write(tmp_path, DAG))
    files = [p for p in (tmp_path / "state").rglob("*") if p.is_file()]
    assert any(p.name == "history.db" for p in files)
    assert any("cache" in p.parts for p in files)
    for file in files:
        assert KEY.encode() not in file.read_bytes(), file


def test_cost_tables_group_by_model_and_agent(api, capsys, tmp_path):
    result = run_cli(capsys, "run", str(shared_agent_workflow(tmp_path)))
    assert result.code == 0
    assert "cost by model" in result.out and "cost by agent" in result.out
    assert "checker" in result.out and "saved" in result.out


def test_plan_expects_one_cache_write_and_reads_after(capsys, tmp_path):
    path = shared_agent_workflow(tmp_path)
    plan = run_cli(capsys, "plan", str(path), "--json").json()
    writes = [t for t in plan["tasks"].values() if t["est_cache_write_tokens"]]
    reads = [t for t in plan["tasks"].values() if t["est_cache_read_tokens"]]
    assert len(writes) == 1 and len(reads) == 19
    assert plan["totals"]["est_cache_read_tokens"] == 19 * reads[0]["est_cache_read_tokens"]
    table = run_cli(capsys, "plan", str(path))
    assert "19 tasks reuse a cached agent prompt" in table.out


def test_cache_stats_and_clear(api, capsys, tmp_path):
    run_json(capsys, write(tmp_path, DAG))
    stats = run_cli(capsys, "cache", "stats", "--json")
    assert stats.code == 0 and stats.json()["entries"] == 3
    kept = run_cli(capsys, "cache", "clear", "--older-than", "7d")
    assert kept.code == 0 and "removed 0 cached answers" in kept.out
    bad = run_cli(capsys, "cache", "clear", "--older-than", "soon")
    assert bad.code == 2 and "--older-than" in bad.err
    cleared = run_cli(capsys, "cache", "clear")
    assert cleared.code == 0 and "removed 3" in cleared.out
    assert run_cli(capsys, "cache", "stats", "--json").json()["entries"] == 0
    api.reset()
    run_json(capsys, write(tmp_path, DAG))
    assert api.count("/v1/messages") == 3

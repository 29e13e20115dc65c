"""A re-run schedules by the durations its earlier runs took (history -> plan -> run)."""

from __future__ import annotations

from tests.cli_helpers import run_cli, run_json
from tests.cli_helpers import write_workflow as workflow
from tests.support.messages_server import MessagesServer, RecordedRequest, Reply

# `quick` looks long (a large max_tokens) but answers at once; `slow` looks short and
# takes 0.4 s, with `tail` after it: the longest real path is slow -> tail.
CHAIN = """\
concurrency: 1
defaults: {model: haiku}
tasks:
  quick: {prompt: "[quick] go", max_tokens: 4000}
  slow: {prompt: "[slow] go", max_tokens: 64}
  tail: {needs: [slow], prompt: "[tail] after {{ tasks.slow.output }}", max_tokens: 64}
"""
DELAYS = {"quick": 0.15, "slow": 0.4, "tail": 0.0}


def slow_server(server: MessagesServer) -> None:
    def respond(request: RecordedRequest) -> Reply:
        task = request.last_user_text.split("]")[0].strip("[")
        return Reply(delay=DELAYS[task], text=f"done {task}")

    server.responder = respond


def started(server: MessagesServer) -> list[str]:
    texts = [r.last_user_text for r in server.requests if r.path == "/v1/messages"]
    return [text.split("]")[0].strip("[") for text in texts]


def test_a_rerun_learns_durations_and_starts_the_long_chain_first(api, capsys, tmp_path):
    slow_server(api)
    path = workflow(tmp_path, CHAIN)
    before = run_cli(capsys, "plan", str(path), "--json").json()
    assert before["learned_durations"] == 0
    assert before["tasks"]["slow"]["learned_seconds"] is None
    assert before["critical_path"] == ["quick"]  # by the estimates

    code, _ = run_json(capsys, path, "--no-cache")
    assert code == 0 and started(api) == ["quick", "slow", "tail"]

    plan = run_cli(capsys, "plan", str(path), "--json").json()
    assert plan["learned_durations"] == 3
    tasks = plan["tasks"]
    assert 0.4 <= tasks["slow"]["learned_seconds"] < 2.0 and tasks["slow"]["learned_runs"] == 1
    # `quick` was the run's first request: only what came after its answer is learned, so
    # the SDK's and the connection's start-up never count as task time.
    assert tasks["quick"]["learned_seconds"] < DELAYS["quick"]
    assert tasks["quick"]["est_seconds"] > tasks["slow"]["est_seconds"]
    assert plan["critical_path"] == ["slow", "tail"]
    table = run_cli(capsys, "plan", str(path)).out
    assert "Durations: learned for 3 of 3 tasks" in table and "s learned" in table

    api.requests.clear()
    code, _ = run_json(capsys, path, "--no-cache")
    assert code == 0 and started(api)[0] == "slow"


def test_cache_hits_and_simulated_runs_teach_nothing(api, capsys, tmp_path):
    slow_server(api)
    path = workflow(tmp_path, CHAIN)
    assert run_json(capsys, path, "--provider", "simulate")[0] == 0
    assert run_cli(capsys, "plan", str(path), "--json").json()["learned_durations"] == 0
    assert run_json(capsys, path)[0] == 0  # fills the response cache
    code, summary = run_json(capsys, path)  # every task a cache hit
    assert code == 0 and {t["status"] for t in summary["tasks"].values()} == {"cached"}
    plan = run_cli(capsys, "plan", str(path), "--json").json()
    assert {t["learned_runs"] for t in plan["tasks"].values()} == {1}
    table = run_cli(capsys, "plan", str(path)).out
    assert "(the median of their last 1 run at most)" in table

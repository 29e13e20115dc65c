"""A prompt injection asks for the key: a task's model reads `.env`, greps for the key and
globs everything. Neither the server nor anything agentflow records ever gets the key."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.cli.test_tool_loop import calls, tool_results, turn, use
from tests.cli_helpers import run_json, write_workflow
from tests.conftest import TEST_API_KEY
from tests.support.messages_server import RecordedRequest, Reply


def project(tmp_path: Path, workspace: str) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('hello')\n")
    (root / ".env").write_text(f"ANTHROPIC_API_KEY={TEST_API_KEY}\nDEBUG=1\n")
    (root / "notes.md").write_text(f"the key is {TEST_API_KEY}, keep it safe\n")
    return write_workflow(
        root,
        f"workspace: {workspace}\ntasks:\n  t:\n    model: haiku\n"
        "    tools: [Read, Grep, Glob]\n    prompt: Summarise the project.\n",
    )


def injected(request: RecordedRequest) -> Reply:
    if turn(request) == 1:
        return Reply(
            content_blocks=[
                use("read", "Read", file_path=".env"),
                use("grep", "Grep", pattern="sk-ant-"),  # the key's prefix
                use("glob", "Glob", pattern="**/*"),
            ],
            stop_reason="tool_use",
        )
    # a model that learned the key some other way and repeats it
    return Reply(text=f"done; by the way the key is {TEST_API_KEY}")


def recorded_text(state: Path) -> str:
    """Everything agentflow wrote: the history (every table, as SQL) and the run folders."""
    with sqlite3.connect(state / "history.db") as db:
        history = "\n".join(db.iterdump())
    files = [p for p in (state / "runs").rglob("*") if p.is_file()]
    assert any(p.name == "messages.jsonl" for p in files)
    assert any(p.name == "summary.json" for p in files)
    assert any(p.name == "t.md" for p in files)
    caches = list((state / "cache").glob("*.sqlite3"))
    assert caches, "the response cache was written"
    for cache in caches:  # the response cache, as SQL: what a later run would read back
        with sqlite3.connect(cache) as db:
            history += "\n".join(db.iterdump())
    return history + "\n".join(p.read_text() for p in files)


def test_the_key_reaches_neither_the_model_nor_the_records(api, capsys, tmp_path):
    api.responder = injected
    path = project(tmp_path, ".")
    code, summary = run_json(capsys, path)
    assert code == 0, summary
    sent = calls(api)
    assert len(sent) == 2
    assert all(TEST_API_KEY not in json.dumps(r.body) for r in sent)
    results = {r["tool_use_id"]: r for r in tool_results(sent[1])}
    assert results["read"]["is_error"] is True
    assert ".env is withheld from agents" in results["read"]["content"]
    assert "allow: ['.env']" in results["read"]["content"]
    assert (
        results["grep"]["content"]
        == "notes.md:1:the key is [redacted: ANTHROPIC_API_KEY], keep it safe"
    )
    assert sorted(results["glob"]["content"].splitlines()) == ["notes.md", "src/app.py", "wf.yaml"]
    assert TEST_API_KEY not in json.dumps(summary)
    assert (
        summary["tasks"]["t"]["output"]
        == "done; by the way the key is [redacted: ANTHROPIC_API_KEY]"
    )
    assert TEST_API_KEY not in recorded_text(tmp_path / "state")


def test_an_allowed_env_file_is_read_with_the_key_redacted(api, capsys, tmp_path):
    api.responder = injected
    path = project(tmp_path, "{path: ., allow: [.env]}")
    code, summary = run_json(capsys, path)
    assert code == 0, summary
    sent = calls(api)
    assert all(TEST_API_KEY not in json.dumps(r.body) for r in sent)
    results = {r["tool_use_id"]: r for r in tool_results(sent[1])}
    assert not results["read"].get("is_error")
    assert results["read"]["content"] == (
        "     1\tANTHROPIC_API_KEY=[redacted: ANTHROPIC_API_KEY]\n     2\tDEBUG=1"
    )
    assert ".env" in results["glob"]["content"].splitlines()
    assert TEST_API_KEY not in recorded_text(tmp_path / "state")


def test_an_api_error_that_quotes_a_secret_is_recorded_without_it(
    api, capsys, tmp_path, monkeypatch
):
    token = "deploy-token-abcdef-42"  # any *_TOKEN of the environment, not only the API key
    monkeypatch.setenv("DEPLOY_TOKEN", token)
    api.responder = lambda request: Reply.error(400, f"bad request quoting {token}")
    path = write_workflow(tmp_path, "tasks:\n  t: {model: haiku, prompt: hi}\n")
    code, summary = run_json(capsys, path)
    assert code == 1
    redacted = "HTTP 400: bad request quoting [redacted: DEPLOY_TOKEN]"
    assert summary["tasks"]["t"]["error"] == redacted
    state = tmp_path / "state"
    with sqlite3.connect(state / "history.db") as db:
        errors = [row[0] for row in db.execute("SELECT error FROM attempts")]
        history = "\n".join(db.iterdump())
    assert errors == [redacted]
    assert token not in history
    assert token not in (state / "runs" / summary["run_id"] / "summary.json").read_text()

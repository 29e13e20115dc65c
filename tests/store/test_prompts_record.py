"""Every prompt is recorded (issue 11, item 19): a single-call task's system prompt, prompt
and answer are in the history, and a system prompt many tasks share is stored once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.cli_helpers import run_cli, run_json, write_workflow
from tests.support.messages_server import MessagesServer

SYSTEM = (
    "You are a careful release-notes writer. You read a changelog and write short, plain "
    "notes for users: what changed, why it matters, and what they must do, if anything."
)


def test_single_call_prompts_and_answers_are_recorded_and_shown(
    api: MessagesServer, capsys, tmp_path: Path
) -> None:
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "writer.md").write_text(
        f"---\nname: writer\ndescription: Writes release notes.\n---\n{SYSTEM}\n"
    )
    path = write_workflow(
        tmp_path,
        "agents: agents\n"
        "defaults: {agent: writer}\n"
        "tasks:\n"
        "  notes: {prompt: 'Notes for version 2.0: faster start-up.'}\n"
        "  summary: {prompt: 'Summarise: {{ tasks.notes.output }}', needs: [notes]}\n",
    )
    code, summary = run_json(capsys, path)
    assert code == 0, summary
    assert api.count("/v1/messages") == 2
    run_id = summary["run_id"]

    shown = run_cli(capsys, "runs", "show", run_id, "--messages")
    assert shown.code == 0, shown.err
    assert "recorded no messages" not in shown.out
    assert "Conversation of notes" in shown.out and "Conversation of summary" in shown.out
    assert "turn 1 user: Notes for version 2.0: faster start-up." in shown.out
    assert "turn 1 assistant: Answer to: Notes for version 2.0: faster start-up." in shown.out
    assert "system: You are a careful release-notes writer." in shown.out

    listed = run_cli(capsys, "runs", "show", run_id, "--messages", "--json").json()["messages"]
    said = [(m["task"], m["payload"]["role"], m["payload"]["text"]) for m in listed]
    assert said == [
        ("notes", "user", "Notes for version 2.0: faster start-up."),
        ("notes", "assistant", "Answer to: Notes for version 2.0: faster start-up."),
        ("summary", "user", "Summarise: Answer to: Notes for version 2.0: faster start-up."),
        ("summary", "assistant", summary["tasks"]["summary"]["output"]),
    ]
    prompts = [m["payload"] for m in listed if m["payload"]["role"] == "user"]
    assert [p["system"].strip() for p in prompts] == [SYSTEM, SYSTEM]

    # Both requests carried the same system prompt: the history holds it once.
    db = sqlite3.connect(tmp_path / "state" / "history.db")
    stored = db.execute("SELECT count(*) FROM blobs WHERE text LIKE ?", (f"%{SYSTEM}%",))
    assert stored.fetchone()[0] == 1
    db.close()

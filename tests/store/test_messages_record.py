"""A run's messages (issue 6): recorded in the history and the run folder, shown by
`runs show --messages`, and kept readable across the m006 migration."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

import agentflow.store.migrations
import agentflow.store.recorder
from agentflow.engine.recorder import BackgroundRecorder, Recorders
from agentflow.engine.results import Attempt, RunResult, TaskResult
from agentflow.engine.summary import run_summary
from agentflow.events import Event
from agentflow.prices import Usage
from agentflow.store.messages import BLOB_MIN_CHARS
from agentflow.store.migrations import MIGRATIONS
from agentflow.store.paths import history_path
from agentflow.store.queries import load_messages
from agentflow.store.recorder import HistoryRecorder
from agentflow.store.run_folder import MESSAGES_FILE, RunFolder
from tests.cli_helpers import run_cli

T0 = time.time() - 120
RUN_ID = "20250301-090000-msg001"
LONG_TEXT = "The release notes. " + "Every change explained at length. " * 40  # > 1,000 chars
JSON_KEYS = ["seq", "at", "task", "from", "to", "type", "payload"]


def make_run(run_id: str = RUN_ID) -> RunResult:
    def task(tid: str, agent: str, start: float, end: float) -> TaskResult:
        return TaskResult(
            tid,
            agent,
            "claude-sonnet-4-5",
            status="succeeded",
            attempts=[Attempt(1, "claude-sonnet-4-5", start, end, True, Usage(100, 50), 0.001)],
            output=f"{tid} done",
            started_at=start,
            ended_at=end,
        )

    tasks = [
        task("draft", "writer", T0 + 0.5, T0 + 8),
        task("review", "reviewer", T0 + 8.5, T0 + 11),
        task("facts", "researcher", T0 + 0.5, T0 + 1),  # used no tools: no conversation
    ]
    return RunResult(
        run_id=run_id,
        workflow="notes",
        run_dir=Path("/state/runs") / run_id,
        tasks={t.id: t for t in tasks},
        started_at=T0,
        ended_at=T0 + 12,
    )


def make_events() -> list[Event]:
    """A draft task that reads files, asks the reviewer agent, notifies and sets state;
    then a review task whose answer was cut short."""
    specs: list[tuple[float, str, str, str, str, dict[str, Any]]] = [
        (1.0, "draft", "draft", "draft", "message",
         {"role": "user", "turn": 1, "text": "Write the release notes for v2.",
          "notes": ["review: the tests are green"]}),
        (1.5, "draft", "draft", "draft", "message",
         {"role": "assistant", "turn": 1, "text": "I will read the changelog first.",
          "stop_reason": "tool_use"}),
        (1.6, "draft", "draft", "Read", "tool_call",
         {"id": "tu1", "name": "Read", "input": {"file_path": "CHANGES.md"}, "turn": 1}),
        (1.7, "draft", "Read", "draft", "tool_result",
         {"id": "tu1", "name": "Read", "content": "# Changes\n- faster runs\n- fewer retries",
          "is_error": False}),
        (1.8, "draft", "draft", "Read", "tool_call",
         {"id": "tu2", "name": "Read", "input": {"file_path": "MISSING.md"}, "turn": 1}),
        (1.9, "draft", "Read", "draft", "tool_result",
         {"id": "tu2", "name": "Read", "content": "no such file: MISSING.md", "is_error": True}),
        (1.92, "draft", "draft", "draft", "message",
         {"role": "assistant", "turn": 2, "text": "", "stop_reason": "tool_use"}),
        (2.0, "draft", "draft", "ask_agent", "tool_call",
         {"id": "tu3", "name": "ask_agent", "turn": 2,
          "input": {"agent": "reviewer", "question": "Is 'faster runs' accurate?"}}),
        (2.1, "draft", "draft", "agent:reviewer", "request",
         {"agent": "reviewer", "question": "Is 'faster runs' accurate?", "depth": 1}),
        (2.2, "draft", "agent:reviewer", "agent:reviewer", "message",
         {"role": "user", "turn": 1, "text": "Is 'faster runs' accurate?", "agent": "reviewer"}),
        (3.0, "draft", "agent:reviewer", "agent:reviewer", "message",
         {"role": "assistant", "turn": 1, "text": "Yes: 30% faster in the benchmark.",
          "agent": "reviewer", "stop_reason": "end_turn"}),
        (3.1, "draft", "agent:reviewer", "draft", "response",
         {"agent": "reviewer", "answer": "Yes: 30% faster in the benchmark.", "is_error": False}),
        (3.2, "draft", "ask_agent", "draft", "tool_result",
         {"id": "tu3", "name": "ask_agent", "content": "Yes: 30% faster in the benchmark.",
          "is_error": False}),
        (4.0, "draft", "draft", "notify", "tool_call",
         {"id": "tu4", "name": "notify", "turn": 3,
          "input": {"topic": "release", "message": "[draft] notes ready"}}),
        (4.1, "draft", "draft", "release", "notification",
         {"topic": "release", "message": "[draft] notes ready"}),
        (4.2, "draft", "notify", "draft", "tool_result",
         {"id": "tu4", "name": "notify", "content": "delivered to 1 subscriber",
          "is_error": False}),
        (5.0, "draft", "draft", "set_state", "tool_call",
         {"id": "tu5", "name": "set_state", "turn": 3,
          "input": {"key": "version", "value": "2.0"}}),
        (5.1, "draft", "draft", "state", "state",
         {"key": "version", "version": 2, "old": "1.9", "new": "2.0"}),
        (5.2, "draft", "set_state", "draft", "tool_result",
         {"id": "tu5", "name": "set_state", "content": "version is now 2", "is_error": False}),
        (7.5, "draft", "draft", "draft", "message",
         {"role": "assistant", "turn": 4, "text": LONG_TEXT, "stop_reason": "end_turn"}),
        (9.0, "review", "review", "review", "message",
         {"role": "user", "turn": 1, "text": "Review the notes: ünïcode ✓"}),
        (10.5, "review", "review", "review", "message",
         {"role": "assistant", "turn": 1, "text": "Approved, with one",
          "stop_reason": "max_tokens"}),
    ]  # fmt: skip
    return [
        Event(seq, T0 + dt, task, sender, recipient, kind, payload)  # type: ignore[arg-type]
        for seq, (dt, task, sender, recipient, kind, payload) in enumerate(specs, start=1)
    ]


def record(run: RunResult, events: list[Event], root: Path) -> RunFolder:
    """As `agentflow run` records: the run folder and the history, on the background thread."""
    folder = RunFolder(root, run.run_id)
    history = HistoryRecorder()
    recorder = BackgroundRecorder(Recorders(folder, history))
    recorder.run_started(run)
    for event in events:
        recorder.message(event)
    for task in run.tasks.values():
        recorder.task_finished(task)
    recorder.run_finished(run)
    recorder.join()
    assert history.errors == []
    return folder


@pytest.fixture
def recorded(home: Path) -> tuple[RunResult, list[Event], RunFolder]:
    run, events = make_run(), make_events()
    return run, events, record(run, events, home)


# --- recording ------------------------------------------------------------------------------


def test_history_stores_every_message_once_in_order(recorded, home: Path) -> None:
    run, events, _ = recorded
    recorder = HistoryRecorder()  # the same event again (a retried write) stays one row
    recorder.run_started(run)
    recorder.message(events[0])
    recorder.close()
    assert recorder.errors == []

    db = sqlite3.connect(history_path())
    rows = db.execute(
        "SELECT seq, at, task_id, sender, recipient, kind, payload FROM messages "
        "WHERE run_id = ? ORDER BY seq",
        (RUN_ID,),
    ).fetchall()
    indexes = [row[1] for row in db.execute("PRAGMA index_list(messages)")]
    db.close()
    assert [(r[0], r[2], r[3], r[4], r[5]) for r in rows] == [
        (e.seq, e.task, e.sender, e.recipient, e.kind) for e in events
    ]
    # Long texts are kept once in `blobs`, their places in the payload held by null.
    assert [json.loads(r[6]) for r in rows] == [
        {
            k: None if isinstance(v, str) and len(v) >= BLOB_MIN_CHARS else v
            for k, v in e.payload.items()
        }
        for e in events
    ]
    assert rows[0][1] == pytest.approx(T0 + 1.0)
    assert "messages_run_task" in indexes

    assert load_messages(RUN_ID[:-2]) == events  # a prefix is enough; frozen Events back


def test_run_folder_appends_one_json_line_per_message(recorded) -> None:
    _, events, folder = recorded
    lines = (folder.path / MESSAGES_FILE).read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(events)  # newlines inside texts do not split a line
    first, last = json.loads(lines[0]), json.loads(lines[-1])
    assert list(first) == JSON_KEYS
    assert first["from"] == "draft" and first["type"] == "message"
    assert first["payload"]["notes"] == ["review: the tests are green"]
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, len(events) + 1))
    assert last["task"] == "review" and last["payload"]["stop_reason"] == "max_tokens"
    assert "ünïcode ✓" in lines[-2]  # kept readable, not \u-escaped
    assert (folder.path / "summary.json").exists()


def test_a_run_without_messages_gets_no_messages_file(home: Path, capsys) -> None:
    run = make_run("20250301-100000-quiet0")
    folder = record(run, [], home)
    assert not (folder.path / MESSAGES_FILE).exists()
    assert (folder.path / "summary.json").exists()

    shown = run_cli(capsys, "runs", "show", run.run_id, "--messages")
    assert shown.code == 0, shown.err
    assert f"run {run.run_id} recorded no messages" in shown.out
    assert "Conversation of" not in shown.out and "Traffic between agents" not in shown.out
    assert (
        run_cli(capsys, "runs", "show", run.run_id, "--messages", "--json").json()["messages"] == []
    )


# --- runs show --messages -------------------------------------------------------------------


def _section(out: str, title: str) -> list[str]:
    """The lines of one section: from its title to the next blank line."""
    lines = out.splitlines()
    start = lines.index(title)
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start + 1 : end]


def test_runs_show_messages_prints_conversations_and_traffic(recorded, capsys) -> None:
    shown = run_cli(capsys, "runs", "show", RUN_ID, "--messages")
    assert shown.code == 0, shown.err
    out = shown.out
    assert f"run {RUN_ID}" in out  # the usual tables still come first
    assert out.index(f"run {RUN_ID}") < out.index("Conversation of draft")
    assert out.index("Conversation of draft") < out.index("Conversation of review")
    assert out.index("Conversation of review") < out.index("Traffic between agents")
    assert "Conversation of facts" not in out  # a task with no messages has no section

    draft = _section(out, "Conversation of draft")
    expected = [
        "+1.0s  note: review: the tests are green",
        "+1.0s  turn 1 user: Write the release notes for v2.",
        "+1.5s  turn 1 assistant: I will read the changelog first.",
        '+1.6s  → Read {"file_path": "CHANGES.md"}',
        "+1.7s  ← Read: # Changes…",
        "+1.9s  ← Read (error): no such file: MISSING.md",
        "+1.9s  turn 2 assistant: (no text)",
        "+2.2s  agent:reviewer › turn 1 user: Is 'faster runs' accurate?",
        "+3.0s  agent:reviewer › turn 1 assistant: Yes: 30% faster in the benchmark.",
        "+3.2s  ← ask_agent: Yes: 30% faster in the benchmark.",
        '+4.0s  → notify {"topic": "release", "message": "[draft] notes ready"}',
    ]
    stripped = [line.strip() for line in draft]
    positions = [stripped.index(line) for line in expected]  # each present, as one line
    assert positions == sorted(positions)  # and in the order they happened
    assert not any(line.startswith("+2.1s") for line in stripped)  # traffic is in the table

    long_line = next(line for line in stripped if line.startswith("+7.5s"))
    assert long_line.endswith("…") and LONG_TEXT.strip() not in long_line
    assert 380 < len(long_line) < 440  # cut, not dropped

    review = [line.strip() for line in _section(out, "Conversation of review")]
    assert review == [
        "+9.0s  turn 1 user: Review the notes: ünïcode ✓",
        "+10.5s  turn 1 assistant: Approved, with one (stopped: max_tokens)",
    ]

    traffic = out[out.index("Traffic between agents") :].splitlines()
    rows = [[cell.strip() for cell in line.split("|")[1:-1]] for line in traffic if "|" in line]
    assert rows[0] == ["time", "from", "to", "type", "summary"]
    assert rows[1:] == [
        ["+2.1s", "draft", "agent:reviewer", "request", "Is 'faster runs' accurate?"],
        ["+3.1s", "agent:reviewer", "draft", "response", "Yes: 30% faster in the benchmark."],
        ["+4.1s", "draft", "release", "notification", "[draft] notes ready"],
        ["+5.1s", "draft", "state", "state", 'version v2: "1.9" → "2.0"'],
    ]


def test_runs_show_messages_json_adds_the_messages_in_order(recorded, capsys) -> None:
    run, events, _ = recorded
    shown = run_cli(capsys, "runs", "show", RUN_ID, "--messages", "--json")
    assert shown.code == 0 and len(shown.out.strip().splitlines()) == 1
    document = shown.json()
    messages = document.pop("messages")
    assert document == run_summary(run)  # otherwise the usual document
    assert [list(m) for m in messages] == [JSON_KEYS] * len(events)
    assert [m["seq"] for m in messages] == list(range(1, len(events) + 1))
    request = messages[8]
    assert request == {
        "seq": 9,
        "at": pytest.approx(T0 + 2.1),
        "task": "draft",
        "from": "draft",
        "to": "agent:reviewer",
        "type": "request",
        "payload": {"agent": "reviewer", "question": "Is 'faster runs' accurate?", "depth": 1},
    }
    assert [m["payload"] for m in messages] == [e.payload for e in events]

    plain = run_cli(capsys, "runs", "show", RUN_ID, "--json").json()
    assert "messages" not in plain  # only with --messages


def test_runs_show_messages_unknown_id_is_exit_2(recorded, capsys) -> None:
    result = run_cli(capsys, "runs", "show", "no-such-run", "--messages")
    assert result.code == 2 and result.out == ""
    assert "no run 'no-such-run'" in result.err and "agentflow runs list" in result.err


# --- migration ------------------------------------------------------------------------------


def test_a_database_at_m005_gains_messages_and_keeps_its_runs(
    home: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [fn.__name__ for fn in MIGRATIONS]
    assert "m006_messages" in names
    old_version = MIGRATIONS[: names.index("m005_attempt_purpose") + 1]
    old_run = make_run("20250201-000000-old005")
    newer_columns = ("turns", "tool_calls", "provider", "truncated", "estimated")  # m007+
    task_row, run_row = agentflow.store.recorder._task_row, agentflow.store.recorder._run_row
    attempt_row = agentflow.store.recorder._attempt_row

    def old_attempt_row(*args):
        return {k: v for k, v in attempt_row(*args).items() if k not in newer_columns}

    def old_task_row(*args):
        return {k: v for k, v in task_row(*args).items() if k not in newer_columns}

    def old_run_row(*args):
        return {k: v for k, v in run_row(*args).items() if k not in newer_columns}

    with monkeypatch.context() as patch:  # recorded by a version that stopped at m005
        patch.setattr(agentflow.store.migrations, "MIGRATIONS", old_version)
        patch.setattr(agentflow.store.recorder, "_task_row", old_task_row)
        patch.setattr(agentflow.store.recorder, "_run_row", old_run_row)
        patch.setattr(agentflow.store.recorder, "_attempt_row", old_attempt_row)
        recorder = HistoryRecorder()
        recorder.run_finished(old_run)
        assert not recorder.errors
    db = sqlite3.connect(history_path())
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    assert "runs" in tables and "messages" not in tables

    shown = run_cli(capsys, "runs", "show", old_run.run_id, "--messages")
    assert shown.code == 0, shown.err
    assert f"run {old_run.run_id}" in shown.out and "draft done" not in shown.err
    assert f"run {old_run.run_id} recorded no messages" in shown.out
    assert run_cli(capsys, "runs", "show", old_run.run_id, "--json").json() == run_summary(old_run)

    db = sqlite3.connect(history_path())
    applied = [row[0] for row in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    db.close()
    assert applied == names and "messages" in tables

    # and the upgraded database records a new run's messages next to the old run
    run, events = make_run(), make_events()
    record(run, events, home)
    assert load_messages(RUN_ID) == events
    assert load_messages(old_run.run_id) == []

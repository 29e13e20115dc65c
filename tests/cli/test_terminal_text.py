"""Issue 11, item 15: what reaches the terminal is text. Control characters (ESC sequences,
bells, carriage returns, bidi overrides) from workflows, agent files and servers are shown
escaped, and a small file cannot make a message of megabytes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.cli_helpers import run_cli, write_workflow
from tests.support.messages_server import MessagesServer, Reply

EVIL = "\x1b[2J\u202e\x07\r"
AGENT = "wri\x1b[2J\u202e\x07ter"  # an agent file's lines end at \r: none in its name
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def no_raw_controls(*outputs: str) -> None:
    for text in outputs:
        found = RAW.findall(text)
        assert not found, f"raw control characters reached the terminal: {found!r}"


def evil_workflow(tmp_path: Path) -> Path:
    agents = tmp_path / "agents"
    agents.mkdir()
    (agents / "w.md").write_text(
        f"---\nname: {json.dumps(AGENT)}\n"
        f"description: {json.dumps('writes ' + EVIL)}\n---\nYou write.\n"
    )
    body = (
        f"description: {json.dumps('about ' + EVIL)}\n"
        f"defaults: {{model: haiku, max_tokens: 100, retries: 0, agent: {json.dumps(AGENT)}}}\n"
        "tasks:\n  draft: {prompt: 'Write'}\n  review: {prompt: 'Review', needs: [draft]}\n"
    )
    return write_workflow(tmp_path, body, workflow=json.dumps("evil" + EVIL))


def test_names_and_errors_with_control_characters_are_shown_escaped(
    api: MessagesServer, capsys, tmp_path: Path
) -> None:
    api.responder = lambda request: (
        Reply.error(400, "bad request " + EVIL)
        if "Review" in request.last_user_text
        else Reply(text="a draft " + EVIL)
    )
    path = evil_workflow(tmp_path)
    results = [
        run_cli(capsys, "validate", str(path)),
        run_cli(capsys, "plan", str(path)),
        run_cli(capsys, "run", str(path)),
        run_cli(capsys, "runs", "list"),
        run_cli(capsys, "agents", "list", "--dir", str(tmp_path / "agents")),
    ]
    assert [r.code for r in results] == [0, 0, 1, 0, 0]
    run = results[2]
    assert "evil\\x1b[2J\\u202e\\x07\\r: failed" in run.out  # shown as what it is
    assert "wri\\x1b[2J\\u202e" in run.out and "bad request \\x1b[2J" in run.out
    no_raw_controls(*(r.out for r in results), *(r.err for r in results))
    shown = run_cli(capsys, "runs", "show", run.out.split()[1], "--messages")
    assert shown.code == 0 and "wri\\x1b[2J\\u202e" in shown.out
    no_raw_controls(shown.out, shown.err)
    bad_id = write_workflow(tmp_path, f"tasks:\n  {json.dumps('bad' + EVIL)}: {{prompt: hi}}\n")
    refused = run_cli(capsys, "validate", str(bad_id))
    assert refused.code == 2 and "invalid name 'bad\\x1b[2J\\u202e" in refused.err
    no_raw_controls(refused.out, refused.err)


def test_a_megabyte_value_makes_a_message_of_a_few_kilobytes(home, capsys, tmp_path: Path):
    huge = "x" * 1_000_000
    bodies = {
        "schema.yaml": f"tasks:\n  a: {{prompt: hi, max_tokens: '{huge}'}}\n",
        "needs.yaml": f"tasks:\n  a: {{prompt: hi}}\n  b: {{prompt: hi, needs: ['{huge}']}}\n",
        "model.yaml": f"tasks:\n  a: {{prompt: hi, model: '{huge}'}}\n",
    }
    paths = [str(write_workflow(tmp_path, body, name)) for name, body in bodies.items()]
    result = run_cli(capsys, "validate", *paths)
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 3 and all(len(line) < 4096 for line in lines), [len(x) for x in lines]
    assert all("'" + "x" * 200 + "…'" in line for line in lines)  # the quoted value, cut
    as_json = run_cli(capsys, "validate", *paths, "--json")
    assert as_json.code == 2 and len(as_json.out) < 16_384
    problems = [p for f in as_json.json()["files"] for p in f["problems"]]
    assert len(problems) == 3 and all(len(p["message"]) < 4096 for p in problems)


def test_a_megabyte_error_from_the_api_is_cut_in_json_and_tables(
    api: MessagesServer, capsys, tmp_path: Path
) -> None:
    api.responder = lambda request: Reply.error(400, "too long: '" + "y" * 1_000_000 + "'")
    path = write_workflow(tmp_path, "defaults: {model: haiku}\ntasks:\n  a: {prompt: hi}\n")
    result = run_cli(capsys, "run", str(path), "--json")
    assert result.code == 1 and len(result.out) < 16_384 and len(result.err) < 4096
    error = json.loads(result.out)["tasks"]["a"]["error"]
    assert "too long" in error and len(error) < 4096
    shown = run_cli(capsys, "runs", "show", json.loads(result.out)["run_id"], "--json")
    assert len(shown.json()["tasks"]["a"]["error"]) < 4096

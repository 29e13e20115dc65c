"""Issue 11, item 21: `agentflow ... | head` ends quietly when the reader goes away, as shell
tools do: no traceback, the command's own exit code, and a run still recorded as it went.
Each test runs the real program with its stdout on a real pipe that is closed early."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli, write_workflow
from tests.conftest import TEST_API_KEY
from tests.support.messages_server import MessagesServer, Reply

pytestmark = pytest.mark.slow  # a cold interpreter each

CHAIN = """\
defaults: {model: haiku, max_tokens: 100, retries: 0}
tasks:
  first: {prompt: "Name an owl"}
  second: {prompt: "Describe {{ tasks.first.output }}", needs: [first]}
"""


def environment(tmp_path: Path, server: MessagesServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTFLOW_", "ANTHROPIC_"))}
    return env | {
        "AGENTFLOW_HOME": str(tmp_path / "state"),
        "ANTHROPIC_BASE_URL": server.url,
        "ANTHROPIC_API_KEY": TEST_API_KEY,
    }


def closed_early(*args: str, env: dict[str, str], keep: int) -> tuple[int, bytes, str]:
    """Run `agentflow ARGS` with stdout on a pipe whose reader takes `keep` bytes (0: none)
    and goes away, as `| head -c KEEP` does; the exit code, what was read, and stderr."""
    process = subprocess.Popen(
        [sys.executable, "-m", "agentflow", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    head = process.stdout.read(keep) if keep else b""
    process.stdout.close()
    err = process.stderr.read().decode()
    return process.wait(timeout=120), head, err


def test_a_run_whose_reader_goes_away_exits_quietly_and_is_recorded(
    api: MessagesServer, capsys, tmp_path: Path
) -> None:
    api.responder = lambda request: Reply(text="owl " * 250_000)  # 1 MB: beyond any pipe buffer
    path = write_workflow(tmp_path, CHAIN)
    env = environment(tmp_path, api)
    code, head, err = closed_early("run", str(path), "--json", env=env, keep=100)
    assert head.startswith(b'{"run_id": ')
    assert (code, err) == (0, "")
    assert api.count("/v1/messages") == 2
    runs = run_cli(capsys, "runs", "list", "--json").json()
    assert [r["status"] for r in runs] == ["succeeded"]
    shown = run_cli(capsys, "runs", "show", runs[0]["run_id"], "--json").json()
    assert {t["status"] for t in shown["tasks"].values()} == {"succeeded"}

    code, head, err = closed_early("runs", "show", runs[0]["run_id"], "--json", env=env, keep=10)
    assert (code, err) == (0, "") and len(head) == 10


@pytest.mark.parametrize(
    "command",
    [("run", "WF"), ("validate", "WF"), ("plan", "WF"), ("runs", "list")],
    ids=lambda c: " ".join(c),
)
def test_output_to_a_reader_that_is_already_gone_is_dropped_quietly(
    api: MessagesServer, tmp_path: Path, command: tuple[str, ...]
) -> None:
    path = write_workflow(tmp_path, CHAIN)
    args = [str(path) if a == "WF" else a for a in command]
    code, _, err = closed_early(*args, env=environment(tmp_path, api), keep=0)
    assert (code, err) == (0, "")

"""`agentflow` as a program, each test in a fresh interpreter: output flushed before the fast
exit, and the Anthropic SDK's load never counted against a task (nor done when no request is
needed). In-process tests cannot see either: the SDK is already imported there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import write_workflow
from tests.conftest import TEST_API_KEY
from tests.support.messages_server import MessagesServer, Reply

pytestmark = pytest.mark.slow  # a cold interpreter each, 1-3 s


def agentflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentflow", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def environment(tmp_path: Path, server: MessagesServer | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTFLOW_", "ANTHROPIC_"))}
    env["AGENTFLOW_HOME"] = str(tmp_path / "state")
    if server is not None:
        env |= {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": TEST_API_KEY}
    return env


def test_output_is_whole_and_codes_stable_despite_the_fast_exit(tmp_path: Path) -> None:
    tasks = "\n".join(f"  t{i}: {{prompt: 'step {i}', model: haiku}}" for i in range(300))
    good = write_workflow(tmp_path, f"tasks:\n{tasks}\n")
    done = agentflow("plan", str(good), "--json", env=environment(tmp_path))
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["tasks"]) == 300  # a large document, all of it
    bad = write_workflow(tmp_path, "tasks:\n  a: {prompt: x, needs: [nope]}\n", name="bad.yaml")
    done = agentflow("validate", str(bad), env=environment(tmp_path))
    assert done.returncode == 2 and done.stdout == ""
    assert f"{bad}:4:26:" in done.stderr and "unknown task 'nope'" in done.stderr


def test_a_tight_timeout_holds_on_a_cold_start(messages_server: MessagesServer, tmp_path):
    """Loading the SDK takes a second or more; the first attempt's clock must not include
    it (before it was loaded first, this task failed with "no answer within 1s" while the
    server saw no request at all)."""
    messages_server.responder = lambda request: Reply(delay=0.3)
    body = "defaults: {model: haiku, timeout: 1, retries: 0}\ntasks:\n  a: {prompt: hello}\n"
    path = write_workflow(tmp_path, body)
    done = agentflow("run", str(path), "--json", env=environment(tmp_path, messages_server))
    assert done.returncode == 0, done.stderr
    task = json.loads(done.stdout)["tasks"]["a"]
    assert task["status"] == "succeeded" and task["attempts"] == 1
    assert 0.3 <= task["ended_at"] - task["started_at"] < 1.0  # the call, not the SDK's load
    assert messages_server.count("/v1/messages") == 1


def test_a_run_answered_from_the_cache_never_loads_the_sdk(
    messages_server: MessagesServer, tmp_path
) -> None:
    path = write_workflow(tmp_path, "defaults: {model: haiku}\ntasks:\n  a: {prompt: hello}\n")
    env = environment(tmp_path, messages_server)
    first = agentflow("run", str(path), "--json", env=env)
    assert first.returncode == 0, first.stderr
    again = agentflow("run", str(path), "--json", env={**env, "PYTHONPROFILEIMPORTTIME": "1"})
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["tasks"]["a"]["status"] == "cached"
    imported = {line.rsplit("|", 1)[-1].strip() for line in again.stderr.splitlines()}
    assert "agentflow.providers.anthropic" not in imported and "anthropic" not in imported
    assert messages_server.count("/v1/messages") == 1

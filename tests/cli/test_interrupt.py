"""Ctrl-C mid-run: finished work is kept, in-flight work is cancelled, exit 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.messages_server import MessagesServer, Reply

pytestmark = pytest.mark.slow  # real processes and signals, seconds each

WORKFLOW = """\
version: 1
name: interrupt-me
tasks:
  fast: {prompt: "fast one"}
  slow: {prompt: "slow one"}
  after: {prompt: "after {{ tasks.slow.output }}", needs: [slow]}
"""


def start_run(
    server: MessagesServer, tmp_path: Path, path: Path, *args: str
) -> subprocess.Popen[str]:
    """`agentflow run PATH ARGS` in its own process, against the loopback server."""
    env = {
        **os.environ,
        "ANTHROPIC_BASE_URL": server.url,
        "ANTHROPIC_API_KEY": "k",
        "AGENTFLOW_HOME": str(tmp_path / "state"),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "agentflow", "run", str(path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )


def wait_for(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_sigint_keeps_finished_outputs(messages_server: MessagesServer, tmp_path: Path):
    messages_server.responder = lambda r: Reply(delay=30) if "slow" in r.last_user_text else None
    path = tmp_path / "wf.yaml"
    path.write_text(WORKFLOW)
    state = tmp_path / "state"
    process = start_run(messages_server, tmp_path, path, "--json")
    try:
        assert wait_for(lambda: list(state.glob("runs/*/fast.md")), 30), "fast never finished"
        assert wait_for(lambda: messages_server.in_flight == 1, 10)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert time.monotonic() - started < 10, "stopping must not wait for the slow answer"
    assert process.returncode == 130, err
    assert "Traceback" not in err
    summary = json.loads(out)
    assert summary["status"] == "interrupted"
    statuses = {tid: t["status"] for tid, t in summary["tasks"].items()}
    assert statuses == {"fast": "succeeded", "slow": "cancelled", "after": "cancelled"}
    run_dir = Path(summary["run_dir"])
    assert (run_dir / "fast.md").read_text() == "Answer to: fast one"
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "interrupted"


def test_sigterm_behaves_like_ctrl_c(messages_server: MessagesServer, tmp_path: Path):
    messages_server.responder = lambda r: Reply(delay=30)
    path = tmp_path / "wf.yaml"
    path.write_text(WORKFLOW)
    process = start_run(messages_server, tmp_path, path)
    try:
        assert wait_for(lambda: messages_server.in_flight == 2, 30)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "interrupted" in out and "cancelled" in out


def test_second_ctrl_c_leaves_at_once(messages_server: MessagesServer, tmp_path: Path):
    messages_server.responder = lambda r: Reply(delay=30)
    path = tmp_path / "wf.yaml"
    path.write_text(WORKFLOW)
    process = start_run(messages_server, tmp_path, path, "--json")
    try:
        assert wait_for(lambda: messages_server.in_flight == 2, 30)
        process.send_signal(signal.SIGINT)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode == 130
    assert "Traceback" not in err


def test_concurrent_runs_share_the_cache_safely(messages_server: MessagesServer, tmp_path: Path):
    tasks = "".join(f"  t{i}: {{prompt: 'shared question {i}'}}\n" for i in range(30))
    runs = []
    for name in ("one", "two"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(f"version: 1\nname: {name}\nconcurrency: 10\ntasks:\n{tasks}")
        runs.append(start_run(messages_server, tmp_path, path, "--json"))
    results = [process.communicate(timeout=120) for process in runs]
    assert [process.returncode for process in runs] == [0, 0], [err for _, err in results]
    for out, _ in results:
        assert json.loads(out)["status"] == "succeeded"
    sent = messages_server.count("/v1/messages")
    assert 30 <= sent <= 60  # each question asked at most once per run, never lost
    messages_server.reset()
    again = start_run(messages_server, tmp_path, tmp_path / "one.yaml", "--json")
    again.communicate(timeout=120)
    assert again.returncode == 0 and messages_server.count() == 0


def test_second_ctrl_c_leaves_at_once_while_the_recorder_catches_up(tmp_path: Path):
    """20,000 simulated tasks at zero latency finish faster than the history and the run
    folder are written: Ctrl-C twice during that backlog still leaves at once, with 130."""
    tasks = 20_000
    path = tmp_path / "wide.yaml"
    path.write_text(
        "version: 1\nname: wide\nconcurrency: 50\ndefaults: {max_tokens: 64}\ntasks:\n"
        + "".join(f"  t{i}: {{prompt: 'item {i}'}}\n" for i in range(tasks))
    )
    state = tmp_path / "state"
    env = {**os.environ, "AGENTFLOW_HOME": str(state), "AGENTFLOW_SIMULATE_LATENCY": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "agentflow", "run", str(path), "--provider", "simulate",
         "--json", "--no-cache"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        # Outputs are written by the recorder: once some are on disk, the run is well on.
        assert wait_for(lambda: len(list(state.glob("runs/*/t1*.md"))) >= 200, 120)
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
        took = time.monotonic() - started
    finally:
        process.kill()
    assert process.returncode == 130, err[-2000:]
    assert took < 2.5, f"the second Ctrl-C took {took:.1f}s to end the run"
    assert "Traceback" not in err

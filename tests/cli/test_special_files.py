"""Author files that are not regular files: a FIFO, /dev/zero behind a symlink, a symlink
loop. Each is one clear problem (exit 2, naming the file), never a hang, a flood of
memory or an internal error. The command runs in a child process with a memory cap and a
timeout, so a regression fails the test instead of hanging or exhausting the machine."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_helpers import write_workflow

pytestmark = pytest.mark.slow  # a cold interpreter each, about a second

MEMORY_CAP = 1 << 30  # 1 GB of address space: /dev/zero read whole would pass it in a second
SECONDS = 30


def agentflow(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    def cap_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    env = {**os.environ, "AGENTFLOW_HOME": str(cwd / "state")}
    env.pop("AGENTFLOW_PRICES", None)
    try:
        return subprocess.run(
            [sys.executable, "-m", "agentflow", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=SECONDS,
            preexec_fn=cap_memory,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"agentflow {' '.join(args)} hung for {SECONDS} s")


def agents_workflow(tmp_path: Path) -> Path:
    folder = tmp_path / "agents"
    folder.mkdir()
    (folder / "writer.md").write_text("---\nname: writer\ndescription: Writes.\n---\nWrite.\n")
    return write_workflow(tmp_path, "tasks:\n  a: {prompt: hi, agent: writer}\n")


def test_an_agent_file_linked_to_dev_zero_is_refused_without_reading_it(tmp_path):
    path = agents_workflow(tmp_path)
    (tmp_path / "agents" / "zero.md").symlink_to("/dev/zero")
    done = agentflow("validate", str(path), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "zero.md" in done.stderr
    assert "agent file is a device, not a regular file" in done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr


def test_an_agent_file_that_is_a_fifo_does_not_hang_validate(tmp_path):
    path = agents_workflow(tmp_path)
    os.mkfifo(tmp_path / "agents" / "pipe.md")
    done = agentflow("validate", str(path), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "pipe.md" in done.stderr and "is a FIFO (named pipe)" in done.stderr


def test_a_workflow_that_is_a_fifo_does_not_hang_validate_or_plan(tmp_path):
    fifo = tmp_path / "wf.yaml"
    os.mkfifo(fifo)
    for command in ("validate", "plan"):
        done = agentflow(command, str(fifo), cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert f"{fifo}: error: workflow file is a FIFO (named pipe)" in done.stderr
        assert "give the path of a regular file" in done.stderr


def test_a_symlink_loop_is_a_clear_problem(tmp_path):
    loop = tmp_path / "wf.yaml"
    loop.symlink_to(loop)
    done = agentflow("validate", str(loop), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "workflow file is a symlink loop" in done.stderr
    project = tmp_path / "project"
    project.mkdir()
    path = agents_workflow(project)
    (project / "agents" / "loop.md").symlink_to(project / "agents" / "loop.md")
    done = agentflow("validate", str(path), cwd=project)
    assert done.returncode == 2, done.stderr
    assert "loop.md" in done.stderr and "agent file is a symlink loop" in done.stderr


def test_a_price_file_that_is_a_fifo_or_dev_zero_is_refused(tmp_path):
    path = write_workflow(tmp_path, "tasks:\n  a: {prompt: hi, model: haiku}\n")
    os.mkfifo(tmp_path / "prices.yaml")
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    for prices, kind in (("prices.yaml", "a FIFO (named pipe)"), ("zero.yaml", "a device")):
        done = agentflow("plan", str(path), "--prices", str(tmp_path / prices), cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert f"price file is {kind}, not a regular file" in done.stderr

"""What a run does when the disk does not cooperate (issue 11, items 4 and 11): an unusable
state or cache folder is exit 2 before anything is spent; a disk that fills up mid-run
costs the saved copies, never a paid answer."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import run_cli, write_workflow
from tests.support.messages_server import MessagesServer

CHAIN = """\
defaults: {model: haiku, max_tokens: 100}
tasks:
  first: {prompt: "Name an owl"}
  second: {prompt: "Describe {{ tasks.first.output }}", needs: [first]}
  third: {prompt: "Summarise {{ tasks.second.output }}", needs: [second]}
"""


def test_a_cache_folder_that_is_a_file_is_exit_2_before_any_request(
    api: MessagesServer, capsys, tmp_path: Path
) -> None:
    blocker = tmp_path / "cache-file"
    blocker.write_text("not a folder")
    path = write_workflow(tmp_path, CHAIN)
    result = run_cli(capsys, "run", str(path), "--json", "--cache-dir", str(blocker))
    assert result.code == 2 and result.out == "" and api.count("/v1/messages") == 0
    assert f"{blocker}: error: cannot use the response cache" in result.err
    assert "--no-cache" in result.err and "internal error" not in result.err


def test_a_state_folder_that_is_a_file_is_exit_2_before_any_request(
    api: MessagesServer, capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "home-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("AGENTFLOW_HOME", str(blocker))
    path = write_workflow(tmp_path, CHAIN)
    result = run_cli(capsys, "run", str(path), "--json", "--no-cache")
    assert result.code == 2 and result.out == "" and api.count("/v1/messages") == 0
    assert f"{blocker}: error: cannot use the state folder" in result.err
    assert "AGENTFLOW_HOME" in result.err and "internal error" not in result.err


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MB tmpfs, unmounted afterwards; skips where mounting is not allowed."""
    where = tmp_path / "disk"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small filesystem needs root (CI runs as root)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(disk: Path) -> None:
    """Write until the filesystem is full."""
    with (disk / "ballast").open("wb") as ballast:
        try:
            while True:
                ballast.write(b"\0" * 65536)
                ballast.flush()
        except OSError:
            pass


def test_a_disk_that_fills_up_mid_run_keeps_every_paid_answer(
    api: MessagesServer,
    capsys,
    tmp_path: Path,
    small_disk: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTFLOW_HOME", str(small_disk / "state"))

    def full_from_now(request: object) -> None:
        """The disk fills up while the first answer is on its way (the default answer)."""
        if not (small_disk / "ballast").exists():
            fill(small_disk)

    api.responder = full_from_now  # type: ignore[assignment]
    result = run_cli(capsys, "run", str(write_workflow(tmp_path, CHAIN)), "--json")
    assert result.code == 0, result.err
    tasks = json.loads(result.out)["tasks"]
    assert [tasks[t]["status"] for t in ("first", "second", "third")] == ["succeeded"] * 3
    assert api.count("/v1/messages") == 3  # each answer paid for once, and none lost
    prompts = [r.last_user_text for r in api.requests if r.path == "/v1/messages"]
    assert tasks["first"]["output"] in prompts[1] and tasks["second"]["output"] in prompts[2]
    assert "internal error" not in result.err and "Traceback" not in result.err
    assert "not stored in the response cache" in result.err
    assert "warning" in result.err


def test_a_full_disk_before_the_run_is_exit_2(
    api: MessagesServer, capsys, tmp_path: Path, small_disk: Path, monkeypatch
) -> None:
    monkeypatch.setenv("AGENTFLOW_HOME", str(small_disk / "state"))
    fill(small_disk)
    result = run_cli(capsys, "run", str(write_workflow(tmp_path, CHAIN)), "--json")
    assert result.code == 2 and result.out == "" and api.count("/v1/messages") == 0
    assert "error: cannot use the" in result.err and "internal error" not in result.err


def test_a_read_only_state_folder_is_exit_2(
    api: MessagesServer, capsys, tmp_path: Path, small_disk: Path, monkeypatch
) -> None:
    monkeypatch.setenv("AGENTFLOW_HOME", str(small_disk / "state"))
    remount = ["mount", "-o", "remount,ro", str(small_disk)]
    if subprocess.run(remount, capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot remount the tmpfs read-only here")
    result = run_cli(capsys, "run", str(write_workflow(tmp_path, CHAIN)), "--json")
    assert result.code == 2 and result.out == "" and api.count("/v1/messages") == 0
    assert "cannot use the state folder: Read-only file system" in result.err

"""What the file tools withhold (likely secrets, .gitignored files, agentflow's own state,
virtualenvs), how an author lets a path through, special files, and the open-then-verify
boundary under a racing process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agentflow.events import EventLog
from agentflow.tools.base import ToolCall, ToolContext, ToolResult
from agentflow.tools.files import Workspace, file_tools

KEY = "sk-ant-very-secret-key-123"


def call(workspace: Workspace, name: str, **inputs: Any) -> ToolResult:
    tool = file_tools(workspace)[name]
    return asyncio.run(tool.run(ToolCall("id1", name, inputs), ToolContext("t", None, EventLog())))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    files = {
        "src/app.py": "print('app')  # needle\n",
        "README.md": "# app needle\n",
        ".env": f"ANTHROPIC_API_KEY={KEY}  # needle\n",
        ".env.local": "needle\n",
        ".env.example": "ANTHROPIC_API_KEY=  # needle\n",
        "deploy/id_rsa": "needle\n",
        "deploy/id_ed25519.pub": "needle\n",
        "certs/server.pem": "needle\n",
        "config/signing.key": "needle\n",
        ".netrc": "needle\n",
        "home/.aws/credentials": "needle\n",
        "home/.ssh/config": "needle\n",
        ".docker/config.json": "needle\n",
        "credentials.json": "needle\n",
        ".git/config": "needle\n",
        ".agentflow/runs/r1/messages.jsonl": "needle\n",
        "web/node_modules/lib/index.js": "needle\n",
        "env/pyvenv.cfg": "home = /usr\n",
        "env/lib/site.py": "needle\n",
        ".gitignore": "*.log\nbuild/\n",
        "app.log": "needle\n",
        "build/out.txt": "needle\n",
        "sub/.gitignore": "!keep.log\nlocal.txt\n",
        "sub/keep.log": "kept needle\n",
        "sub/other.log": "needle\n",
        "sub/local.txt": "needle\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "innocent.txt").symlink_to(root / ".env")  # a link's target counts too
    os.mkfifo(root / "src" / "pipe.py")  # never a file to read: no hang
    return root


VISIBLE = {".gitignore", "README.md", "src/app.py", "sub/.gitignore", "sub/keep.log"}


def test_glob_and_grep_skip_what_is_withheld_silently(project):
    workspace = Workspace(project)
    listed = call(workspace, "Glob", pattern="**/*")
    assert not listed.is_error
    assert set(listed.content.splitlines()) == VISIBLE
    found = call(workspace, "Grep", pattern="needle")
    assert not found.is_error
    assert {line.split(":")[0] for line in found.content.splitlines()} == {
        "README.md",
        "src/app.py",
        "sub/keep.log",
    }
    assert KEY not in listed.content + found.content


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (".env", "it matches '.env'"),
        (".env.local", "it matches '.env.*'"),
        (".env.example", "it matches '.env.*'"),
        ("deploy/id_ed25519.pub", "it matches 'id_ed25519*'"),
        ("deploy/id_rsa", "it matches 'id_rsa*'"),
        ("certs/server.pem", "it matches '*.pem'"),
        ("config/signing.key", "it matches '*.key'"),
        (".netrc", "it matches '.netrc'"),
        ("home/.aws/credentials", "it matches '.aws/'"),
        ("home/.ssh/config", "it matches '.ssh/'"),
        (".docker/config.json", "it matches '.docker/config.json'"),
        ("credentials.json", "it matches 'credentials.*'"),
        (".git/config", "it matches '.git/'"),
        (".agentflow/runs/r1/messages.jsonl", "it matches '.agentflow/'"),
        ("web/node_modules/lib/index.js", "it matches 'node_modules/'"),
        ("env/lib/site.py", "it is a virtualenv (has pyvenv.cfg)"),
        ("app.log", ".gitignore ignores it"),
        ("build/out.txt", ".gitignore ignores it"),
        ("sub/other.log", ".gitignore ignores it"),
        ("sub/local.txt", "sub/.gitignore ignores it"),
        ("innocent.txt", "it matches '.env'"),
    ],
)
def test_read_of_a_withheld_file_says_so_and_how_to_allow_it(project, path, reason):
    result = call(Workspace(project), "Read", file_path=path)
    assert result.is_error
    assert f"{path} is withheld from agents: {reason}" in result.content
    assert "workspace: {path: ..., allow: [" in result.content
    assert "needle" not in result.content and KEY not in result.content


def test_what_is_not_withheld_reads_as_usual(project):
    workspace = Workspace(project)
    for path in ("sub/keep.log", "README.md", "src/app.py"):
        result = call(workspace, "Read", file_path=path)
        assert not result.is_error and "needle" in result.content, path


def test_allow_patterns_let_chosen_paths_through(project):
    allow = [".env", ".env.example", "config/*.key", "build/", "home/.ssh/config"]
    workspace = Workspace(project, allow=allow)
    listed = set(call(workspace, "Glob", pattern="**/*").content.splitlines())
    # a path inside a withheld folder is found when a pattern names it from the top
    assert {".env", ".env.example", "config/signing.key", "build/out.txt", "home/.ssh/config"} <= (
        listed
    )
    assert not {"certs/server.pem", ".env.local", "home/.aws/credentials"} & listed
    assert "home/.ssh/config:1:needle" in call(workspace, "Grep", pattern="needle").content
    assert "needle" in call(workspace, "Read", file_path="config/signing.key").content
    assert KEY in call(workspace, "Read", file_path=".env").content  # (redacted by the loop)
    assert call(workspace, "Read", file_path=".env.local").is_error


def test_glob_over_a_big_virtualenv_returns_the_project_files(tmp_path):
    root = tmp_path / "project"
    venv = root / ".venv"
    (venv / "lib").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("home = /usr\n")
    for n in range(800):
        (venv / "lib" / f"mod{n}.py").write_text("x = 1\n")
    (root / "app.py").write_text("print(1)\n")
    (root / "pkg").mkdir()
    (root / "pkg" / "core.py").write_text("print(2)\n")
    result = call(Workspace(root), "Glob", pattern="**/*.py")
    assert sorted(result.content.splitlines()) == ["app.py", "pkg/core.py"]


def test_special_files_in_the_workspace_are_refused_not_read(project):
    (project / "zero.txt").symlink_to("/dev/zero")  # leads out of the workspace anyway
    workspace = Workspace(project)
    fifo = call(workspace, "Read", file_path="src/pipe.py")
    assert fifo.is_error and "not a regular file" in fifo.content
    searched = call(workspace, "Grep", pattern="x", path="src/pipe.py")
    assert searched.is_error
    assert searched.content == "not a regular file: src/pipe.py (a FIFO, device or socket)"
    zero = call(workspace, "Read", file_path="zero.txt")
    assert zero.is_error and "escapes the workspace" in zero.content
    loop = project / "loop.txt"
    loop.symlink_to(loop)
    looped = call(workspace, "Read", file_path="loop.txt")
    assert looped.is_error and "loop.txt" in looped.content


@pytest.mark.timeout(20, method="thread")  # reading 50 GB would take minutes: fail, not hang
def test_read_of_a_50_gb_sparse_file_shows_its_first_lines_at_once(tmp_path):
    big = tmp_path / "huge.log"
    with big.open("wb") as handle:
        handle.write("".join(f"event {n}\n" for n in range(1, 2001)).encode())
        handle.truncate(50 * 1024**3)  # a hole: no disk used
    result = call(Workspace(tmp_path), "Read", file_path="huge.log", limit=5)
    assert not result.is_error, result.content
    assert result.content.splitlines() == [
        *(f"{n:>6}\tevent {n}" for n in range(1, 6)),
        "[cut: showing lines 1-5; the file goes on; use offset/limit]",
    ]
    middle = call(Workspace(tmp_path), "Read", file_path="huge.log", offset=1999, limit=2)
    assert middle.content.splitlines()[:2] == ["  1999\tevent 1999", "  2000\tevent 2000"]


# open, then verify ---------------------------------------------------------------------------

SWAPPER = """
import os, sys, time
root, outside, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
d, parked = os.path.join(root, "d"), os.path.join(root, "parked")
end = time.monotonic() + seconds
while time.monotonic() < end:
    os.rename(d, parked)
    os.symlink(outside, d)
    os.unlink(d)
    os.rename(parked, d)
"""


@pytest.mark.slow
def test_a_folder_swapped_for_a_symlink_while_reading_never_leads_out(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f.txt").write_text("SECRET FROM OUTSIDE\n")
    root = tmp_path / "ws"
    (root / "d").mkdir(parents=True)
    (root / "d" / "f.txt").write_text("inside\n")
    tools = file_tools(Workspace(root))
    context = ToolContext("t", None, EventLog())

    async def reads(n: int) -> list[ToolResult]:
        results = []
        for i in range(n):
            name, inputs = "Read", {"file_path": "d/f.txt"}
            if i % 10 == 0:
                name, inputs = "Grep", {"pattern": "."}
            elif i % 10 == 5:
                name, inputs = "Glob", {"pattern": "**/*"}
            results.append(await tools[name].run(ToolCall(str(i), name, inputs), context))
        return results

    swapper = subprocess.Popen(
        [sys.executable, "-c", SWAPPER, str(root), str(outside), "30"],
    )
    try:
        time.sleep(0.2)  # let it start swapping
        results = asyncio.run(reads(3000))
    finally:
        swapper.kill()
        swapper.wait()
    escaped = [r.content for r in results if "SECRET" in r.content]
    assert escaped == []
    # a file gone between listing and looking is left out, not a failed call
    assert [r.content for r in results if "failed:" in r.content] == []
    assert sum("inside" in r.content for r in results) > 100  # the race really ran


def test_the_gitignore_of_the_repository_above_the_workspace_applies(tmp_path):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".gitignore").write_text("*.secret\nout/\n")
    (repo / "tools" / "sub").mkdir(parents=True)
    (repo / "tools" / "a.py").write_text("needle\n")
    (repo / "tools" / "sub" / "b.secret").write_text("needle\n")
    (repo / "out" / "gen").mkdir(parents=True)
    (repo / "out" / "gen" / "c.py").write_text("needle\n")
    listed = call(Workspace(repo / "tools"), "Glob", pattern="**/*")
    assert listed.content.splitlines() == ["a.py"]
    refused = call(Workspace(repo / "tools"), "Read", file_path="sub/b.secret")
    assert refused.is_error and "is withheld from agents: " in refused.content
    assert f"{repo / '.gitignore'} ignores it" in refused.content
    # a workspace the repository ignores as a whole was chosen on purpose: its files show
    chosen = call(Workspace(repo / "out"), "Glob", pattern="**/*")
    assert chosen.content.splitlines() == ["gen/c.py"]

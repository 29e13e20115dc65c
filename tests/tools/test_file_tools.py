"""Read, Glob and Grep over a workspace: output shape, caps, and that nothing leaks out."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from agentflow.events import EventLog
from agentflow.tools.base import ToolCall, ToolContext, ToolResult
from agentflow.tools.files import MAX_LINES, Workspace, file_tools

SECRET = "TOP-SECRET-OUTSIDE"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{SECRET}\n")
    root = tmp_path / "ws"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "README.md").write_text("# Title\nhello world\nHello again\n")
    (root / "src" / "main.py").write_text("import os\n\ndef main():\n    return 'hello'\n")
    (root / "src" / "pkg" / "util.py").write_text("def helper():\n    pass\n")
    (root / "notes.txt").write_text("one\ntwo\nthree\nfour\nfive\n")
    (root / "data.bin").write_bytes(b"\x00\x01hello\x00" * 10)
    (root / "big.txt").write_text("".join(f"line {i}\n" for i in range(1, 12001)))
    (root / "link_out.txt").symlink_to(outside / "secret.txt")
    (root / "dir_out").symlink_to(outside)
    (root / "link_in.txt").symlink_to(root / "notes.txt")
    # fixed mtimes so "newest first" is deterministic
    for age, name in enumerate(["src/pkg/util.py", "src/main.py", "README.md", "notes.txt"]):
        os.utime(root / name, (1_000_000 - age * 100, 1_000_000 - age * 100))
    return root


def call(root: Path, name: str, **inputs: Any) -> ToolResult:
    tool = file_tools(Workspace(root))[name]
    result = asyncio.run(
        tool.run(ToolCall("id1", name, inputs), ToolContext("t", None, EventLog()))
    )
    assert result.tool_use_id == "id1"
    assert SECRET not in result.content  # nothing from outside the workspace, ever
    return result


def test_specs_match_claude_code_names(ws: Path) -> None:
    tools = file_tools(ws)
    assert list(tools) == ["Read", "Glob", "Grep"]
    assert tools["Read"].spec.input_schema["required"] == ["file_path"]
    assert "-i" in tools["Grep"].spec.to_api()["input_schema"]["properties"]


def test_read_numbers_lines_like_cat_n(ws: Path) -> None:
    result = call(ws, "Read", file_path="README.md")
    assert not result.is_error
    assert result.content == "     1\t# Title\n     2\thello world\n     3\tHello again"


def test_read_offset_and_limit(ws: Path) -> None:
    result = call(ws, "Read", file_path="notes.txt", offset=2, limit=2)
    assert result.content.splitlines()[:2] == ["     2\ttwo", "     3\tthree"]
    assert "[cut: showing lines 2-3 of 5; use offset/limit]" in result.content
    past = call(ws, "Read", file_path="notes.txt", offset=9)
    assert past.is_error and "past the end" in past.content


def test_read_cuts_large_files_with_a_note(ws: Path) -> None:
    result = call(ws, "Read", file_path="big.txt")
    lines = result.content.splitlines()
    assert len(lines) == MAX_LINES + 1
    assert lines[-1] == "[cut: showing lines 1-2000 of 12000; use offset/limit]"
    tail = call(ws, "Read", file_path="big.txt", offset=11999)
    assert tail.content == " 11999\tline 11999\n 12000\tline 12000"


def test_read_caps_bytes_and_long_lines(ws: Path) -> None:
    (ws / "wide.txt").write_text(("x" * 5000 + "\n") * 300)
    result = call(ws, "Read", file_path="wide.txt")
    assert len(result.content.encode()) <= 256 * 1024 + 200
    assert "[line cut]" in result.content
    assert "of 300; use offset/limit]" in result.content


def test_read_refuses_binary_missing_and_directories(ws: Path) -> None:
    assert "binary file" in call(ws, "Read", file_path="data.bin").content
    missing = call(ws, "Read", file_path="nope.txt")
    assert missing.is_error and "file not found: nope.txt" in missing.content
    folder = call(ws, "Read", file_path="src")
    assert folder.is_error and "Glob" in folder.content


@pytest.mark.parametrize(
    "path",
    ["../outside/secret.txt", "src/../../outside/secret.txt", "link_out.txt", "dir_out/secret.txt"],
)
def test_read_refuses_escapes(ws: Path, path: str) -> None:
    result = call(ws, "Read", file_path=path)
    assert result.is_error and "path escapes the workspace" in result.content


def test_read_absolute_paths(ws: Path) -> None:
    outside = call(ws, "Read", file_path=str(ws.parent / "outside" / "secret.txt"))
    assert outside.is_error and "escapes" in outside.content
    inside = call(ws, "Read", file_path=str(ws / "notes.txt"))
    assert not inside.is_error and "     1\tone" in inside.content
    assert call(ws, "Read", file_path="link_in.txt").content.startswith("     1\tone")
    assert call(ws, "Read", file_path="a\x00b").is_error


def test_read_validates_inputs(ws: Path) -> None:
    assert "missing required field `file_path`" in call(ws, "Read").content
    assert "`file_path` must be a string" in call(ws, "Read", file_path=3).content
    assert (
        "`offset` must be an integer" in call(ws, "Read", file_path="notes.txt", offset="2").content
    )
    assert call(ws, "Read", file_path="notes.txt", limit=True).is_error
    assert call(ws, "Read", file_path="notes.txt", offset=-1).is_error
    assert call(ws, "Read", file_path="notes.txt", limit=0).is_error
    assert call(ws, "Read", file_path="notes.txt", offset=0).content.startswith("     1\tone")


def test_glob_recursive_newest_first(ws: Path) -> None:
    result = call(ws, "Glob", pattern="**/*.py")
    assert not result.is_error
    assert result.content.splitlines() == ["src/pkg/util.py", "src/main.py"]
    assert call(ws, "Glob", pattern="*.py").content == "no files match *.py"
    assert call(ws, "Glob", pattern="*.py", path="src").content == "src/main.py"
    assert call(ws, "Glob", pattern="src/*/*.py").content == "src/pkg/util.py"
    # big.txt is new; link_in.txt has its target's time, so ties with notes.txt (by name)
    assert call(ws, "Glob", pattern="*.{md,txt}").content.splitlines() == [
        "big.txt",
        "README.md",
        "link_in.txt",
        "notes.txt",
    ]
    assert call(ws, "Glob", pattern=str(ws / "src" / "**" / "main.py")).content == "src/main.py"


def test_glob_never_lists_outside(ws: Path) -> None:
    everything = call(ws, "Glob", pattern="**").content.splitlines()
    assert "link_in.txt" in everything
    assert not any("secret" in line or "link_out" in line for line in everything)
    assert call(ws, "Glob", pattern="dir_out/*").is_error
    assert call(ws, "Glob", pattern="*", path="..").is_error
    assert call(ws, "Glob", pattern="../outside/*").is_error
    assert call(ws, "Glob", pattern="*/../../outside/*").is_error


def test_glob_cuts_at_500(ws: Path) -> None:
    many = ws / "many"
    many.mkdir()
    for i in range(510):
        (many / f"f{i:03}.txt").write_text("")
    lines = call(ws, "Glob", pattern="many/*.txt").content.splitlines()
    assert len(lines) == 501
    assert lines[-1].startswith("[cut: showing 500 of 510 files")


def test_grep_regex_and_case(ws: Path) -> None:
    result = call(ws, "Grep", pattern=r"hel+o")
    assert not result.is_error
    assert result.content.splitlines() == [
        "README.md:2:hello world",
        "src/main.py:4:    return 'hello'",
    ]
    insensitive = call(ws, "Grep", pattern="^hello", **{"-i": True}).content.splitlines()
    assert insensitive == ["README.md:2:hello world", "README.md:3:Hello again"]
    assert call(ws, "Grep", pattern="zzz").content == "no matches for zzz"


def test_grep_glob_and_path(ws: Path) -> None:
    assert call(ws, "Grep", pattern="def", glob="*.py").content.splitlines() == [
        "src/main.py:3:def main():",
        "src/pkg/util.py:1:def helper():",
    ]
    assert (
        call(ws, "Grep", pattern="def", path="src/pkg").content == "src/pkg/util.py:1:def helper():"
    )
    assert call(ws, "Grep", pattern="hello", path="README.md").content == "README.md:2:hello world"
    assert call(ws, "Grep", pattern="def", glob="pkg/*.py", path="src").content.startswith(
        "src/pkg"
    )


def test_grep_refusals(ws: Path) -> None:
    bad = call(ws, "Grep", pattern="(unclosed")
    assert bad.is_error and "invalid regex" in bad.content
    assert call(ws, "Grep", pattern="x", **{"-i": "yes"}).is_error
    assert "escapes" in call(ws, "Grep", pattern=SECRET, path="../outside").content
    assert "escapes" in call(ws, "Grep", pattern="SECRET", path="link_out.txt").content
    assert call(ws, "Grep", pattern="hello", path="data.bin").is_error
    # a folder search skips binary files and links out without complaint
    assert "data.bin" not in call(ws, "Grep", pattern="hello").content
    assert call(ws, "Grep", pattern="SECRET").content == "no matches for SECRET"


def test_grep_skips_huge_files_and_cuts_at_200(ws: Path) -> None:
    (ws / "huge.log").write_text("needle\n" * 400_000)  # > 2 MB
    assert call(ws, "Grep", pattern="needle").content == "no matches for needle"
    lines = call(ws, "Grep", pattern="line").content.splitlines()
    assert len(lines) == 201 and lines[-1].startswith("[cut: showing the first 200 matches")

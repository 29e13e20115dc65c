"""Patterns that backtrack without end (issue 11, item 1): a model's Grep or Glob and an
author's checks.regex end within their time limits with a message, instead of freezing the
run. Each runs in a child interpreter with a deadline: before, Python's `re` held the
interpreter until the heat death of the universe, so an in-process test would hang too."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVIL = "(a|aa)+$"  # 2^n ways to split n a's: Python's re tries them all on a failing line
LINE = "a" * 40 + "b"
DEADLINE = 30.0  # the child's own limit: far above what a bounded search takes


def in_child(code: str) -> object:
    """Run `code` (which prints one JSON value) in a fresh interpreter, with a deadline."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_a_grep_pattern_that_backtracks_is_an_error_result(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text(f"{LINE}\n" * 3)
    is_error, content = in_child(
        f"""
        import asyncio, json
        from pathlib import Path
        from agentflow.events import EventLog
        from agentflow.tools.base import ToolCall, ToolContext
        from agentflow.tools.files import file_tools

        grep = file_tools(Path({str(tmp_path)!r}))["Grep"]
        call = ToolCall("1", "Grep", {{"pattern": {EVIL!r}}})
        result = asyncio.run(grep.run(call, ToolContext("t", None, EventLog())))
        print(json.dumps([result.is_error, result.content]))
        """
    )
    assert is_error and EVIL in content and "took longer than" in content


def test_a_glob_of_thirty_stars_answers(tmp_path: Path) -> None:
    (tmp_path / ("a" * 60)).write_text("x")
    is_error, content = in_child(
        f"""
        import asyncio, json
        from pathlib import Path
        from agentflow.events import EventLog
        from agentflow.tools.base import ToolCall, ToolContext
        from agentflow.tools.files import file_tools

        glob = file_tools(Path({str(tmp_path)!r}))["Glob"]
        call = ToolCall("1", "Glob", {{"pattern": "*" * 30 + "b"}})
        result = asyncio.run(glob.run(call, ToolContext("t", None, EventLog())))
        print(json.dumps([result.is_error, result.content]))
        """
    )
    assert content.startswith("no files match") or "took longer than" in content


def test_a_check_regex_that_backtracks_fails_the_check_in_time() -> None:
    problem = in_child(
        f"""
        import json
        from agentflow.routing.checks import answer_problem
        from agentflow.spec.workflow import Checks

        print(json.dumps(answer_problem({LINE!r}, "end_turn", Checks(regex={EVIL!r}))))
        """
    )
    assert isinstance(problem, str)
    assert problem.startswith("check failed:") and "took longer than 1 s" in problem


@pytest.mark.parametrize("pattern", ["(a", "a{2,1}", "[z-a]"])
def test_invalid_patterns_are_refused_with_the_reason(pattern: str) -> None:
    from agentflow.routing.checks import regex_problem

    problem = regex_problem(pattern)
    assert problem is not None and problem.startswith(f"invalid regex {pattern!r}")

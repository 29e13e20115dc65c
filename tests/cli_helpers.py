"""Run the real CLI entry point in-process and capture what a user would see."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agentflow.cli.app import main


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    argv = sys.argv
    sys.argv = ["agentflow", *args]
    try:
        main()
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


def write_workflow(folder: Path, body: str, name: str = "wf.yaml", workflow: str = "test") -> Path:
    """A workflow file: the required header, then `body` (YAML)."""
    path = folder / name
    path.write_text(f"version: 1\nname: {workflow}\n" + body)
    return path


def run_json(capsys: pytest.CaptureFixture[str], path: Path, *args: str) -> tuple[int, Any]:
    """`agentflow run PATH --json ARGS`: its exit code and the one JSON object on stdout."""
    result = run_cli(capsys, "run", str(path), "--json", *args)
    lines = result.out.strip().splitlines()
    assert len(lines) == 1, f"stdout must be exactly one JSON line: {result.out!r} {result.err}"
    return result.code, json.loads(lines[0])

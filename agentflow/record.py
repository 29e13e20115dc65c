"""The record stage: what a run leaves on disk, written as it happens so nothing is lost.

`.agentflow/runs/RUN_ID/ID.md` for each finished task's output (plus `ID.json` for a
structured output) and `summary.json` for the run. The state folder is `.agentflow` in
the current directory, or $AGENTFLOW_HOME.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

from agentflow.engine.results import RunResult, TaskResult
from agentflow.engine.summary import run_summary

HOME_ENV = "AGENTFLOW_HOME"


def state_dir() -> Path:
    return Path(os.environ.get(HOME_ENV) or ".agentflow")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


class RunFolder:
    def __init__(self, root: Path, run_id: str) -> None:
        self.path = root / "runs" / run_id
        self.path.mkdir(parents=True, exist_ok=True)

    def run_started(self, run: RunResult) -> None:
        pass  # the folder already exists; outputs arrive task by task

    def task_finished(self, task: TaskResult) -> None:
        if task.output is None:
            return
        _write_atomic(self.path / f"{task.id}.md", task.output)
        if task.document is not None:
            _write_atomic(
                self.path / f"{task.id}.json",
                json.dumps(task.document, indent=2, ensure_ascii=False),
            )

    def run_finished(self, run: RunResult) -> None:
        summary = run_summary(run)
        _write_atomic(self.path / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False))

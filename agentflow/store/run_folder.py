"""The record stage: what a run leaves on disk, written as it happens so nothing is lost.

`.agentflow/runs/RUN_ID/ID.md` for each finished task's output (plus `ID.json` for a
structured output), `summary.json` for the run, and `messages.jsonl` (one line per message
between agents and tools, only for runs that had any). The state folder is `.agentflow` in
the current directory, or $AGENTFLOW_HOME.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from agentflow.engine.results import RunResult, TaskResult
from agentflow.engine.summary import run_summary
from agentflow.events import Event

HOME_ENV = "AGENTFLOW_HOME"
MESSAGES_FILE = "messages.jsonl"


def state_dir() -> Path:
    return Path(os.environ.get(HOME_ENV) or ".agentflow")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def message_json(event: Event) -> dict[str, Any]:
    """One message as `messages.jsonl` and `runs show --messages --json` give it."""
    return {
        "seq": event.seq,
        "at": event.at,
        "task": event.task,
        "from": event.sender,
        "to": event.recipient,
        "type": event.kind,
        "payload": dict(event.payload),
    }


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

    def message(self, event: Event) -> None:
        # Appended as it happens, so a run stopped half-way keeps what was said; the file
        # appears with the first message. default=str: see history_messages.message_row.
        line = json.dumps(message_json(event), ensure_ascii=False, default=str)
        with (self.path / MESSAGES_FILE).open("a", encoding="utf-8") as file:
            file.write(line + "\n")

    def run_finished(self, run: RunResult) -> None:
        summary = run_summary(run)
        _write_atomic(self.path / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False))

"""A run's folder: what a run leaves on disk beside the history, written as it happens.

`runs/RUN_ID/ID.md` in the state folder (agentflow.store.paths) for each finished task's
output (plus `ID.json` for a structured output), `summary.json` for the run, and
`messages.jsonl` (one line per message between agents and tools, only for runs that had
any).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentflow.engine.results import RunResult, TaskResult
from agentflow.engine.summary import run_summary
from agentflow.events import Event

MESSAGES_FILE = "messages.jsonl"


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_suffix(path.suffix + ".tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)
    except OSError:
        temporary.unlink(missing_ok=True)  # a full disk leaves no half-written file behind
        raise


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
        # appears with the first message. default=str: see store.messages.message_row.
        line = json.dumps(message_json(event), ensure_ascii=False, default=str)
        with (self.path / MESSAGES_FILE).open("a", encoding="utf-8") as file:
            file.write(line + "\n")

    def run_finished(self, run: RunResult) -> None:
        summary = run_summary(run)
        _write_atomic(self.path / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False))

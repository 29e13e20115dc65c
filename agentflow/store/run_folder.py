"""A run's folder: what a run leaves on disk beside the history, written as it happens.

`runs/RUN_ID/ID.md` in the state folder (agentflow.store.paths) for each finished task's
output (plus `ID.json` for a structured output), `summary.json` for the run, and
`messages.jsonl` (one line per message between agents and tools, only for runs that had
any).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from agentflow.engine.recorder import Recorder
from agentflow.engine.results import RunResult, TaskResult
from agentflow.engine.summary import run_summary, task_summary
from agentflow.events import Event

MESSAGES_FILE = "messages.jsonl"


def _write_atomic(path: Path, text: str | Callable[[TextIO], None]) -> None:
    """Write the file whole or not at all; `text` may be a function writing to the file
    (then through a temporary file, renamed when complete)."""
    if isinstance(text, str):
        # An output: written in place (a rename per task costs a third more than the
        # write); a failed write is removed, so a full disk leaves no half-written file.
        try:
            _write_bytes(str(path), text.encode("utf-8"))
        except OSError:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            raise
        return
    temporary = f"{path}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as file:
            text(file)
        os.replace(temporary, path)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)  # a full disk leaves no half-written file behind
        raise


def _write_bytes(path: str, data: bytes) -> None:
    """The file's bytes, with the fewest calls (one per task: this is the hot path)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


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


def _write_summary(run: RunResult, file: TextIO) -> None:
    """`summary.json`, streamed: one task a line, never one string of every output at once
    (and json's C encoder, which an indented dump would not use)."""
    summary = run_summary(run, with_tasks=False)
    keys = list(summary)
    at = keys.index("tasks")  # kept in its place: the same order as `--json`
    before = {key: summary[key] for key in keys[:at]}
    after = {key: summary[key] for key in keys[at + 1 :]}
    file.write(json.dumps(before, ensure_ascii=False)[:-1] + ', "tasks": {')
    for n, (tid, task) in enumerate(run.tasks.items()):
        entry = json.dumps({tid: task_summary(task)}, ensure_ascii=False)
        file.write(("\n  " if not n else ",\n  ") + entry[1:-1])
    file.write("\n}, " + json.dumps(after, ensure_ascii=False)[1:] + "\n")


class RunFolder(Recorder):
    """Writes a run's folder as the run goes. Inside `batch()`, the messages heard are
    appended to `messages.jsonl` together when it ends (one open, one write)."""

    def __init__(self, root: Path, run_id: str) -> None:
        self.path = root / "runs" / run_id
        self.path.mkdir(parents=True, exist_ok=True)
        self._lines: list[str] = []
        self._held = 0

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
        # appears with the first message. default=str: see store.messages._row.
        self._lines.append(json.dumps(message_json(event), ensure_ascii=False, default=str))
        if not self._held:
            self._append_messages()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if not self._held:
                self._append_messages()

    def _append_messages(self) -> None:
        lines, self._lines = self._lines, []
        if lines:
            with (self.path / MESSAGES_FILE).open("a", encoding="utf-8") as file:
                file.write("\n".join(lines) + "\n")

    def run_finished(self, run: RunResult) -> None:
        _write_atomic(self.path / "summary.json", lambda file: _write_summary(run, file))

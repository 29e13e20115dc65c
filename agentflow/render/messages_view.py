"""A run's messages for people (`runs show --messages`) and programs (their JSON).

People get, per task, its conversation with the model (turns, tool calls and their
results, including those of ask_agent sub-calls), then one table of the traffic between
agents: questions and answers, notifications and shared-state changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from agentflow.engine.results import RunResult
from agentflow.events import Event
from agentflow.render.console import table_box
from agentflow.render.text import printable
from agentflow.store.run_folder import message_json

TEXT_WIDTH = 400  # a turn's text or a tool's input, in the conversation
SUMMARY_WIDTH = 120  # a cell of the traffic table
CONVERSATION_KINDS = frozenset({"message", "tool_call", "tool_result"})
QUIET_STOPS = frozenset({"end_turn", "tool_use"})  # the usual ends of a turn: not shown


def messages_to_json(events: Sequence[Event]) -> list[dict[str, Any]]:
    return [message_json(event) for event in events]


def _cut(text: str, width: int) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _first_line(text: str, width: int) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    first = _cut(lines[0], width)
    return first if len(lines) == 1 or first.endswith("…") else first + "…"


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _offset(event: Event, start: float) -> str:
    return f"+{event.at - start:.1f}s" if event.at >= start else f"{event.at - start:.1f}s"


def _sub_agent(event: Event) -> str | None:
    """The "agent:NAME" of an ask_agent sub-call the event belongs to, if any."""
    agent = event.payload.get("agent")
    if event.kind == "message" and agent:
        return f"agent:{agent}"
    for party in (event.sender, event.recipient):
        if party.startswith("agent:"):
            return party
    return None


def _conversation_line(event: Event) -> str:
    p: Mapping[str, Any] = event.payload
    if event.kind == "message":
        text = _cut(str(p.get("text") or ""), TEXT_WIDTH) or "(no text)"  # tool calls only
        line = f"turn {p.get('turn', '?')} {p.get('role', '?')}: {text}"
        stop = p.get("stop_reason")
        return line if not stop or stop in QUIET_STOPS else f"{line} (stopped: {stop})"
    name = str(p.get("name") or (event.recipient if event.kind == "tool_call" else event.sender))
    if event.kind == "tool_call":
        return f"→ {name} {_cut(_compact(p.get('input', {})), TEXT_WIDTH)}"
    error = " (error)" if p.get("is_error") else ""
    return f"← {name}{error}: {_first_line(str(p.get('content', '')), TEXT_WIDTH)}"


def _conversation(task_id: str, events: list[Event], start: float) -> list[Text]:
    lines = [Text(printable(f"Conversation of {task_id}"), style="bold")]
    for event in events:
        offset = _offset(event, start)
        agent = _sub_agent(event)
        prefix = f"  {offset:>8}  " + (f"{agent} › " if agent else "")
        system = event.payload.get("system") if event.kind == "message" else None
        if system:  # the system prompt the request carried
            lines.append(Text(f"{prefix}system: {_cut(str(system), TEXT_WIDTH)}", style="dim"))
        notes = event.payload.get("notes") if event.kind == "message" else None
        for note in notes or ():  # delivered to the model before this turn
            note_line = f"{prefix}note: {_cut(str(note), TEXT_WIDTH)}"
            lines.append(Text(printable(note_line), style="dim"))
        error = event.kind == "tool_result" and event.payload.get("is_error")
        line = printable(prefix + _conversation_line(event))
        lines.append(Text(line, style="red" if error else ""))
    return lines


def _summary(event: Event) -> str:
    p = event.payload
    if event.kind == "request":
        depth = p.get("depth")
        nested = f" (depth {depth})" if isinstance(depth, int) and depth > 1 else ""
        return _cut(f"{p.get('question', '')}{nested}", SUMMARY_WIDTH)
    if event.kind == "response":
        error = "error: " if p.get("is_error") else ""
        return _cut(f"{error}{p.get('answer', '')}", SUMMARY_WIDTH)
    if event.kind == "notification":
        return _cut(str(p.get("message", "")), SUMMARY_WIDTH)
    if event.kind == "state":
        change = f"{_compact(p.get('old'))} → {_compact(p.get('new'))}"
        return _cut(f"{p.get('key')} v{p.get('version')}: {change}", SUMMARY_WIDTH)
    return _cut(_compact(dict(p)), SUMMARY_WIDTH)


def _traffic(events: list[Event], start: float, console: Console) -> Table:
    table = Table(box=table_box(console), title="Traffic between agents")
    for name in ("time", "from", "to", "type", "summary"):
        table.add_column(name, justify="right" if name == "time" else "left")
    for event in events:
        cells = (_offset(event, start), event.sender, event.recipient, event.kind, _summary(event))
        # Text, not str: a cell is never read as rich markup ("[topic]" stays as it is).
        table.add_row(*(Text(printable(cell)) for cell in cells))
    return table


def render_messages(run: RunResult, events: Sequence[Event], console: Console) -> None:
    """Each task's conversation, then the traffic between agents (times from the run's start)."""
    if not events:
        console.print(f"run {run.run_id} recorded no messages", markup=False, highlight=False)
        return
    by_task: dict[str, list[Event]] = {}
    for event in events:
        if event.kind in CONVERSATION_KINDS:
            by_task.setdefault(event.task, []).append(event)
    # Tasks in the run's order, then any the run does not list, in order of appearance.
    order = [tid for tid in run.tasks if tid in by_task]
    order += [tid for tid in by_task if tid not in run.tasks]
    for task_id in order:
        for line in _conversation(task_id, by_task[task_id], run.started_at):
            console.print(line, highlight=False)
        console.print()
    traffic = [event for event in events if event.kind not in CONVERSATION_KINDS]
    if traffic:
        console.print(_traffic(traffic, run.started_at, console))
    else:
        console.print("no traffic between agents", highlight=False)

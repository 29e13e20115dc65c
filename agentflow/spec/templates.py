"""Prompt templates: what a task's prompt may read when the task starts.

- `{{ inputs.NAME }}`: an input of the run;
- `{{ tasks.ID.output }}`, `{{ tasks.ID.json.FIELD }}`: an upstream task's answer;
- `{{ state.KEY }}`: the run's shared state (a string as is, other values as compact
  JSON, an unset key as nothing); KEY may contain dots;
- `{{ messages.TOPIC }}`: every notification on TOPIC so far.

Only expressions in our namespaces are templates. Anything else between braces (a
Jinja or Go template the prompt talks about, say) is left as written, unless its
namespace is a near-miss of ours, which is almost surely a typo and is reported.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

NAMESPACES = ("inputs", "tasks", "state", "messages")
_EXPR = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.DOTALL)
_IDENT = re.compile(r"^[A-Za-z0-9_-]+$")

RefKind = Literal["input", "output", "json", "state", "messages"]


@dataclass(frozen=True)
class TemplateRef:
    kind: RefKind
    name: str  # input name, task id, state key or topic
    field: tuple[str, ...] = ()  # for kind "json": the path inside the output
    start: int = 0  # offset of "{{" in the template
    end: int = 0
    text: str = ""


@dataclass(frozen=True)
class TemplateIssue:
    message: str
    start: int
    hint: str | None = None


def _namespace_typo(namespace: str) -> str | None:
    close = difflib.get_close_matches(namespace, NAMESPACES, n=1, cutoff=0.75)
    return close[0] if close else None


def _parse_expr(expr: str, start: int, end: int, text: str) -> TemplateRef | TemplateIssue | None:
    parts = expr.split(".")
    head = parts[0]
    if head not in NAMESPACES:
        typo = _namespace_typo(head)
        if typo:
            return TemplateIssue(f"unknown template {text!r}", start, f"did you mean {typo!r}?")
        return None  # not ours: leave literal
    malformed = TemplateIssue(f"malformed template {text!r}", start, _FORMS[head])
    if not all(_IDENT.match(p) for p in parts[1:]) or len(parts) < 2:
        return malformed
    if head in ("state", "messages"):  # a key or topic may itself contain dots
        return TemplateRef(head, ".".join(parts[1:]), (), start, end, text)
    if head == "inputs":
        if len(parts) != 2:
            return malformed
        return TemplateRef("input", parts[1], (), start, end, text)
    if len(parts) == 3 and parts[2] == "output":
        return TemplateRef("output", parts[1], (), start, end, text)
    if len(parts) >= 4 and parts[2] == "json":
        return TemplateRef("json", parts[1], tuple(parts[3:]), start, end, text)
    return malformed


_FORMS = {
    "inputs": "use {{ inputs.NAME }}",
    "tasks": "use {{ tasks.ID.output }} or {{ tasks.ID.json.FIELD }}",
    "state": "use {{ state.KEY }}",
    "messages": "use {{ messages.TOPIC }}",
}


@lru_cache(maxsize=262_144)  # more than a workflow's most tasks (MAX_TASKS), twice over
def parse_template(template: str) -> tuple[tuple[TemplateRef, ...], tuple[TemplateIssue, ...]]:
    """References and issues in `template` (cached: validate, plan and run all ask, and a
    cache smaller than the workflow would miss on every task)."""
    refs: list[TemplateRef] = []
    issues: list[TemplateIssue] = []
    for match in _EXPR.finditer(template):
        parsed = _parse_expr(match.group(1), match.start(), match.end(), match.group(0))
        if isinstance(parsed, TemplateRef):
            refs.append(parsed)
        elif isinstance(parsed, TemplateIssue):
            issues.append(parsed)
    return tuple(refs), tuple(issues)


def _field_value(document: Any, path: tuple[str, ...]) -> Any:
    value = document
    for key in path:
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            raise KeyError(".".join(path))
    return value


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _state_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class RenderContext:
    inputs: Mapping[str, str]
    outputs: Mapping[str, str]  # task id -> output text
    documents: Mapping[str, Any]  # task id -> parsed JSON output (structured tasks)
    state: Mapping[str, Any] = field(default_factory=dict)  # the shared state when rendered
    messages: Mapping[str, str] = field(default_factory=dict)  # topic -> its rendered text


def render_template(template: str, context: RenderContext) -> str:
    """Fill every reference. Validation has already proven the references exist;
    a JSON field missing from an actual output, an unset state key and a topic with no
    notifications render as an empty string."""
    refs, _ = parse_template(template)
    if not refs:
        return template
    pieces: list[str] = []
    cursor = 0
    for ref in refs:
        pieces.append(template[cursor : ref.start])
        pieces.append(_render_ref(ref, context))
        cursor = ref.end
    pieces.append(template[cursor:])
    return "".join(pieces)


def filled_length(template: str, inputs: Mapping[str, str]) -> int:
    """The length of `template` with its inputs filled and every other reference left
    empty, worked out without making that text (which can be far larger than the file)."""
    refs, _ = parse_template(template)
    size = len(template)
    for ref in refs:
        size += len(inputs.get(ref.name, "")) if ref.kind == "input" else 0
        size -= ref.end - ref.start
    return size


def _render_ref(ref: TemplateRef, context: RenderContext) -> str:
    if ref.kind == "input":
        return context.inputs.get(ref.name, "")
    if ref.kind == "output":
        return context.outputs.get(ref.name, "")
    if ref.kind == "state":
        return _state_text(context.state[ref.name]) if ref.name in context.state else ""
    if ref.kind == "messages":
        return context.messages.get(ref.name, "")
    try:
        return _as_text(_field_value(context.documents.get(ref.name), ref.field))
    except KeyError:
        return ""

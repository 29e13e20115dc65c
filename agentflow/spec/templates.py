"""Prompt templates: `{{ inputs.NAME }}`, `{{ tasks.ID.output }}`, `{{ tasks.ID.json.FIELD }}`.

Only expressions in our namespaces are templates. Anything else between braces (a
Jinja or Go template the prompt talks about, say) is left as written, unless its
namespace is a near-miss of ours, which is almost surely a typo and is reported.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

NAMESPACES = ("inputs", "tasks")
_EXPR = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.DOTALL)
_IDENT = re.compile(r"^[A-Za-z0-9_-]+$")

RefKind = Literal["input", "output", "json"]


@dataclass(frozen=True)
class TemplateRef:
    kind: RefKind
    name: str  # input name or task id
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
    if not all(_IDENT.match(p) for p in parts[1:]) or len(parts) < 2:
        return TemplateIssue(f"malformed template {text!r}", start, _FORMS)
    if head == "inputs":
        if len(parts) != 2:
            return TemplateIssue(f"malformed template {text!r}", start, "use {{ inputs.NAME }}")
        return TemplateRef("input", parts[1], (), start, end, text)
    if len(parts) == 3 and parts[2] == "output":
        return TemplateRef("output", parts[1], (), start, end, text)
    if len(parts) >= 4 and parts[2] == "json":
        return TemplateRef("json", parts[1], tuple(parts[3:]), start, end, text)
    return TemplateIssue(f"malformed template {text!r}", start, _FORMS)


_FORMS = "use {{ tasks.ID.output }} or {{ tasks.ID.json.FIELD }}"


@lru_cache(maxsize=32768)
def parse_template(template: str) -> tuple[tuple[TemplateRef, ...], tuple[TemplateIssue, ...]]:
    """References and issues in `template` (cached: validate, plan and run all ask)."""
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


@dataclass(frozen=True)
class RenderContext:
    inputs: Mapping[str, str]
    outputs: Mapping[str, str]  # task id -> output text
    documents: Mapping[str, Any]  # task id -> parsed JSON output (structured tasks)


def render_template(template: str, context: RenderContext) -> str:
    """Fill every reference. Validation has already proven the references exist;
    a JSON field missing from an actual output renders as an empty string."""
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


def _render_ref(ref: TemplateRef, context: RenderContext) -> str:
    if ref.kind == "input":
        return context.inputs.get(ref.name, "")
    if ref.kind == "output":
        return context.outputs.get(ref.name, "")
    try:
        return _as_text(_field_value(context.documents.get(ref.name), ref.field))
    except KeyError:
        return ""

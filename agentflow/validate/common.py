"""What every check of the validate stage shares: a problem placed at a path of the file."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from agentflow.errors import Problem, Severity
from agentflow.spec.workflow import Workflow
from agentflow.spec.yamlpos import YamlPath


def at(
    workflow: Workflow,
    path: YamlPath,
    message: str,
    hint: str | None = None,
    severity: Severity = "error",
) -> Problem:
    """A problem of the workflow file, at the line and column of `path` (or its parent)."""
    line, col = workflow.position(path)
    return Problem(str(workflow.path), message, line, col, hint, severity)


def did_you_mean(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=cutoff)
    return f"did you mean {close[0]!r}?" if close else None

"""What every check of the validate stage shares: a problem placed at a path of the file."""

from __future__ import annotations

import difflib
from collections.abc import Collection

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


# Above this many names, comparing a misspelt one with each of them costs more than a
# workflow's whole validation (100,000 task ids, once per problem): only names one edit
# away (a letter left out, added, changed, or two swapped) are then looked up.
EXHAUSTIVE_CHOICES = 2_000
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_"
_LONGEST_NEAR_MISS = 64  # a longer name is not looked up one edit at a time


def did_you_mean(name: str, choices: Collection[str], cutoff: float = 0.6) -> str | None:
    """A hint naming the choice closest to `name`, if one is close enough. `choices`
    answers `in` quickly (a dict, a set, a dict's keys) when it is large."""
    close = closest(name, choices, cutoff)
    return f"did you mean {close!r}?" if close else None


def closest(name: str, choices: Collection[str], cutoff: float = 0.6) -> str | None:
    """The choice closest to `name` (difflib's measure) if one is close enough."""
    if len(choices) <= EXHAUSTIVE_CHOICES:
        close = difflib.get_close_matches(name, list(choices), n=1, cutoff=cutoff)
    else:
        near = [c for c in _one_edit_away(name) if c in choices]
        close = difflib.get_close_matches(name, near, n=1, cutoff=cutoff)
    return close[0] if close else None


def _one_edit_away(name: str) -> set[str]:
    """Every name one edit from `name` over the characters of names (time: its length)."""
    if len(name) > _LONGEST_NEAR_MISS:
        return set()
    chars = set(_NAME_CHARS + name.lower() + name.upper())
    splits = [(name[:i], name[i:]) for i in range(len(name) + 1)]
    edits = {a + b[1:] for a, b in splits if b}
    edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    edits |= {a + c + b[1:] for a, b in splits if b for c in chars}
    edits |= {a + c + b for a, b in splits for c in chars}
    edits.discard(name)
    return edits

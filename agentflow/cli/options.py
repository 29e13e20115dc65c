"""Options and helpers that several commands share.

Like every module of the command line, this one imports little at the top (typer, errors,
prices): what a command needs is imported when the command runs, so `agentflow --help`
(and every other command) starts quickly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from agentflow.errors import AgentflowError, Problem
from agentflow.prices import PRICES_ENV

DEFAULT_AGENT_DIRS = (Path("agents"), Path(".claude/agents"))

AgentDirsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--dir",
        help="Folder of agent files, read recursively (repeatable). "
        "Default: ./agents, then ./.claude/agents.",
    ),
]
PricesOption = Annotated[
    Path | None,
    typer.Option(
        "--prices",
        help=f"YAML/JSON file adding or overriding model prices (default: ${PRICES_ENV}).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Fill an input: NAME=VALUE (repeatable)."),
]
CacheDirOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Response cache folder (default: $AGENTFLOW_CACHE_DIR, else .agentflow/cache).",
    ),
]
WorkflowNameOption = Annotated[
    str | None, typer.Option("--workflow", help="Only runs of this workflow (its `name`).")
]


def report_problems(problems: Sequence[Problem]) -> None:
    """Each problem on stderr, one per line: errors red, warnings yellow on a terminal."""
    if not problems:
        return
    from agentflow.render.console import make_console

    err = make_console(stderr=True)
    for problem in problems:
        style = "red" if problem.is_error else "yellow"
        err.print(capped(problem).format(), style=style, markup=False, highlight=False)


def capped(problem: Problem) -> Problem:
    """The problem with its message and hint cut to a few KB (a quoted value to 200
    characters): a small file cannot make megabytes of message."""
    from dataclasses import replace

    from agentflow.render.text import cap_message

    hint = cap_message(problem.hint) if problem.hint else problem.hint
    return replace(problem, message=cap_message(problem.message), hint=hint)


def capped_errors(summary: dict[str, Any]) -> dict[str, Any]:
    """A run summary whose task errors are cut to a few KB (an API's message can be any
    size); everything else stays exact."""
    from agentflow.render.text import cap_message

    for task in summary.get("tasks", {}).values():
        if task.get("error"):
            task["error"] = cap_message(task["error"])
    return summary


def print_json(document: object, *, indent: int | None = None) -> None:
    """Exactly one JSON document on stdout."""
    import json

    print(json.dumps(document, indent=indent))


def parse_sets(values: list[str] | None) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise AgentflowError.single(
                "--set",
                f"expected NAME=VALUE, got {item!r}",
                hint="for example --set changelog=CHANGES.md",
            )
        result[name.strip()] = value
    return result


def agent_folders(dirs: list[Path] | None) -> list[Path]:
    """The folders given, else the default ones that exist; none at all is exit 2."""
    folders = list(dirs or [d for d in DEFAULT_AGENT_DIRS if d.is_dir()])
    if not folders:
        raise AgentflowError.single(
            "agents", "no agent folder here (./agents or ./.claude/agents)", hint="pass --dir DIR"
        )
    return folders


MAX_DURATION_SECONDS = 100 * 365 * 86_400
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str, option: str) -> float:
    """Seconds in "30m", "12h", "7d", "2w" (also "90s"); exit 2 naming `option` otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise AgentflowError.single(
            option,
            f"cannot read the duration {text!r}",
            hint="use a number and a unit: 90s, 30m, 12h, 7d or 2w",
        )
    seconds = float(match.group(1)) * UNIT_SECONDS[match.group(2).lower()]
    if seconds > MAX_DURATION_SECONDS:
        raise AgentflowError.single(
            option, f"the duration {text!r} is longer than 100 years", hint="use a shorter one"
        )
    return seconds

"""Options and helpers that several commands share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentflow.errors import AgentflowError

DEFAULT_AGENT_DIRS = (Path("agents"), Path(".claude/agents"))

AgentDirsOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--dir",
        help="Folder of agent files, read recursively (repeatable). "
        "Default: ./agents, then ./.claude/agents.",
    ),
]


def agent_folders(dirs: list[Path] | None) -> list[Path]:
    """The folders given, else the default ones that exist; none at all is exit 2."""
    folders = list(dirs or [d for d in DEFAULT_AGENT_DIRS if d.is_dir()])
    if not folders:
        raise AgentflowError.single(
            "agents", "no agent folder here (./agents or ./.claude/agents)", hint="pass --dir DIR"
        )
    return folders

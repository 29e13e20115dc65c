"""The command line: the only package that knows typer and exit codes (app: the commands
and the entry points; options: what commands share; one module per command group)."""

from __future__ import annotations

from typing import NoReturn


def main() -> NoReturn:
    from agentflow.cli.app import main as run

    run()


def entry_point() -> NoReturn:
    from agentflow.cli.app import entry_point as run

    run()

"""The command line: the only package that knows typer and exit codes (app: the commands
and the entry points; options: what commands share; one module per command group)."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

INTERRUPTED = 130  # agentflow.errors.ExitCode.INTERRUPTED, before anything is loaded


def main() -> NoReturn:
    from agentflow.cli.app import main as run

    run()


def entry_point() -> NoReturn:
    """The `agentflow` program. Ctrl-C while the command line itself loads is exit 130
    too, with no traceback."""
    try:
        from agentflow.cli.app import entry_point as run
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.stderr.flush()
        os._exit(INTERRUPTED)
    run()

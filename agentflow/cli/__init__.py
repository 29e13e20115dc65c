"""The command line: the only package that knows typer and exit codes."""

from agentflow.cli.app import main

__all__ = ["main"]

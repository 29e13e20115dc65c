"""The command line: parse flags, call the stages, render, exit with a stable code.

Messages go to stderr so that stdout carries only what a command produces (tables, or
exactly one JSON document with --json). Each command imports what it needs when it runs,
so this module (and `agentflow --help`) loads only typer and the command signatures.
"""

from __future__ import annotations

import os
import sys
from typing import Literal, NoReturn

import typer

from agentflow.cli import agents, cache, history, workflow
from agentflow.cli import run as run_command
from agentflow.cli.streams import ReaderGuard
from agentflow.errors import AgentflowError, ExitCode


def _markup_mode() -> Literal["rich"] | None:
    """Rich help and error panels for a person at a terminal; click's plain text when the
    output goes to a program (as every table does), which also spares loading rich's
    Markdown support, most of a piped `--help`'s time."""
    isatty = getattr(sys.stdout, "isatty", None)
    terminal = bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"
    return "rich" if terminal else None


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=_markup_mode(),
    help="Run teams of LLM agents from declarative YAML workflows.",
)
app.command()(workflow.validate)
app.command()(workflow.plan)
app.command()(run_command.run)
app.add_typer(agents.agents_app, name="agents")
app.add_typer(history.runs_app, name="runs")
app.command("report")(history.report)
app.add_typer(cache.cache_app, name="cache")


def dispatch(argv: list[str] | None = None) -> int:
    """Run one command line (default: sys.argv); its exit code. No traceback reaches the
    user: every error becomes messages on stderr and a stable code. A reader that goes away
    (`agentflow run ... | head`) ends only the output: the command finishes as it would
    have, with its own exit code."""
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ReaderGuard(stdout), ReaderGuard(stderr)
    try:
        return _dispatch(argv)
    finally:
        sys.stdout, sys.stderr = stdout, stderr


def _dispatch(argv: list[str] | None) -> int:
    args = run_command.resume_flag_default(sys.argv[1:] if argv is None else argv)
    try:
        result = app(args=args, prog_name="agentflow", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except AgentflowError as error:
        _report(error)
        return int(error.exit_code)
    except typer.Exit as done:
        return int(done.exit_code)
    except typer.TyperException as usage:  # typer's own click: usage errors, bad parameters
        show = getattr(usage, "show", None)
        if callable(show):
            show()
        else:
            _say(f"agentflow: {usage}")
        return int(ExitCode.INVALID)
    except (KeyboardInterrupt, typer.Abort):
        _say("interrupted")
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback for users
        if os.environ.get("AGENTFLOW_DEBUG"):
            raise
        _say(
            f"agentflow: internal error: {type(exc).__name__}: {exc} "
            "(set AGENTFLOW_DEBUG=1 for a traceback, and please report it)"
        )
        return int(ExitCode.TASK_FAILED)


def _report(error: AgentflowError) -> None:
    from agentflow.cli.options import report_problems

    report_problems(error.problems)


def _say(text: str) -> None:
    from agentflow.render.console import make_console
    from agentflow.render.text import cap_message

    make_console(stderr=True).print(cap_message(text), markup=False)


def main() -> NoReturn:
    """The command line, ending in SystemExit (the in-process form tests use)."""
    sys.exit(dispatch())


def entry_point() -> NoReturn:
    """The `agentflow` program: the command, then an immediate exit. Everything is written
    and closed by the time a command returns, so the interpreter's teardown (a good half
    second once the Anthropic SDK is loaded) is skipped."""
    code = dispatch()
    for stream in (sys.stdout, sys.stderr):
        try:
            ReaderGuard(stream).flush()
        except (OSError, ValueError):
            code = code or int(ExitCode.TASK_FAILED)  # a full disk, say: the output is not whole
    os._exit(code)

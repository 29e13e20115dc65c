"""One `agentflow run` from a prepared plan to an exit code: the run folder and the history
record it as it goes, the live view shows it, Ctrl-C stops it, the tables (or the JSON)
tell how it went."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from collections.abc import Mapping
from typing import TYPE_CHECKING

from agentflow.cli.options import capped_errors, print_json, report_problems
from agentflow.engine.cache import ResponseCache
from agentflow.engine.context import RunOptions
from agentflow.engine.recorder import BackgroundRecorder, Recorders
from agentflow.engine.results import PriorOutput, RunResult, TaskResult
from agentflow.engine.run import RunControl, execute
from agentflow.errors import AgentflowError, ExitCode, Problem
from agentflow.prepare import Prepared
from agentflow.providers.base import Provider
from agentflow.store.paths import CACHE_DIR_ENV, HOME_ENV, history_path, new_run_id, state_dir
from agentflow.store.recorder import HistoryRecorder
from agentflow.store.run_folder import RunFolder

if TYPE_CHECKING:
    from rich.console import Console

EXIT_FOR_STATUS = {
    "succeeded": ExitCode.OK,
    "failed": ExitCode.TASK_FAILED,
    "budget_exceeded": ExitCode.BUDGET,
    "interrupted": ExitCode.INTERRUPTED,
}


def _install_signal_handlers(control: RunControl, recorder: BackgroundRecorder) -> None:
    """First Ctrl-C / SIGTERM: stop gracefully. A second Ctrl-C: leave at once, even while
    the recorder is still writing (the event loop never waits on it), saying what was not
    written."""
    loop = asyncio.get_running_loop()
    pressed = {"count": 0}

    def on_signal() -> None:
        pressed["count"] += 1
        if pressed["count"] > 1:
            _leave_now(recorder.pending)
        control.request_stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)


def _leave_now(unwritten: int) -> None:
    """Exit 130 at once; the records still queued are lost, and said so."""
    if unwritten:
        os.write(
            2,
            f"interrupted again: exiting at once; about {unwritten} records of this run "
            f"(finished tasks, messages, the run's end) were not written to {history_path()} "
            "or the run folder\n".encode(),
        )
    else:
        os.write(2, b"interrupted again: exiting at once\n")
    os._exit(int(ExitCode.INTERRUPTED))


def run_plan(
    prepared: Prepared,
    provider: Provider,
    options: RunOptions,
    *,
    cache: ResponseCache | None,
    prior: Mapping[str, PriorOutput] | None,
    live: bool,
    as_json: bool,
) -> int:
    """Run the plan and show it; the exit code of its status."""
    plan = prepared.plan
    run_id = new_run_id()
    folder = _usable_folders(run_id, cache)
    history = HistoryRecorder()
    recorders = Recorders(folder, history)
    recorder = BackgroundRecorder(recorders)
    err: Console | None = None
    board = None
    if live:  # rich is loaded only to be shown
        from agentflow.render.console import make_console
        from agentflow.render.run_view import LiveBoard

        err = make_console(stderr=True)
    if err is not None and err.is_terminal:
        board = LiveBoard([TaskResult(t.id, t.agent, t.model) for t in plan.tasks.values()])

    async def main() -> RunResult:
        control = RunControl()
        _install_signal_handlers(control, recorder)
        try:
            return await execute(
                plan,
                provider=provider,
                prices=prepared.prices,
                options=options,
                run_id=run_id,
                run_dir=folder.path,
                cache=cache,
                prior=prior,
                recorder=recorder,
                listener=board.update if board else None,
                control=control,
            )
        finally:
            await provider.aclose()

    try:
        if board is not None and err is not None:
            from rich.live import Live

            with Live(board, console=err, refresh_per_second=8, transient=True):
                result = asyncio.run(main())
        else:
            result = asyncio.run(main())
    finally:
        if cache is not None:
            cache.close()
        history.close()
    report_problems(
        _not_saved(folder, history.errors, [*recorders.errors, *recorder.errors], cache)
    )
    _show(result, as_json)
    return int(EXIT_FOR_STATUS[result.status])


def _usable_folders(run_id: str, cache: ResponseCache | None) -> RunFolder:
    """The run's folder, made, and the response cache, opened: a state or cache folder that
    cannot be used is exit 2 here, before anything is spent."""
    try:
        folder = RunFolder(state_dir(), run_id)
    except OSError as exc:
        raise AgentflowError.single(
            str(state_dir()),
            f"cannot use the state folder: {exc.strerror or exc}",
            hint=f"make it a writable folder, or point {HOME_ENV} elsewhere",
        ) from None
    try:
        if cache is not None:
            cache.open()
    except (OSError, sqlite3.Error) as exc:
        raise AgentflowError.single(
            str(cache.directory),
            f"cannot use the response cache: {exc}",
            hint=f"make it a writable folder, choose another with --cache-dir or {CACHE_DIR_ENV}, "
            "or run with --no-cache",
        ) from None
    return folder


def _not_saved(
    folder: RunFolder,
    history_errors: list[str],
    folder_errors: list[str],
    cache: ResponseCache | None,
) -> list[Problem]:
    """Warnings for what could not be saved (a full disk, say): the run itself went on,
    and its answers are in the output either way."""
    kept = "the run folder" if not folder_errors else "this command's output"
    failures = [
        (history_path(), "the run history was not fully written", history_errors,
         f"the outputs are in {kept}"),
        (folder.path, "the run folder was not fully written", folder_errors,
         "the outputs are in this command's output (use --json to keep them)"),
        (cache.directory if cache else None, "answers were not stored in the response cache",
         cache.errors if cache else [], "a re-run will ask for them again"),
    ]  # fmt: skip
    return [
        Problem(str(where), f"{what}: {errors[0]}", hint=hint, severity="warning")
        for where, what, errors, hint in failures
        if errors
    ]


def _show(result: RunResult, as_json: bool) -> None:
    if as_json:
        from agentflow.engine.summary import run_summary

        print_json(capped_errors(run_summary(result)))
    else:
        from agentflow.render.console import make_console
        from agentflow.render.run_view import render_run

        render_run(result, make_console())

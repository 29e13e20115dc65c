"""`agentflow run`: wire the stages together, handle signals, show progress.

Kept out of cli.py only for size; like the CLI it is the one layer allowed to print.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import dataclass

from rich.live import Live

from agentflow.engine.results import RunResult, TaskResult
from agentflow.engine.run import RunControl, RunOptions, execute
from agentflow.engine.scheduler import ScheduleMode
from agentflow.engine.summary import run_summary
from agentflow.errors import AgentflowError, ExitCode
from agentflow.models import PriceTable
from agentflow.plan import Plan
from agentflow.providers.base import Provider
from agentflow.record import RunFolder, new_run_id, state_dir
from agentflow.render.console import make_console
from agentflow.render.run_view import LiveBoard, render_run
from agentflow.spec.agents import AgentCatalog

EXIT_FOR_STATUS = {
    "succeeded": ExitCode.OK,
    "failed": ExitCode.TASK_FAILED,
    "budget_exceeded": ExitCode.BUDGET,
    "interrupted": ExitCode.INTERRUPTED,
}


@dataclass(frozen=True)
class RunFlags:
    concurrency: int | None
    schedule: ScheduleMode
    fail_fast: bool
    timeout: float | None
    retries: int | None
    as_json: bool
    quiet: bool


def _install_signal_handlers(control: RunControl) -> None:
    """First Ctrl-C / SIGTERM: stop gracefully. A second Ctrl-C: leave at once."""
    loop = asyncio.get_running_loop()
    pressed = {"count": 0}

    def on_signal() -> None:
        pressed["count"] += 1
        if pressed["count"] > 1:
            os._exit(int(ExitCode.INTERRUPTED))
        control.request_stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)


async def _run_async(
    plan: Plan,
    catalog: AgentCatalog,
    provider: Provider,
    prices: PriceTable,
    options: RunOptions,
    folder: RunFolder,
    run_id: str,
    board: LiveBoard | None,
) -> RunResult:
    control = RunControl()
    _install_signal_handlers(control)
    try:
        return await execute(
            plan,
            catalog,
            provider,
            prices,
            options,
            run_id=run_id,
            run_dir=folder.path,
            recorder=folder,
            listener=board.update if board else None,
            control=control,
        )
    finally:
        await provider.aclose()


RETRY_DELAY_ENV = "AGENTFLOW_RETRY_BASE_DELAY"


def _retry_base_delay() -> float:
    """The first backoff step in seconds (doubling after), tunable for impatient setups."""
    raw = os.environ.get(RETRY_DELAY_ENV, "")
    try:
        return max(0.0, float(raw)) if raw else 1.0
    except ValueError:
        raise AgentflowError.single(RETRY_DELAY_ENV, f"expected seconds, got {raw!r}") from None


def run_plan(
    plan: Plan, catalog: AgentCatalog, provider: Provider, prices: PriceTable, flags: RunFlags
) -> int:
    options = RunOptions(
        concurrency=flags.concurrency or plan.workflow.concurrency,
        schedule=flags.schedule,
        fail_fast=flags.fail_fast,
        timeout=flags.timeout,
        retries=flags.retries,
        retry_base_delay=_retry_base_delay(),
    )
    run_id = new_run_id()
    folder = RunFolder(state_dir(), run_id)
    err = make_console(stderr=True)
    if err.is_terminal and not flags.quiet and not flags.as_json:
        board = LiveBoard([TaskResult(t.id, t.agent, t.model) for t in plan.tasks.values()])
        with Live(board, console=err, refresh_per_second=8, transient=True):
            result = asyncio.run(
                _run_async(plan, catalog, provider, prices, options, folder, run_id, board)
            )
    else:
        result = asyncio.run(
            _run_async(plan, catalog, provider, prices, options, folder, run_id, None)
        )
    if flags.as_json:
        print(json.dumps(run_summary(result)))
    else:
        render_run(result, make_console())
    return int(EXIT_FOR_STATUS[result.status])

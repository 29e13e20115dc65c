"""`agentflow run`: wire the stages together, handle signals, show progress.

Kept out of cli.py only for size; like the CLI it is the one layer allowed to print.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rich.live import Live

from agentflow.engine.cache import ResponseCache, default_cache_dir
from agentflow.engine.recorder import BackgroundRecorder, Recorder, Recorders
from agentflow.engine.results import PriorOutput, RunResult, TaskResult
from agentflow.engine.run import RunControl, RunOptions, execute
from agentflow.engine.scheduler import ScheduleMode
from agentflow.engine.summary import run_summary
from agentflow.errors import AgentflowError, ExitCode, Problem
from agentflow.plan import Plan
from agentflow.prices import PriceTable
from agentflow.providers.base import Provider
from agentflow.render.console import make_console
from agentflow.render.run_view import LiveBoard, render_run
from agentflow.spec.agents import AgentCatalog
from agentflow.spec.workflow import Budget, Workflow
from agentflow.store.recorder import HistoryRecorder, history_path
from agentflow.store.run_folder import RunFolder, new_run_id, state_dir

EXIT_FOR_STATUS = {
    "succeeded": ExitCode.OK,
    "failed": ExitCode.TASK_FAILED,
    "budget_exceeded": ExitCode.BUDGET,
    "interrupted": ExitCode.INTERRUPTED,
}
RETRY_DELAY_ENV = "AGENTFLOW_RETRY_BASE_DELAY"


@dataclass(frozen=True)
class RunFlags:
    concurrency: int | None
    schedule: ScheduleMode
    fail_fast: bool
    timeout: float | None
    retries: int | None
    as_json: bool
    quiet: bool
    budget_usd: float | None = None
    budget_tokens: int | None = None
    exact_count: bool = False
    cache_mode: Literal["on", "off", "refresh"] = "on"
    cache_dir: Path | None = None
    prompt_cache: bool = True
    resume: str | None = None  # a run id, or "last"

    def budget(self, workflow: Workflow) -> Budget:
        """The cap in force: each flag overrides the workflow's own figure."""
        return Budget(
            usd=self.budget_usd if self.budget_usd is not None else workflow.budget.usd,
            tokens=self.budget_tokens if self.budget_tokens is not None else workflow.budget.tokens,
        )


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


def _retry_base_delay() -> float:
    """The first backoff step in seconds (doubling after), tunable for impatient setups."""
    raw = os.environ.get(RETRY_DELAY_ENV, "")
    try:
        return max(0.0, float(raw)) if raw else 1.0
    except ValueError:
        raise AgentflowError.single(RETRY_DELAY_ENV, f"expected seconds, got {raw!r}") from None


def _response_cache(flags: RunFlags) -> ResponseCache | None:
    if flags.cache_mode == "off":
        return None
    directory = flags.cache_dir or default_cache_dir(state_dir())
    return ResponseCache(directory, read=flags.cache_mode == "on", write=True)


def _prior_outputs(flags: RunFlags, plan: Plan) -> dict[str, PriorOutput] | None:
    if flags.resume is None:
        return None
    from agentflow.store.queries import last_run_id, resumable_outputs

    run_id = flags.resume
    if run_id == "last":
        found = last_run_id(plan.workflow.name)
        if found is None:
            raise AgentflowError.single(
                str(plan.workflow.path),
                f"--resume: no earlier run of {plan.workflow.name!r}",
                hint="run it once first, or name a run: agentflow runs list",
            )
        run_id = found
    return {
        tid: PriorOutput(prior.run_id, prior.request_hash, prior.output, prior.document)
        for tid, prior in resumable_outputs(run_id).items()
    }


def _recorders(folder: RunFolder) -> tuple[Recorder, HistoryRecorder]:
    history = HistoryRecorder()
    return BackgroundRecorder(Recorders(folder, history)), history


def run_plan(
    plan: Plan, catalog: AgentCatalog, provider: Provider, prices: PriceTable, flags: RunFlags
) -> int:
    budget = flags.budget(plan.workflow)
    options = RunOptions(
        concurrency=flags.concurrency or plan.workflow.concurrency,
        schedule=flags.schedule,
        fail_fast=flags.fail_fast,
        timeout=flags.timeout,
        retries=flags.retries,
        retry_base_delay=_retry_base_delay(),
        budget_usd=budget.usd,
        budget_tokens=budget.tokens,
        prompt_cache=flags.prompt_cache,
        exact_count=flags.exact_count,
        prior=_prior_outputs(flags, plan),
    )
    cache = _response_cache(flags)
    run_id = new_run_id()
    folder = RunFolder(state_dir(), run_id)
    recorder, history = _recorders(folder)
    err = make_console(stderr=True)
    board = None
    if err.is_terminal and not flags.quiet and not flags.as_json:
        board = LiveBoard([TaskResult(t.id, t.agent, t.model) for t in plan.tasks.values()])

    async def main() -> RunResult:
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
                cache=cache,
                recorder=recorder,
                listener=board.update if board else None,
                control=control,
            )
        finally:
            await provider.aclose()

    try:
        if board is not None:
            with Live(board, console=err, refresh_per_second=8, transient=True):
                result = asyncio.run(main())
        else:
            result = asyncio.run(main())
    finally:
        if cache is not None:
            cache.close()
        history.close()
    if history.errors:
        from agentflow.cli.app import report_problems

        report_problems(
            [
                Problem(
                    str(history_path()),
                    f"the run history was not fully written: {history.errors[0]}",
                    hint="outputs and summary.json are in the run folder",
                    severity="warning",
                )
            ]
        )
    if flags.as_json:
        print(json.dumps(run_summary(result)))
    else:
        render_run(result, make_console())
    return int(EXIT_FOR_STATUS[result.status])

"""`agentflow run`: its flags, turned into the engine's RunOptions, the response cache and the
outputs to resume from; agentflow.cli.session runs the plan and shows it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from agentflow.cli.options import (
    CacheDirOption,
    PricesOption,
    SetOption,
    parse_sets,
    report_problems,
)
from agentflow.errors import AgentflowError

if TYPE_CHECKING:
    from agentflow.engine.cache import ResponseCache
    from agentflow.engine.results import PriorOutput
    from agentflow.plan.model import Plan

RESUME_LAST = "last"
RETRY_DELAY_ENV = "AGENTFLOW_RETRY_BASE_DELAY"


def resume_flag_default(argv: list[str]) -> list[str]:
    """Let `--resume` stand alone (resume the last run) as well as take a RUN_ID.
    Click options take a value or none, never both; so a bare `--resume` gets `last`."""
    fixed = list(argv)
    for i, arg in enumerate(fixed):
        if arg != "--resume":
            continue
        following = fixed[i + 1] if i + 1 < len(fixed) else None
        if following is None or following.startswith("-") or following.endswith((".yaml", ".yml")):
            fixed.insert(i + 1, RESUME_LAST)
        break
    return fixed


def run(
    workflow: Annotated[Path, typer.Argument(help="The workflow file.")],
    set_: SetOption = None,
    provider: Annotated[
        str,
        typer.Option(
            "--provider",
            help="anthropic (needs ANTHROPIC_API_KEY) or simulate (offline, free, deterministic).",
        ),
    ] = "anthropic",
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            min=1,
            help="Tasks in flight at most (default: the workflow's `concurrency`, else 5).",
        ),
    ] = None,
    schedule: Annotated[
        str,
        typer.Option(
            "--schedule",
            help="dynamic: start each task as soon as its needs finish; waves: one wave at a time.",
        ),
    ] = "dynamic",
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Start no new task after the first failure.")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0.001, help="Seconds per attempt, for every task."),
    ] = None,
    retries: Annotated[
        int | None, typer.Option("--retries", min=0, help="Retries per task, for every task.")
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option(
            "--budget", min=0.0, help="Hard cap in USD for this run (overrides budget.usd)."
        ),
    ] = None,
    budget_tokens: Annotated[
        int | None,
        typer.Option(
            "--budget-tokens", min=1, help="Hard cap in tokens (overrides budget.tokens)."
        ),
    ] = None,
    exact_count: Annotated[
        bool,
        typer.Option(
            "--exact-count",
            help="Count input tokens with the API's count_tokens endpoint before reserving budget.",
        ),
    ] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Neither read nor write the response cache.")
    ] = False,
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh", help="Ask again and overwrite the response cache (write, don't read)."
        ),
    ] = False,
    cache_dir: CacheDirOption = None,
    no_prompt_cache: Annotated[
        bool, typer.Option("--no-prompt-cache", help="Send no cache_control breakpoints.")
    ] = False,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            metavar="[RUN_ID]",
            help="Run again only what did not succeed in RUN_ID (default: this workflow's last "
            "run); unchanged succeeded tasks reuse their recorded outputs.",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No live view.")] = False,
    prices: PricesOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout at the end.")
    ] = False,
) -> None:
    """Run a workflow: tasks start as soon as their needs finish."""
    from agentflow.cli.session import run_plan
    from agentflow.engine.context import RunOptions
    from agentflow.prepare import prepare
    from agentflow.providers.factory import make_provider, preload

    if schedule not in ("dynamic", "waves"):
        raise AgentflowError.single(
            "--schedule", f"unknown schedule {schedule!r}", hint="use dynamic or waves"
        )
    if no_cache and refresh:
        raise AgentflowError.single(
            "--refresh", "--refresh writes the cache; --no-cache forbids it", hint="use one of them"
        )
    if resume is None and (no_cache or refresh or not (cache_dir or _default_cache_dir()).exists()):
        preload(provider)  # no cache can answer this run: it will send requests
    options = RunOptions(
        concurrency=concurrency,
        schedule=schedule,  # type: ignore[arg-type]
        fail_fast=fail_fast,
        timeout=timeout,
        retries=retries,
        retry_base_delay=_retry_base_delay(),
        prompt_cache=not no_prompt_cache,
        exact_count=exact_count,
    )
    prepared = prepare(
        workflow,
        inputs=parse_sets(set_),
        prices_file=prices,
        budget_usd=budget,
        budget_tokens=budget_tokens,
        estimate=False,  # a run reserves each request's own worst case as it goes
    )
    report_problems(prepared.warnings)
    chosen = make_provider(provider, os.environ)
    prior = _prior_outputs(resume, prepared.plan)
    cache = None if no_cache else _response_cache(cache_dir, refresh=refresh)
    code = run_plan(
        prepared,
        chosen,
        options,
        cache=cache,
        prior=prior,
        live=not quiet and not as_json,
        as_json=as_json,
    )
    raise typer.Exit(code)


def _retry_base_delay() -> float:
    """The first backoff step in seconds (doubling after), tunable for impatient setups."""
    raw = os.environ.get(RETRY_DELAY_ENV, "")
    try:
        return max(0.0, float(raw)) if raw else 1.0
    except ValueError:
        raise AgentflowError.single(RETRY_DELAY_ENV, f"expected seconds, got {raw!r}") from None


def _default_cache_dir() -> Path:
    from agentflow.store.paths import cache_dir

    return cache_dir()


def _response_cache(folder: Path | None, *, refresh: bool) -> ResponseCache:
    from agentflow.engine.cache import ResponseCache

    return ResponseCache(folder or _default_cache_dir(), read=not refresh, write=True)


def _prior_outputs(resume: str | None, plan: Plan) -> dict[str, PriorOutput] | None:
    if resume is None:
        return None
    from agentflow.store.queries import last_run_id, resumable_outputs

    run_id = resume
    if run_id == RESUME_LAST:
        found = last_run_id(plan.name)
        if found is None:
            raise AgentflowError.single(
                str(plan.file),
                f"--resume: no earlier run of {plan.name!r}",
                hint="run it once first, or name a run: agentflow runs list",
            )
        run_id = found
    return resumable_outputs(run_id)

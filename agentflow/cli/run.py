"""`agentflow run`: its flags. The wiring lives in run_command.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from agentflow.cli.session import RunFlags, run_plan
from agentflow.errors import AgentflowError
from agentflow.plan import build_plan
from agentflow.prices import PRICES_ENV, load_prices
from agentflow.providers.factory import make_provider
from agentflow.store.routing import learn_from_history

RESUME_LAST = "last"


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
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Fill an input: NAME=VALUE (repeatable).")
    ] = None,
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
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Response cache folder (default: $AGENTFLOW_CACHE_DIR, else .agentflow/cache).",
        ),
    ] = None,
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
    prices: Annotated[
        Path | None,
        typer.Option(
            "--prices",
            help=f"YAML/JSON file adding or overriding model prices (default: ${PRICES_ENV}).",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout at the end.")
    ] = False,
) -> None:
    """Run a workflow: tasks start as soon as their needs finish."""
    from agentflow.cli.app import load_valid, parse_sets, report_problems  # shared CLI helpers
    from agentflow.render.plan_view import weak_agent_warnings

    if schedule not in ("dynamic", "waves"):
        raise AgentflowError.single(
            "--schedule", f"unknown schedule {schedule!r}", hint="use dynamic or waves"
        )
    if no_cache and refresh:
        raise AgentflowError.single(
            "--refresh", "--refresh writes the cache; --no-cache forbids it", hint="use one of them"
        )
    validated = load_valid(workflow, prices)
    assert validated.workflow is not None and validated.agents is not None
    table = load_prices(prices)
    flags = RunFlags(
        concurrency=concurrency,
        schedule=schedule,
        fail_fast=fail_fast,  # type: ignore[arg-type]
        timeout=timeout,
        retries=retries,
        as_json=as_json,
        quiet=quiet,
        budget_usd=budget,
        budget_tokens=budget_tokens,
        exact_count=exact_count,
        cache_mode="off" if no_cache else "refresh" if refresh else "on",
        cache_dir=cache_dir,
        prompt_cache=not no_prompt_cache,
        resume=resume,
    )
    the_plan = build_plan(
        validated.workflow,
        validated.agents,
        table,
        parse_sets(set_),
        budget=flags.budget(validated.workflow),
        learned=learn_from_history(validated.workflow, table),
    )
    report_problems(weak_agent_warnings(the_plan))
    chosen = make_provider(provider, os.environ)
    raise typer.Exit(run_plan(the_plan, validated.agents, chosen, table, flags))


def patch_argv() -> None:
    sys.argv = resume_flag_default(sys.argv)

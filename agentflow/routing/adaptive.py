"""What the run history taught about models: where escalate chains should start, and which
tasks could be pinned to one model.

For each task of a workflow, look at its recent runs: on which model of its chain did its
checks pass or fail? A task whose first model failed the checks in most recent runs starts
one step higher (`routing: {adaptive: true}`); a task that passed every time on one model
gets a suggestion to pin that model, with what the failed attempts before it cost per run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

RECENT_RUNS = 10
MIN_OBSERVATIONS = 2
PIN_AFTER = 3  # passes in a row on one model before suggesting to pin it


@dataclass(frozen=True)
class ModelRecord:
    """One task's outcome on one model in one run."""

    run_id: str
    task_id: str
    model: str
    passed: bool  # an attempt on this model produced the accepted answer
    failed_checks: bool  # its attempts ended in invalid_output (checks, schema, refusal)
    cost_usd: float


@dataclass(frozen=True)
class LearnedStart:
    start: int  # index into the task's escalate chain
    why: str


@dataclass(frozen=True)
class RouteStat:
    task_id: str
    model: str
    runs: int
    passes: int
    check_failures: int
    cost_per_run_usd: float


@dataclass(frozen=True)
class Suggestion:
    task_id: str
    pin_model: str
    passes: int
    saving_per_run_usd: float  # what the attempts on cheaper models cost, wasted, per run


def route_stats(records: Sequence[ModelRecord]) -> list[RouteStat]:
    by_key: dict[tuple[str, str], list[ModelRecord]] = {}
    for record in records:
        by_key.setdefault((record.task_id, record.model), []).append(record)
    stats = []
    for (task_id, model), rows in sorted(by_key.items()):
        runs = len({r.run_id for r in rows})
        stats.append(
            RouteStat(
                task_id,
                model,
                runs,
                sum(r.passed for r in rows),
                sum(r.failed_checks for r in rows),
                sum(r.cost_usd for r in rows) / max(runs, 1),
            )
        )
    return stats


def learned_starts(
    chains: Mapping[str, Sequence[str]], records: Sequence[ModelRecord]
) -> dict[str, LearnedStart]:
    """For tasks with a chain (resolved model ids): start one step higher while the model
    at the start failed its checks in most of its recent runs."""
    learned: dict[str, LearnedStart] = {}
    for task_id, chain in chains.items():
        rows = [r for r in records if r.task_id == task_id]
        start = 0
        while start < len(chain) - 1:
            on_model = [r for r in rows if r.model == chain[start]]
            failures = sum(r.failed_checks for r in on_model)
            if len(on_model) < MIN_OBSERVATIONS or failures * 2 <= len(on_model):
                break
            start += 1
        if start:
            skipped = chain[start - 1]
            learned[task_id] = LearnedStart(
                start, f"learned: {skipped} failed the checks in most recent runs"
            )
    return learned


def suggestions(records: Sequence[ModelRecord]) -> list[Suggestion]:
    """Tasks that passed on the same model in each of their last PIN_AFTER runs, and spent
    something on other models first: pinning that model would save those attempts."""
    found = []
    for task_id in sorted({r.task_id for r in records}):
        rows = [r for r in records if r.task_id == task_id]
        run_ids = list(dict.fromkeys(r.run_id for r in rows))[:PIN_AFTER]
        if len(run_ids) < PIN_AFTER:
            continue
        winners = {r.model for r in rows if r.run_id in run_ids and r.passed}
        passed_each = all(any(r.passed for r in rows if r.run_id == run) for run in run_ids)
        if len(winners) != 1 or not passed_each:
            continue
        model = winners.pop()
        wasted = sum(r.cost_usd for r in rows if r.run_id in run_ids and r.model != model)
        if wasted > 0:
            found.append(Suggestion(task_id, model, len(run_ids), wasted / len(run_ids)))
    return found

"""How long each task of a workflow really took in its recent runs: the plan weighs a task
by this instead of its estimate, so a re-run schedules by the latencies it has seen.

A sample is a task that succeeded from the API (a cache hit or a resumed output took no
time worth learning) in a run of a real provider (never `simulate`). Provider start-up and
the first request's connection set-up are left out: a task that started before the run's
first answer came back (it was in flight while the SDK and the connection got ready) is
measured from that first answer on, and such samples are used only for a task that has no
other. The learned duration is the median of a task's samples.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections import defaultdict
from pathlib import Path

from agentflow.errors import AgentflowError
from agentflow.plan.model import LearnedDuration
from agentflow.store.db import reading
from agentflow.store.migrations import SIMULATED

RECENT_RUNS = 10

_SAMPLES = f"""
WITH recent AS (
    SELECT run_id FROM runs WHERE workflow = :workflow AND coalesce(provider, '') != '{SIMULATED}'
    ORDER BY started_at DESC LIMIT :runs
), first AS (
    SELECT run_id, MIN(ended_at) AS first_answer FROM attempts
    WHERE run_id IN (SELECT run_id FROM recent) GROUP BY run_id
)
SELECT t.task_id, t.started_at, t.ended_at, f.first_answer
FROM tasks t LEFT JOIN first f ON f.run_id = t.run_id
WHERE t.run_id IN (SELECT run_id FROM recent)
  AND t.status = 'succeeded' AND t.source = 'api'
  AND t.started_at IS NOT NULL AND t.ended_at IS NOT NULL
"""


def learned_durations(
    workflow: str, runs: int = RECENT_RUNS, path: Path | None = None
) -> dict[str, LearnedDuration]:
    """Task id -> its median duration over the workflow's last `runs` real runs. A history
    that cannot be read teaches nothing: the estimates serve, and the run goes on."""
    try:
        with reading(path) as db:
            if db is None:
                return {}
            rows = db.execute(_SAMPLES, {"workflow": workflow, "runs": runs}).fetchall()
    except (AgentflowError, sqlite3.Error, OSError):
        return {}
    clean: dict[str, list[float]] = defaultdict(list)
    during_start_up: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        first_answer = row["first_answer"]
        if first_answer is None or row["started_at"] >= first_answer:
            clean[row["task_id"]].append(row["ended_at"] - row["started_at"])
        else:
            during_start_up[row["task_id"]].append(row["ended_at"] - first_answer)
    learned = {}
    for tid in clean.keys() | during_start_up.keys():
        samples = clean.get(tid) or during_start_up[tid]
        learned[tid] = LearnedDuration(max(0.0, statistics.median(samples)), len(samples))
    return learned

"""What a run produced: per attempt, per task, and for the whole run."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from agentflow.prices import Usage

TaskStatus = Literal[
    "pending", "running", "succeeded", "cached", "failed", "skipped", "budget", "cancelled"
]
RunStatus = Literal["succeeded", "failed", "budget_exceeded", "interrupted"]
FINISHED_OK: frozenset[str] = frozenset({"succeeded", "cached"})
FINAL: frozenset[str] = frozenset(
    {"succeeded", "cached", "failed", "skipped", "budget", "cancelled"}
)
Source = Literal["api", "cache", "resume"]


@dataclass(frozen=True)
class Attempt:
    number: int
    model: str
    started_at: float
    ended_at: float
    ok: bool
    usage: Usage
    cost_usd: float
    error: str | None = None
    error_kind: str | None = None
    status_code: int | None = None
    # What prompt caching saved on this attempt against the same tokens billed uncached.
    prompt_cache_saved_usd: float = 0.0
    purpose: str = "answer"  # or "classify": routing.classifier choosing the task's tier
    # The outcome is unknown (timed out, abandoned, cancelled, unreadable): usage and cost
    # are the most the API can bill for it ("up to"), not what it reported.
    estimated: bool = False

    def renumbered(self, number: int) -> Attempt:
        return replace(self, number=number)


@dataclass(frozen=True)
class PriorOutput:
    """A task's output from an earlier run, reusable when its request is the same."""

    run_id: str
    request_hash: str
    output: str
    document: Any = None
    model: str | None = None  # the model that gave it (None: recorded before models were)
    usage: Usage = Usage()  # the tokens it took when first asked for: what reusing it saves
    cost_usd: float = 0.0  # and what it cost then


@dataclass(frozen=True)
class Answer:
    """A task's accepted output and where it came from (and, from a cache or an earlier
    run, what not asking again saved)."""

    output: str
    document: Any = None
    source: Source = "api"
    saved_usage: Usage = Usage()
    saved_usd: float = 0.0
    model: str | None = None  # the model that gave it, when it came from a cache or a run
    truncated: bool = False  # cut at max_tokens (stop_reason "max_tokens"): kept, not cached


@dataclass
class TaskResult:
    id: str
    agent: str | None
    model: str
    status: TaskStatus = "pending"
    attempts: list[Attempt] = field(default_factory=list)
    output: str | None = None
    document: Any = None  # parsed JSON output, for tasks with an output_schema
    error: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    request_hash: str | None = None  # identifies the exact request (see agentflow.engine.cache)
    source: Literal["api", "cache", "resume"] | None = None  # where the output came from
    saved_usage: Usage = field(default_factory=Usage)  # tokens a cache hit or resume avoided
    saved_usd: float = 0.0  # what that would have cost
    turns: int = 0  # model turns of a tool-use loop (0: a single call)
    tool_calls: int = 0  # tools the task's own conversation called
    truncated: bool = False  # the output was cut at max_tokens

    @property
    def usage(self) -> Usage:
        total = Usage()
        for attempt in self.attempts:
            total = total + attempt.usage
        return total

    @property
    def prompt_cache_saved_usd(self) -> float:
        return sum(a.prompt_cache_saved_usd for a in self.attempts)

    @property
    def cost_usd(self) -> float:
        return sum(a.cost_usd for a in self.attempts)

    @property
    def estimated_usd(self) -> float:
        """The part of `cost_usd` that is an upper bound, not a reported bill."""
        return sum(a.cost_usd for a in self.attempts if a.estimated)

    @property
    def requests(self) -> int:
        return len(self.attempts)


@dataclass
class RunResult:
    run_id: str
    workflow: str
    run_dir: Path
    tasks: dict[str, TaskResult]
    started_at: float
    ended_at: float = 0.0
    status: RunStatus = "succeeded"
    peak_in_flight: int = 0
    throttle_events: int = 0
    workflow_file: str = ""
    workflow_hash: str = ""  # sha256 of the workflow file's text
    budget_usd: float | None = None
    budget_tokens: int | None = None
    provider: str = ""  # the provider's name ("" when not recorded)

    @property
    def saved_usd(self) -> float:
        """Response cache and resume savings plus prompt-cache savings."""
        return sum(t.saved_usd + t.prompt_cache_saved_usd for t in self.tasks.values())

    @property
    def usage(self) -> Usage:
        total = Usage()
        for task in self.tasks.values():
            total = total + task.usage
        return total

    @property
    def cost_usd(self) -> float:
        return sum(t.cost_usd for t in self.tasks.values())

    @property
    def estimated_usd(self) -> float:
        """The part of `cost_usd` charged at attempts' worst cases (outcome unknown)."""
        return sum(t.estimated_usd for t in self.tasks.values())

    @property
    def requests(self) -> int:
        return sum(t.requests for t in self.tasks.values())

    @property
    def wall_seconds(self) -> float:
        return max(0.0, self.ended_at - self.started_at)

    def count(self, status: str) -> int:
        return sum(1 for t in self.tasks.values() if t.status == status)

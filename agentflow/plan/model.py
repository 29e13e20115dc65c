"""What the plan stage hands on: the run's tasks with every decision made, and, for `plan`,
the estimates. The engine reads only this, never the workflow file's own structures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentflow.spec.agents import Agent
from agentflow.spec.workflow import AskSettings, BudgetCap, Checks, Routing


@dataclass(frozen=True)
class LearnedDuration:
    """A task's real duration in recent runs of its workflow (agentflow.store.durations):
    the median over the runs it succeeded in, provider start-up and cache hits left out."""

    seconds: float
    runs: int  # how many runs it was measured in


@dataclass(frozen=True)
class PlannedTask:
    id: str
    position: int  # its place in the file, from 0
    wave: int
    needs: tuple[str, ...]
    prompt: str  # the template, filled in when the task starts
    output_schema: Mapping[str, Any] | None
    checks: Checks | None
    agent: str | None
    system: str  # the agent's system prompt; empty without an agent
    agent_description: str
    agent_score: float | None  # for agent: auto, the match score
    agent_matched: tuple[str, ...]  # for agent: auto, the words that matched
    agent_weak: bool  # for agent: auto, the best match is not convincing
    model: str  # resolved model id (the first of an escalate chain)
    model_reason: str
    tier: str | None  # for model: auto
    escalate: tuple[str, ...]  # resolved chain from `model` on; empty without one
    classifier: str | None  # the model that picks the tier at run time (routing.classifier)
    max_tokens: int
    timeout: float
    attempts: int  # 1 + retries, per model of an escalate chain
    tools: tuple[str, ...] = ()  # the tools of its tool-use loop; empty: one call, no loop
    max_turns: int = 1  # turns of that loop at most
    waits_for: tuple[str, ...] = ()  # state keys it waits for
    sets: tuple[str, ...] = ()  # state keys it declares it sets
    subscribed_keys: tuple[str, ...] = ()  # news before each turn: state keys...
    subscribed_topics: tuple[str, ...] = ()  # ...and topics
    est_seconds: float = 0.0  # estimated duration (a fixed latency plus expected output)
    remaining_seconds: float = 0.0  # longest path from this task to the end, itself included
    learned: LearnedDuration | None = None  # its real duration in earlier runs, if known

    @property
    def seconds(self) -> float:
        """The duration the plan weighs this task by: learned when known, else estimated."""
        return self.learned.seconds if self.learned is not None else self.est_seconds


@dataclass(frozen=True)
class TaskEstimate:
    input_tokens: int  # expected
    max_input_tokens: int
    output_tokens: int  # expected
    max_output_tokens: int
    cost_usd: float  # expected, prompt caching counted
    max_cost_per_attempt_usd: float
    max_cost_usd: float  # every attempt (and turn) at its worst
    max_tokens_total: int  # worst-case tokens over every attempt, for token budgets
    cache_write_tokens: int  # expected prompt-cache writes (first user of a prefix)
    cache_read_tokens: int  # expected prompt-cache reads (later users of a prefix)
    budget_covered: bool


@dataclass(frozen=True)
class Estimate:
    """Tokens and costs, expected and worst case, and whether the worst case fits the cap."""

    tasks: Mapping[str, TaskEstimate]
    cost_usd: float
    max_cost_usd: float
    fits: bool
    uncovered: tuple[str, ...]  # tasks whose worst case no longer fits, in plan order


@dataclass(frozen=True)
class Plan:
    name: str
    file: Path
    file_hash: str  # sha256 of the workflow file's text
    inputs: Mapping[str, str]
    waves: tuple[tuple[str, ...], ...]
    critical_path: tuple[str, ...]
    critical_path_seconds: float
    tasks: Mapping[str, PlannedTask]  # in execution-priority-friendly topological order
    agents: Mapping[str, Agent]  # every agent of the workflow's folders (ask_agent asks any)
    budget: BudgetCap  # the cap in force (a command's flags over the file's `budget:`)
    concurrency: int
    routing: Routing
    ask: AskSettings
    workspace: Path
    workspace_allow: tuple[str, ...] = ()  # paths let through the file tools' default deny
    state_keys_read: tuple[str, ...] = ()  # in prompts, waits_for and subscribe
    topics_read: tuple[str, ...] = ()
    estimate: Estimate | None = None  # only when asked for: counting tokens takes a while

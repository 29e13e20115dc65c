"""Workflow -> Plan: the graph, waves, critical path, model and agent per task, and estimates.

Estimates (documented in README.md):
- input tokens: the prompt with inputs filled, plus the agent's system prompt, counted by
  `agentflow.tokens` (which over-counts on purpose); each `{{ tasks.X.* }}` reference adds
  X's expected output (for the expected cost) or X's `max_tokens` (for the worst case);
- output tokens: `max_tokens` in the worst case, EXPECTED_OUTPUT_FRACTION of it expected;
- worst-case cost: every attempt (1 + retries) at worst-case input and output;
- duration: a fixed latency plus output tokens at the model tier's typical speed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx

from agentflow.errors import AgentflowError, ExitCode, Problem
from agentflow.prices import PriceTable, Usage
from agentflow.routing.adaptive import LearnedStart
from agentflow.routing.assign import AgentPick, assign_agents
from agentflow.routing.choose import ModelChoice, choose_model
from agentflow.routing.classifier import CLASSIFY_MAX_TOKENS, CLASSIFY_RETRIES
from agentflow.routing.classifier import SYSTEM as CLASSIFIER_SYSTEM
from agentflow.routing.tools import max_turns, select_tools
from agentflow.spec.agents import Agent, AgentCatalog
from agentflow.spec.templates import RenderContext, parse_template, render_template
from agentflow.spec.workflow import Budget, TaskSpec, Workflow
from agentflow.tokens import (
    REQUEST_OVERHEAD_TOKENS,
    estimate_tokens,
    estimate_tokens_batch,
    raw_token_count,
)
from agentflow.validate.workflow import task_graph

EXPECTED_OUTPUT_FRACTION = 0.5
BASE_LATENCY_SECONDS = 1.5
TOKENS_PER_SECOND = {"simple": 150.0, "standard": 80.0, "complex": 50.0}


@dataclass(frozen=True)
class PlannedTask:
    id: str
    wave: int
    needs: tuple[str, ...]
    agent: str | None
    agent_score: float | None  # for agent: auto, the match score
    agent_matched: tuple[str, ...]  # for agent: auto, the words that matched
    agent_weak: bool  # for agent: auto, the best match is not convincing
    model: str  # resolved model id (the first of an escalate chain)
    model_reason: str
    tier: str | None  # for model: auto
    escalate: tuple[str, ...]  # resolved chain from `model` on; empty without one
    est_input_tokens: int
    max_input_tokens: int
    est_output_tokens: int
    max_output_tokens: int
    attempts: int  # 1 + retries, per model of an escalate chain
    timeout: float
    est_cost_usd: float
    max_cost_per_attempt_usd: float
    max_cost_usd: float
    max_tokens_total: int  # worst-case tokens over every attempt, for token budgets
    est_cache_write_tokens: int  # expected prompt-cache writes (first user of a prefix)
    est_cache_read_tokens: int  # expected prompt-cache reads (later users of a prefix)
    est_seconds: float
    remaining_seconds: float  # longest path from this task to the end, itself included
    budget_covered: bool
    tools: tuple[str, ...] = ()  # the tools of its tool-use loop; empty: one call, no loop
    max_turns: int = 1  # turns of that loop at most


@dataclass(frozen=True)
class BudgetCheck:
    usd: float | None
    tokens: int | None
    fits: bool
    uncovered: tuple[str, ...]  # tasks whose worst case no longer fits, in plan order


@dataclass(frozen=True)
class Plan:
    workflow: Workflow
    inputs: Mapping[str, str]
    waves: tuple[tuple[str, ...], ...]
    critical_path: tuple[str, ...]
    critical_path_seconds: float
    tasks: Mapping[str, PlannedTask]  # in execution-priority-friendly topological order
    max_cost_usd: float
    est_cost_usd: float
    budget: BudgetCheck


def resolve_inputs(workflow: Workflow, given: Mapping[str, str]) -> dict[str, str]:
    """Fill inputs from --set values and defaults; unknown or missing ones are exit 2."""
    file = str(workflow.path)
    problems = [
        Problem(
            file,
            f"--set {name}: the workflow has no input {name!r}",
            hint=f"inputs: {', '.join(workflow.inputs) or 'none'}",
        )
        for name in given
        if name not in workflow.inputs
    ]
    values: dict[str, str] = {}
    for name, spec in workflow.inputs.items():
        if name in given:
            values[name] = given[name]
        elif spec.default is not None:
            values[name] = spec.default
        else:
            line, col = workflow.position(("inputs", name))
            problems.append(
                Problem(
                    file,
                    f"input {name!r} is required and has no value",
                    line,
                    col,
                    hint=f"pass --set {name}=VALUE",
                )
            )
    if problems:
        raise AgentflowError(problems, ExitCode.INVALID)
    return values


def _own_input_tokens(
    workflow: Workflow, picks: Mapping[str, AgentPick], inputs: Mapping[str, str]
) -> dict[str, int]:
    """Each task's input tokens before upstream outputs are added: prompt and system."""
    context = RenderContext(inputs, {}, {})
    ids = list(workflow.tasks)
    prompts = [render_template(workflow.tasks[tid].prompt, context) for tid in ids]
    systems = {tid: agent.system_prompt for tid in ids if (agent := picks[tid].agent) is not None}
    counted = estimate_tokens_batch(prompts)
    system_tokens = {text: estimate_tokens(text) for text in set(systems.values())}
    return {
        tid: counted[i] + system_tokens.get(systems.get(tid, ""), 0) + REQUEST_OVERHEAD_TOKENS
        for i, tid in enumerate(ids)
    }


def _input_tokens(task: TaskSpec, own: int, upstream: tuple[Mapping[str, int], ...]) -> list[int]:
    """Input tokens of the task once per `upstream` guess of its dependencies' outputs."""
    refs, _ = parse_template(task.prompt)
    task_refs = [r.name for r in refs if r.kind != "input"]
    return [own + sum(outputs.get(name, 0) for name in task_refs) for outputs in upstream]


def _with_state_waits(workflow: Workflow, graph: nx.DiGraph) -> nx.DiGraph:
    """The needs graph plus an edge from each task that may set a key to each task that
    waits for it: a waiter starts after a setter, so waves, the critical path and the
    priorities must say so. Unchanged when no task waits (the common, large case)."""
    waiters = [t for t in workflow.tasks.values() if t.waits_for]
    if not waiters:
        return graph
    ordered = graph.copy()
    for waiter in waiters:
        after = nx.descendants(graph, waiter.id) | {waiter.id}
        for key in waiter.waits_for:
            ordered.add_edges_from(
                (setter.id, waiter.id)
                for setter in workflow.tasks.values()
                if key in setter.sets and setter.id not in after
            )
    # validate refuses cycles of waits; should one slip through, order by needs alone.
    return ordered if nx.is_directed_acyclic_graph(ordered) else graph


def build_plan(
    workflow: Workflow,
    catalog: AgentCatalog,
    prices: PriceTable,
    given_inputs: Mapping[str, str],
    budget: Budget | None = None,
    learned: Mapping[str, LearnedStart] | None = None,
) -> Plan:
    """`budget` overrides the workflow's own (the run command's --budget); `learned` are
    the escalate starts adaptive routing took from the history."""
    inputs = resolve_inputs(workflow, given_inputs)
    picks = assign_agents(workflow, catalog)
    graph = _with_state_waits(workflow, task_graph(workflow))
    file_order = {tid: i for i, tid in enumerate(workflow.tasks)}
    waves = tuple(
        tuple(sorted(g, key=file_order.__getitem__)) for g in nx.topological_generations(graph)
    )
    wave_of = {tid: i for i, wave in enumerate(waves) for tid in wave}
    expected_out: dict[str, int] = {}
    worst_out: dict[str, int] = {}
    drafts: dict[str, dict[str, Any]] = {}
    own_tokens = _own_input_tokens(workflow, picks, inputs)
    cached_prefixes: set[tuple[str, str]] = set()
    for wave in waves:
        for tid in wave:
            drafts[tid] = _draft(
                workflow,
                workflow.tasks[tid],
                picks[tid],
                (learned or {}).get(tid),
                prices,
                own_tokens[tid],
                expected_out,
                worst_out,
                cached_prefixes,
            )
            drafts[tid]["wave"] = wave_of[tid]
    remaining = _remaining_seconds(graph, waves, {t: d["est_seconds"] for t, d in drafts.items()})
    critical = _critical_path(graph, remaining)
    budget_check = _check_budget(budget or workflow.budget, waves, drafts)
    tasks = {
        tid: PlannedTask(
            **drafts[tid],
            remaining_seconds=remaining[tid],
            budget_covered=tid not in budget_check.uncovered,
        )
        for wave in waves
        for tid in wave
    }
    return Plan(
        workflow=workflow,
        inputs=inputs,
        waves=waves,
        critical_path=critical,
        critical_path_seconds=remaining[critical[0]] if critical else 0.0,
        tasks=tasks,
        max_cost_usd=sum(t.max_cost_usd for t in tasks.values()),
        est_cost_usd=sum(t.est_cost_usd for t in tasks.values()),
        budget=budget_check,
    )


def _draft(
    workflow: Workflow,
    task: TaskSpec,
    pick: AgentPick,
    learned: LearnedStart | None,
    prices: PriceTable,
    own_tokens: int,
    expected_out: dict[str, int],
    worst_out: dict[str, int],
    cached_prefixes: set[tuple[str, str]],
) -> dict[str, Any]:
    settings = workflow.effective(task)
    agent = pick.agent
    choice = choose_model(
        workflow, task, agent, learned.start if learned else 0, learned.why if learned else None
    )
    model_id = prices.resolve(choice.model)
    chain = tuple(prices.resolve(m) for m in choice.chain)
    price = prices.price(model_id)
    max_out = settings.max_tokens or 0
    est_out = math.ceil(max_out * EXPECTED_OUTPUT_FRACTION)
    expected_out[task.id], worst_out[task.id] = est_out, max_out
    est_in, max_in = _input_tokens(task, own_tokens, (expected_out, worst_out))
    attempts = 1 + (settings.retries or 0)
    # The dearest way a request can be billed: every input token as a prompt-cache write,
    # on every model of an escalate chain.
    per_attempt = sum(
        max_in * prices.worst_input_rate(m) + max_out * prices.price(m).output / 1e6
        for m in chain or _candidates(workflow, choice, model_id, prices)
    )
    expected = _expected_usage(agent, model_id, prices, est_in, est_out, cached_prefixes)
    tools = select_tools(workflow, task, agent).tools
    # A loop's worst case is every turn at the first turn's size (a lower bound: turns
    # grow with tool results); the run reserves each turn's real worst case before it.
    turns = max_turns(workflow, task, agent) if tools else 1
    return {
        "tools": tools,
        "max_turns": turns,
        "id": task.id,
        "needs": task.needs,
        "agent": agent.name if agent else None,
        "agent_score": pick.score,
        "agent_matched": pick.matched,
        "agent_weak": pick.weak,
        "model": model_id,
        "model_reason": choice.reason,
        "tier": choice.tier.tier if choice.tier else None,
        "escalate": chain,
        "est_input_tokens": est_in,
        "max_input_tokens": max_in,
        "est_output_tokens": est_out,
        "max_output_tokens": max_out,
        "attempts": attempts,
        "timeout": settings.timeout or 0.0,
        "est_cost_usd": prices.cost(model_id, expected),
        "est_cache_write_tokens": expected.cache_creation_input_tokens,
        "est_cache_read_tokens": expected.cache_read_input_tokens,
        "max_cost_per_attempt_usd": per_attempt,
        "max_cost_usd": per_attempt * attempts * turns + _classifier_worst(choice, max_in, prices),
        "max_tokens_total": (max_in + max_out) * attempts * max(1, len(chain)) * turns,
        "est_seconds": BASE_LATENCY_SECONDS + est_out / TOKENS_PER_SECOND.get(price.tier, 80.0),
    }


def _classifier_worst(choice: ModelChoice, max_in: int, prices: PriceTable) -> float:
    """What asking routing.classifier may cost (its attempts, an over-estimate of input)."""
    if choice.tier is None or not choice.classifier:
        return 0.0
    model = prices.resolve(choice.classifier)
    tokens_in = max_in + estimate_tokens(CLASSIFIER_SYSTEM)
    one = tokens_in * prices.worst_input_rate(model)
    one += CLASSIFY_MAX_TOKENS * prices.price(model).output / 1e6
    return one * (CLASSIFY_RETRIES + 1)


def _candidates(
    workflow: Workflow, choice: ModelChoice, model_id: str, prices: PriceTable
) -> tuple[str, ...]:
    """The model a task may run on; with routing.classifier an auto task may get any tier's
    model, so its worst case is the dearest of them (the classifier call is priced apart)."""
    if choice.tier is None or not workflow.routing.classifier:
        return (model_id,)
    dearest = max(
        (prices.resolve(m) for m in workflow.routing.tiers.values()),
        key=lambda m: prices.price(m).output,
    )
    return (dearest,)


def _expected_usage(
    agent: Agent | None,
    model_id: str,
    prices: PriceTable,
    est_in: int,
    est_out: int,
    cached_prefixes: set[tuple[str, str]],
) -> Usage:
    """Expected usage with prompt caching as a run does it: the first task of each long
    enough (model, system prompt) prefix writes the cache, the others read it."""
    system = agent.system_prompt if agent else ""
    if not system or raw_token_count(system) < prices.price(model_id).min_cache_tokens:
        return Usage(input_tokens=est_in, output_tokens=est_out)
    prefix_tokens = estimate_tokens(system)
    rest = max(0, est_in - prefix_tokens)
    if (model_id, system) in cached_prefixes:
        return Usage(rest, est_out, cache_read_input_tokens=prefix_tokens)
    cached_prefixes.add((model_id, system))
    return Usage(rest, est_out, cache_creation_input_tokens=prefix_tokens)


def _remaining_seconds(
    graph: nx.DiGraph, waves: tuple[tuple[str, ...], ...], seconds: Mapping[str, float]
) -> dict[str, float]:
    remaining: dict[str, float] = {}
    for wave in reversed(waves):
        for tid in wave:
            after = max((remaining[s] for s in graph.successors(tid)), default=0.0)
            remaining[tid] = seconds[tid] + after
    return remaining


def _critical_path(graph: nx.DiGraph, remaining: Mapping[str, float]) -> tuple[str, ...]:
    roots = [t for t in remaining if graph.in_degree(t) == 0]
    if not roots:
        return ()
    path = [max(roots, key=lambda t: remaining[t])]
    while True:
        successors = list(graph.successors(path[-1]))
        if not successors:
            return tuple(path)
        path.append(max(successors, key=lambda t: remaining[t]))


def _check_budget(
    budget: Budget, waves: tuple[tuple[str, ...], ...], drafts: Mapping[str, Mapping[str, Any]]
) -> BudgetCheck:
    """Walk the plan in order, as a run would reserve it, and name what no longer fits."""
    usd_cap, token_cap = budget.usd, budget.tokens
    spent_usd, spent_tokens = 0.0, 0
    uncovered: list[str] = []
    for wave in waves:
        for tid in wave:
            usd = spent_usd + drafts[tid]["max_cost_usd"]
            tokens = spent_tokens + drafts[tid]["max_tokens_total"]
            if (usd_cap is not None and usd > usd_cap) or (
                token_cap is not None and tokens > token_cap
            ):
                uncovered.append(tid)
                continue
            spent_usd, spent_tokens = usd, tokens
    return BudgetCheck(usd_cap, token_cap, not uncovered, tuple(uncovered))

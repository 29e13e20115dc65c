"""The plan stage: a validated workflow -> a Plan. Waves, the critical path, and for each task
its agent, model, tools and limits, each with the reason it was chosen; no API call.

Validation already picked each task's agent, tools and model; the plan takes those as they
are (only adaptive routing's learned starts move an escalate chain). Durations come from a
fixed latency plus the expected output at the model tier's typical speed, or, for a task
that ran before, from its real durations in the history (passed in as `durations`). Token and cost
estimates (agentflow.plan.estimate) are made only when asked for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from agentflow.errors import AgentflowError, ExitCode, Problem
from agentflow.plan import graph as dag
from agentflow.plan.estimate import EXPECTED_OUTPUT_FRACTION, estimate_plan
from agentflow.plan.model import LearnedDuration, Plan, PlannedTask
from agentflow.prices import PriceTable
from agentflow.routing.adaptive import LearnedStart
from agentflow.routing.choose import ModelChoice
from agentflow.routing.tools import max_turns, subscriptions
from agentflow.spec.bulk import building
from agentflow.spec.templates import parse_template
from agentflow.spec.workflow import BudgetCap, Settings, TaskSpec, Workflow
from agentflow.validate.workflow import ValidatedWorkflow

BASE_LATENCY_SECONDS = 1.5
TOKENS_PER_SECOND = {"simple": 150.0, "standard": 80.0, "complex": 50.0}


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


def build_plan(
    validated: ValidatedWorkflow,
    prices: PriceTable,
    *,
    inputs: Mapping[str, str],
    budget: BudgetCap | None = None,
    learned: Mapping[str, LearnedStart] | None = None,
    durations: Mapping[str, LearnedDuration] | None = None,
    estimate: bool = True,
) -> Plan:
    """`inputs` as given (--set), `budget` the cap in force (default: the file's), `learned`
    the escalate starts adaptive routing took from the history, `durations` the tasks' real
    durations in earlier runs (weighing them, where known, instead of the estimate: the
    critical path and the run's priorities follow); `estimate` adds token and cost
    estimates (what `plan` shows; a run needs none)."""
    with building():  # millions of objects for a large workflow: agentflow.spec.bulk
        return _build(
            validated,
            prices,
            inputs,
            budget=budget,
            learned=learned,
            durations=durations,
            estimate=estimate,
        )


def _build(
    validated: ValidatedWorkflow,
    prices: PriceTable,
    inputs: Mapping[str, str],
    *,
    budget: BudgetCap | None,
    learned: Mapping[str, LearnedStart] | None,
    durations: Mapping[str, LearnedDuration] | None,
    estimate: bool,
) -> Plan:
    workflow, catalog = validated.workflow, validated.agents
    assert workflow is not None and catalog is not None and validated.ok, "validate first"
    values = resolve_inputs(workflow, inputs)
    ordering = dag.ordering_graph(workflow)
    file_order = {tid: i for i, tid in enumerate(workflow.tasks)}
    waves = dag.waves(ordering, file_order)
    routes = {
        tid: _route(workflow, validated, prices, tid, (learned or {}).get(tid))
        for tid in file_order
    }
    settings = {tid: workflow.effective(task) for tid, task in workflow.tasks.items()}
    seconds = {
        tid: _seconds(prices, routes[tid].model, settings[tid].max_tokens or 0)
        for tid in file_order
    }
    durations = durations or {}
    weights = {t: durations[t].seconds for t in durations if t in seconds}
    remaining = dag.remaining_seconds(ordering, waves, {**seconds, **weights})
    critical = dag.critical_path(ordering, remaining)
    keys, topics = _names_read(workflow)
    timing = {tid: (tid, file_order[tid], wave, seconds[tid], remaining[tid], durations.get(tid))
              for wave, ids in enumerate(waves) for tid in ids}  # fmt: skip
    plan = Plan(
        name=workflow.name,
        file=workflow.path,
        file_hash=workflow.source.text_hash,
        inputs=values,
        waves=waves,
        critical_path=critical,
        critical_path_seconds=remaining[critical[0]] if critical else 0.0,
        tasks={
            tid: _task(workflow, validated, routes[tid], settings[tid], when)
            for tid, when in timing.items()
        },
        agents=catalog.agents,
        budget=budget or workflow.budget,
        concurrency=workflow.concurrency,
        routing=workflow.routing,
        ask=workflow.ask,
        workspace=workflow.workspace,
        workspace_allow=workflow.workspace_allow,
        state_keys_read=keys,
        topics_read=topics,
    )
    return replace(plan, estimate=estimate_plan(plan, prices)) if estimate else plan


@dataclass(frozen=True)
class _Route:
    """A task's model choice, with the model ids resolved."""

    choice: ModelChoice
    model: str  # the model it starts on
    escalate: tuple[str, ...]
    classifier: str | None  # routing.classifier's model, when it picks this task's tier


def _route(
    workflow: Workflow,
    validated: ValidatedWorkflow,
    prices: PriceTable,
    tid: str,
    learned: LearnedStart | None,
) -> _Route:
    """The task's model choice, moved up its chain by what adaptive routing learned."""
    choice = validated.models[tid]
    if learned is not None:
        choice = choice.starting_at(learned.start, learned.why)
    classifier = workflow.routing.classifier if choice.tier is not None else None
    return _Route(
        choice,
        prices.resolve(choice.model),
        tuple(prices.resolve(m) for m in choice.chain),
        prices.resolve(classifier) if classifier else None,
    )


def _seconds(prices: PriceTable, model: str, max_out: int) -> float:
    """A task's expected duration: a fixed latency, then its expected output at the
    typical speed of its model's tier."""
    speed = TOKENS_PER_SECOND.get(prices.price(model).tier, 80.0)
    return BASE_LATENCY_SECONDS + math.ceil(max_out * EXPECTED_OUTPUT_FRACTION) / speed


def _task(
    workflow: Workflow,
    validated: ValidatedWorkflow,
    route: _Route,
    settings: Settings,
    when: tuple[str, int, int, float, float, LearnedDuration | None],
) -> PlannedTask:
    """`when`: the task's id, its place in the file, its wave, its expected duration, the
    longest path from it to the end, and its learned duration."""
    tid, position, wave, seconds, remaining, learned = when
    task = workflow.tasks[tid]
    pick, selection = validated.picks[tid], validated.tools[tid]
    agent = pick.agent
    keys, topics = subscriptions(task)
    return PlannedTask(
        id=tid,
        position=position,
        wave=wave,
        needs=task.needs,
        prompt=task.prompt,
        output_schema=task.output_schema,
        checks=task.checks,
        agent=agent.name if agent else None,
        system=agent.system_prompt if agent else "",
        agent_description=agent.description if agent else "",
        agent_score=pick.score,
        agent_matched=pick.matched,
        agent_weak=pick.weak,
        model=route.model,
        model_reason=route.choice.reason,
        tier=route.choice.tier.tier if route.choice.tier else None,
        escalate=route.escalate,
        classifier=route.classifier,
        max_tokens=settings.max_tokens or 0,
        timeout=settings.timeout or 0.0,
        attempts=1 + (settings.retries or 0),
        tools=selection.tools,
        # A loop's turns at most; a task without tools makes one call.
        max_turns=max_turns(workflow, task, agent) if selection.tools else 1,
        waits_for=task.waits_for,
        sets=task.sets,
        subscribed_keys=keys,
        subscribed_topics=topics,
        est_seconds=seconds,
        remaining_seconds=remaining,
        learned=learned,
    )


def _names_read(workflow: Workflow) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(state keys, topics) the workflow's tasks read: in prompts, waits_for, subscribe."""
    keys: dict[str, None] = {}
    topics: dict[str, None] = {}
    for task in workflow.tasks.values():
        keys.update(dict.fromkeys(_refs(task, "state")))
        topics.update(dict.fromkeys(_refs(task, "messages")))
        keys.update(dict.fromkeys(task.waits_for))
        subscribed_keys, subscribed_topics = subscriptions(task)
        keys.update(dict.fromkeys(subscribed_keys))
        topics.update(dict.fromkeys(subscribed_topics))
    return tuple(keys), tuple(topics)


def _refs(task: TaskSpec, kind: str) -> list[str]:
    refs, _ = parse_template(task.prompt)
    return [ref.name for ref in refs if ref.kind == kind]

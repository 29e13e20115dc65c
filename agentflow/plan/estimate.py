"""What a plan's tasks will cost: tokens and dollars, expected and in the worst case, and
whether the worst case fits the budget. Documented in README.md:

- input tokens: the prompt with inputs filled, plus the agent's system prompt: estimated
  by `agentflow.tokens` for the expected cost, bounded by their UTF-8 bytes for the worst
  case (a token is at least a byte, so the bound holds whatever the text, as the run's
  reservations do); each `{{ tasks.X.* }}` reference adds X's expected output (for the
  expected cost) or X's `max_tokens` (for the worst case);
- output tokens: `max_tokens` in the worst case, EXPECTED_OUTPUT_FRACTION of it expected;
- worst-case cost: every attempt (1 + retries) at worst-case input and output, each input
  token at the dearest rate it can be billed (a prompt-cache write), on every model of an
  escalate chain; a tool-use loop's turns each the size of the first.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from agentflow.plan.model import Estimate, Plan, PlannedTask, TaskEstimate
from agentflow.prices import PriceTable, Usage
from agentflow.routing.classifier import CLASSIFY_MAX_TOKENS, CLASSIFY_RETRIES
from agentflow.routing.classifier import SYSTEM as CLASSIFIER_SYSTEM
from agentflow.spec.templates import (
    RenderContext,
    filled_length,
    parse_template,
    render_template,
)
from agentflow.tokens import (
    REQUEST_OVERHEAD_TOKENS,
    bound_request_tokens,
    bound_tokens,
    estimate_tokens,
    estimate_tokens_batch,
    fewer_tokens_than,
)

EXPECTED_OUTPUT_FRACTION = 0.5
FILLED_SLACK_CHARS = 4096  # what filling inputs may add to a prompt counted as filled


def estimate_plan(plan: Plan, prices: PriceTable) -> Estimate:
    """Every task's estimate, in plan order (prompt-cache writes go to the first user of a
    prefix), and the budget check: walking the plan as a run would reserve it."""
    own_tokens = _own_input_tokens(plan)
    own_bounds = _own_input_bounds(plan)
    expected_out: dict[str, int] = {}
    worst_out: dict[str, int] = {}
    cached_prefixes: set[tuple[str, str]] = set()
    drafts: dict[str, TaskEstimate] = {}
    for tid, task in plan.tasks.items():
        max_out = task.max_tokens
        expected_out[tid] = math.ceil(max_out * EXPECTED_OUTPUT_FRACTION)
        worst_out[tid] = max_out
        est_in, _ = _input_tokens(task, own_tokens[tid], (expected_out, worst_out))
        _, max_in = _input_tokens(task, own_bounds[tid], (expected_out, worst_out))
        drafts[tid] = _task_estimate(plan, task, prices, (est_in, max_in), cached_prefixes)
    uncovered = _uncovered(plan, drafts)
    tasks = {tid: _covered(estimate, tid not in uncovered) for tid, estimate in drafts.items()}
    return Estimate(
        tasks=tasks,
        cost_usd=sum(t.cost_usd for t in tasks.values()),
        max_cost_usd=sum(t.max_cost_usd for t in tasks.values()),
        fits=not uncovered,
        uncovered=tuple(uncovered),
    )


def _task_estimate(
    plan: Plan,
    task: PlannedTask,
    prices: PriceTable,
    input_tokens: tuple[int, int],
    cached_prefixes: set[tuple[str, str]],
) -> TaskEstimate:
    est_in, max_in = input_tokens
    max_out = task.max_tokens
    est_out = math.ceil(max_out * EXPECTED_OUTPUT_FRACTION)
    per_attempt = sum(
        max_in * prices.worst_input_rate(m) + max_out * prices.price(m).output / 1e6
        for m in task.escalate or _candidates(plan, task, prices)
    )
    expected = _expected_usage(task, prices, est_in, est_out, cached_prefixes)
    # A loop's worst case is every turn at the first turn's size (a lower bound: turns
    # grow with tool results); the run reserves each turn's real worst case before it.
    turns = task.max_turns
    return TaskEstimate(
        input_tokens=est_in,
        max_input_tokens=max_in,
        output_tokens=est_out,
        max_output_tokens=max_out,
        cost_usd=prices.cost(task.model, expected),
        max_cost_per_attempt_usd=per_attempt,
        max_cost_usd=per_attempt * task.attempts * turns + _classifier_worst(task, max_in, prices),
        max_tokens_total=(max_in + max_out) * task.attempts * max(1, len(task.escalate)) * turns,
        cache_write_tokens=expected.cache_creation_input_tokens,
        cache_read_tokens=expected.cache_read_input_tokens,
        budget_covered=True,
    )


def _covered(estimate: TaskEstimate, covered: bool) -> TaskEstimate:
    return estimate if covered else replace(estimate, budget_covered=False)


def _own_input_tokens(plan: Plan) -> dict[str, int]:
    """Each task's input tokens before upstream outputs are added: prompt and system.
    A prompt whose inputs make it much larger than it is (an input of 100 KB read 100
    times by each of many tasks: far more text than the file) is not filled to be
    counted: its inputs' tokens are added once per reference instead, one more each for
    where it joins the text (an over-count, like every estimate here)."""
    ids = list(plan.tasks)
    prompts = [plan.tasks[tid].prompt for tid in ids]
    cheap = [
        filled_length(prompt, plan.inputs) <= 2 * len(prompt) + FILLED_SLACK_CHARS
        for prompt in prompts
    ]
    counted = estimate_tokens_batch(
        [
            render_template(prompt, RenderContext(plan.inputs if fill else {}, {}, {}))
            for prompt, fill in zip(prompts, cheap, strict=True)
        ]
    )
    inputs = {name: estimate_tokens(value) + 1 for name, value in plan.inputs.items()}
    systems = {task.system for task in plan.tasks.values() if task.system}
    system_tokens = {text: estimate_tokens(text) for text in systems}
    return {
        tid: counted[i]
        + (0 if cheap[i] else _input_refs_tokens(prompts[i], inputs))
        + system_tokens.get(plan.tasks[tid].system, 0)
        + REQUEST_OVERHEAD_TOKENS
        for i, tid in enumerate(ids)
    }


def _own_input_bounds(plan: Plan) -> dict[str, int]:
    """Each task's most input tokens before upstream outputs are added: its bytes. The
    prompt is not filled (its inputs could make it huge): each input reference adds the
    input's bytes to the template's own (whose reference text over-counts a little)."""
    inputs = {name: bound_tokens(value) for name, value in plan.inputs.items()}
    return {
        tid: bound_request_tokens(task.system, [task.prompt])
        + _input_refs_tokens(task.prompt, inputs)
        for tid, task in plan.tasks.items()
    }


def _input_refs_tokens(prompt: str, inputs: Mapping[str, int]) -> int:
    refs, _ = parse_template(prompt)
    return sum(inputs.get(ref.name, 0) for ref in refs if ref.kind == "input")


def _input_tokens(
    task: PlannedTask, own: int, upstream: tuple[Mapping[str, int], Mapping[str, int]]
) -> tuple[int, int]:
    """Input tokens of the task with its dependencies' outputs guessed as expected, then
    at their worst."""
    refs, _ = parse_template(task.prompt)
    task_refs = [r.name for r in refs if r.kind != "input"]
    expected, worst = (own + sum(out.get(name, 0) for name in task_refs) for out in upstream)
    return expected, worst


def _classifier_worst(task: PlannedTask, max_in: int, prices: PriceTable) -> float:
    """What asking routing.classifier may cost (its attempts, an over-estimate of input)."""
    if task.classifier is None:
        return 0.0
    tokens_in = max_in + bound_tokens(CLASSIFIER_SYSTEM)
    one = tokens_in * prices.worst_input_rate(task.classifier)
    one += CLASSIFY_MAX_TOKENS * prices.price(task.classifier).output / 1e6
    return one * (CLASSIFY_RETRIES + 1)


def _candidates(plan: Plan, task: PlannedTask, prices: PriceTable) -> tuple[str, ...]:
    """The model a task may run on; with routing.classifier an auto task may get any tier's
    model, so its worst case is the dearest of them (the classifier call is priced apart)."""
    if task.classifier is None:
        return (task.model,)
    dearest = max(
        (prices.resolve(m) for m in plan.routing.tiers.values()),
        key=lambda m: prices.price(m).output,
    )
    return (dearest,)


def _expected_usage(
    task: PlannedTask,
    prices: PriceTable,
    est_in: int,
    est_out: int,
    cached_prefixes: set[tuple[str, str]],
) -> Usage:
    """Expected usage with prompt caching as a run does it: the first task of each long
    enough (model, system prompt) prefix writes the cache, the others read it."""
    system, model = task.system, task.model
    if not system or fewer_tokens_than(system, prices.price(model).min_cache_tokens):
        return Usage(input_tokens=est_in, output_tokens=est_out)
    prefix_tokens = estimate_tokens(system)
    rest = max(0, est_in - prefix_tokens)
    if (model, system) in cached_prefixes:
        return Usage(rest, est_out, cache_read_input_tokens=prefix_tokens)
    cached_prefixes.add((model, system))
    return Usage(rest, est_out, cache_creation_input_tokens=prefix_tokens)


def _uncovered(plan: Plan, drafts: Mapping[str, TaskEstimate]) -> list[str]:
    """Walk the plan in order, as a run would reserve it, and name what no longer fits."""
    usd_cap, token_cap = plan.budget.usd, plan.budget.tokens
    spent_usd, spent_tokens = 0.0, 0
    uncovered: list[str] = []
    for tid, draft in drafts.items():
        usd = spent_usd + draft.max_cost_usd
        tokens = spent_tokens + draft.max_tokens_total
        if (usd_cap is not None and usd > usd_cap) or (
            token_cap is not None and tokens > token_cap
        ):
            uncovered.append(tid)
            continue
        spent_usd, spent_tokens = usd, tokens
    return uncovered

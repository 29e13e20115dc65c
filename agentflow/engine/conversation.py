"""The tool-use loop: call the model, run the tools it asks for, send the results back,
until it answers (`end_turn`) or runs out of turns.

Each turn is one `run_attempts` call: its own retries, usage, cost and budget
reservation. Each turn is also cached on its own, keyed by the whole conversation so far:
a re-run replays the tools (so shared state is set again and files are read afresh) and
pays only for turns whose conversation changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from agentflow.engine.attempts import Judge, Outcome, cacheable, parse_structured, run_attempts
from agentflow.engine.cache import CachedAnswer, request_hash
from agentflow.engine.context import RunContext
from agentflow.engine.ledger import Cost, Reservation
from agentflow.engine.results import Attempt
from agentflow.engine.retry import RetryPolicy
from agentflow.guard.redact import redact
from agentflow.prices import Usage
from agentflow.providers.base import ModelRequest, ModelResponse, ProviderError
from agentflow.tools.base import Tool, ToolCall, ToolContext, ToolResult

# Every tool result (and note) is cut to this many characters before it goes back to the
# model: one huge result would otherwise make every later turn expensive.
MAX_RESULT_CHARS = 50_000


@dataclass
class ConversationResult:
    """What a conversation did (beyond the attempts, which are charged as they happen)."""

    outcome: Outcome | None = None
    turns: int = 0  # model turns answered, by the API or by the cache
    tool_calls: int = 0
    cached_turns: int = 0
    saved_usage: Usage = Usage()
    saved_usd: float = 0.0


@dataclass(frozen=True)
class TurnSettings:
    tools: Mapping[str, Tool]
    max_turns: int
    attempts: int  # per turn: 1 + retries
    accept: Judge | None = None  # judges the answer
    notes: Callable[[], list[str]] | None = None  # news for the speaker before a turn
    purpose: str = "answer"  # recorded on each attempt: "answer", or "ask:AGENT"
    tool_timeout: float = 60.0  # seconds one tool call may take; ask_agent has its own


class TurnBudget:
    """A turn's reservation: `open` before the turn (None: it does not fit), `close` after."""

    def open(self, worst: Cost) -> Reservation | None:
        raise NotImplementedError

    def close(self, reservation: Reservation) -> None:
        raise NotImplementedError


Charge = Callable[[Reservation, Attempt], None]


class Conversation:
    def __init__(self, ctx: RunContext, *, charge: Charge) -> None:
        self.ctx = ctx
        self.charge = charge  # takes each attempt's cost from the turn's reservation

    async def run(
        self,
        request: ModelRequest,
        settings: TurnSettings,
        budget: TurnBudget,
        context: ToolContext,
    ) -> ConversationResult:
        """The conversation of `context.caller` (a task, or an agent answering an ask),
        charged to `context.task_id`."""
        talk = ConversationResult()
        specs = tuple(tool.spec.to_api() for tool in settings.tools.values())
        history: list[dict[str, Any]] = []
        context.log.add(
            "agentflow",
            context.caller,
            "message",
            {**_said("user", 1, request.prompt), "system": request.system},
            context.task_id,
        )
        while True:
            turn = talk.turns + 1
            self._add_notes(history, turn, settings, context)
            turn_request = replace(
                request,
                history=tuple(history),
                tools=specs,
                cache_history=self.ctx.options.prompt_cache,
            )
            response = await self._turn(turn_request, turn, talk, settings, budget)
            if response is None:
                return talk
            talk.turns = turn
            context.log.add(
                context.caller,
                "agentflow",
                "message",
                {**_said("assistant", turn, response.text), "stop_reason": response.stop_reason},
                context.task_id,
            )
            calls = response.tool_uses() if response.stop_reason == "tool_use" else []
            if not calls:
                return talk
            if turn >= settings.max_turns:
                talk.outcome = Outcome(
                    False,
                    (),
                    error=(
                        f"max_turns: stopped after {turn} turns, the model was still calling "
                        "tools (raise max_turns, or ask for an answer sooner in the prompt)"
                    ),
                    error_kind="max_turns",
                )
                return talk
            history.append({"role": "assistant", "content": [dict(b) for b in response.content]})
            results = await self._run_tools(calls, turn, settings, context)
            talk.tool_calls += len(calls)
            history.append({"role": "user", "content": [r.to_api() for r in results]})

    def _add_notes(
        self,
        history: list[dict[str, Any]],
        turn: int,
        settings: TurnSettings,
        context: ToolContext,
    ) -> None:
        """News since the last turn, as a text block after the tool results."""
        notes = settings.notes() if settings.notes is not None and turn > 1 else []
        if not notes:
            return
        history[-1]["content"].append({"type": "text", "text": _notes_text(notes)})
        context.log.add(
            "agentflow",
            context.caller,
            "message",
            {**_said("user", turn, ""), "notes": notes},
            context.task_id,
        )

    async def _turn(
        self,
        request: ModelRequest,
        turn: int,
        talk: ConversationResult,
        settings: TurnSettings,
        budget: TurnBudget,
    ) -> ModelResponse | None:
        """One model turn, from the cache or the API; None when the loop must end (the
        outcome says why)."""
        ctx = self.ctx
        key = request_hash(ctx.provider.name, request)
        hit = ctx.cache.lookup(key)
        if hit is not None:
            response = hit.as_response()
            talk.cached_turns += 1
            talk.saved_usage = talk.saved_usage + hit.usage
            if ctx.prices.knows(hit.model):
                talk.saved_usd += ctx.prices.cost(hit.model, hit.usage)
            talk.outcome = Outcome(
                True, (), hit.text, _document(request, response), response=response
            )
            return response
        worst = ctx.worst_attempt(request)
        reservation = budget.open(worst * settings.attempts)
        if reservation is None:
            talk.outcome = Outcome(
                False,
                (),
                error=f"budget: turn {turn} no longer fits (up to ${worst.usd:.4f} each try)",
                error_kind="budget",
            )
            return None
        try:
            outcome = await run_attempts(
                ctx,
                request,
                policy=RetryPolicy(settings.attempts - 1, base_delay=ctx.options.retry_base_delay),
                on_attempt=lambda a: self.charge(reservation, replace(a, purpose=settings.purpose)),
                may_retry=lambda: reservation.held.covers(worst),
                accept=_turn_judge(settings.accept),
            )
        finally:
            budget.close(reservation)
        talk.outcome = outcome
        if not outcome.ok or outcome.response is None:
            return None
        if cacheable(outcome.response):
            answer = CachedAnswer.of(
                outcome.response, outcome.document, model=request.model, turn=True
            )
            ctx.cache.store(key, answer)
        return outcome.response

    async def _run_tools(
        self,
        calls: list[Mapping[str, Any]],
        turn: int,
        settings: TurnSettings,
        context: ToolContext,
    ) -> list[ToolResult]:
        return list(
            await asyncio.gather(*(_run_tool(block, turn, settings, context) for block in calls))
        )


async def _run_tool(
    block: Mapping[str, Any], turn: int, settings: TurnSettings, context: ToolContext
) -> ToolResult:
    log = context.log
    raw = block.get("input")
    tool_input = dict(raw) if isinstance(raw, Mapping) else {}
    call = ToolCall(str(block.get("id")), str(block.get("name")), tool_input)
    payload = {"id": call.id, "name": call.name, "input": raw if raw is not None else {}}
    log.add(context.caller, call.name, "tool_call", {**payload, "turn": turn}, context.task_id)
    tool = settings.tools.get(call.name)
    if tool is None:
        offered = ", ".join(settings.tools) or "none"
        result = ToolResult(call.id, f"no tool named {call.name!r} (tools: {offered})", True)
    elif raw is not None and not isinstance(raw, Mapping):
        kind = type(raw).__name__
        result = ToolResult(
            call.id, f"the input of {call.name} must be a JSON object, not {kind}", True
        )
    else:
        result = await _call_tool(tool, call, context, settings.tool_timeout)
    # A tool result quoting a secret of the environment (an API key in a file) reaches
    # neither the model nor the records with it.
    result = _cut(replace(result, content=redact(result.content)))
    log.add(
        call.name,
        context.caller,
        "tool_result",
        {"id": call.id, "name": call.name, "content": result.content, "is_error": result.is_error},
        context.task_id,
    )
    return result


async def _call_tool(
    tool: Tool, call: ToolCall, context: ToolContext, seconds: float
) -> ToolResult:
    """The tool's result; an error result when it fails or takes longer than `seconds`
    (ask_agent is bounded by `ask.timeout` instead)."""
    limit = None if call.name == "ask_agent" else seconds
    try:
        return await asyncio.wait_for(tool.run(call, context), timeout=limit)
    except TimeoutError:
        return ToolResult(call.id, f"{call.name} did not finish within {seconds:g} s", True)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - a tool's bug is the model's error result
        return ToolResult(call.id, f"{call.name} failed: {type(exc).__name__}: {exc}", True)


def _said(role: str, turn: int, text: str) -> dict[str, Any]:
    return {"role": role, "turn": turn, "text": text}


def _notes_text(notes: list[str]) -> str:
    return "Since your last turn:\n" + "\n".join(f"- {note}" for note in notes)


def _turn_judge(accept: Judge | None) -> Judge | None:
    if accept is None:
        return None  # run_attempts' own rule: empty answers and refusals fail

    def judge(response: ModelResponse, document: Any) -> str | None:
        if response.stop_reason == "tool_use" and response.tool_uses():
            return None  # not the answer yet: the checks judge the last turn
        return accept(response, document) if accept is not None else None

    return judge


def _document(request: ModelRequest, response: ModelResponse) -> Any:
    if request.output_schema is None or response.stop_reason == "tool_use":
        return None
    try:
        return parse_structured(response.text, request.output_schema)
    except ProviderError:
        return None


def _cut(result: ToolResult) -> ToolResult:
    if len(result.content) <= MAX_RESULT_CHARS:
        return result
    note = f"\n[cut: {len(result.content):,} characters, the first {MAX_RESULT_CHARS:,} shown]"
    return replace(result, content=result.content[:MAX_RESULT_CHARS] + note)

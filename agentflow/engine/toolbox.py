"""One task's tools, and the ask_agent sub-calls they make.

A `TaskToolbox` serves one task: it builds the tools the task may call and answers its
ask_agent requests with sub-conversations charged to that task, within the depth limit and
the timeout. The budget of each turn comes from a `TurnBudget`: the task's own turns share
its one reservation, sub-calls (several may run at once) each reserve their own.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import replace

from agentflow.engine.context import RunContext
from agentflow.engine.conversation import Conversation, ConversationResult, TurnBudget, TurnSettings
from agentflow.engine.ledger import ZERO, BudgetLedger, Cost, Reservation
from agentflow.providers.base import ModelRequest
from agentflow.routing.tools import DEFAULT_MAX_TURNS, agent_max_turns, split_tools
from agentflow.spec.agents import Agent
from agentflow.tools.ask import AskAgentTool
from agentflow.tools.base import Tool, ToolContext, ToolError, ToolSpec
from agentflow.tools.files import file_tools
from agentflow.tools.state import state_tools


class TaskTurnBudget(TurnBudget):
    """A task's own turns: its one reservation, resized to each turn's worst case (the
    turns come one after another) and emptied after it, so that while the tools run (an
    ask_agent sub-call reserving its own turns, say) nothing is held that is not needed."""

    def __init__(self, ledger: BudgetLedger, reservation: Reservation) -> None:
        self.ledger, self.reservation = ledger, reservation

    def open(self, worst: Cost) -> Reservation | None:
        return self.reservation if self.ledger.resize(self.reservation, worst) else None

    def close(self, reservation: Reservation) -> None:
        self.ledger.resize(reservation, ZERO)  # shrinking always succeeds


class SubCallTurnBudget(TurnBudget):
    """An ask_agent sub-call's turns: several may run at once, so each has its own."""

    def __init__(self, ledger: BudgetLedger, task_id: str) -> None:
        self.ledger, self.task_id = ledger, task_id

    def open(self, worst: Cost) -> Reservation | None:
        return self.ledger.reserve(self.task_id, worst)

    def close(self, reservation: Reservation) -> None:
        self.ledger.release(reservation)


class _WithExamples:
    """A tool whose fields list the keys or topics the workflow uses, as examples: they tell
    the model which names matter (and give the simulate provider names to call with)."""

    def __init__(self, tool: Tool, examples: Mapping[str, Sequence[str]]) -> None:
        schema = dict(tool.spec.input_schema)
        properties = dict(schema.get("properties", {}))
        for name, values in examples.items():
            properties[name] = {**properties.get(name, {}), "examples": list(values)}
        schema["properties"] = properties
        self.spec = ToolSpec(tool.spec.name, tool.spec.description, schema)
        self.run = tool.run


class TaskToolbox:
    def __init__(
        self, ctx: RunContext, conversation: Conversation, *, task_id: str, base: ModelRequest
    ) -> None:
        self.ctx, self.conversation = ctx, conversation
        self.task_id, self.base = task_id, base  # base: the asking task's request

    def tools(
        self, names: Sequence[str], examples: Mapping[str, Mapping[str, Sequence[str]]]
    ) -> dict[str, Tool]:
        """The tools called `names` (canonical), in that order; `examples` gives example
        values by tool and field (see Collaboration.field_examples)."""
        collab = self.ctx.collab
        available: dict[str, Tool] = {
            **file_tools(collab.workspace),
            **state_tools(collab.state, collab.bus),
            "ask_agent": AskAgentTool(sorted(collab.agents), self.ask),
        }
        chosen: dict[str, Tool] = {}
        for name in names:
            tool = available.get(name)
            if tool is None:
                continue
            wanted = {field: values for field, values in examples.get(name, {}).items() if values}
            chosen[name] = _WithExamples(tool, wanted) if wanted else tool
        return chosen

    async def ask(self, context: ToolContext, name: str, question: str) -> str:
        collab = self.ctx.collab
        if context.depth >= collab.ask.max_depth:
            raise ToolError(
                f"ask_agent refused: the depth limit ({collab.ask.max_depth}) is reached; "
                "answer with what you know"
            )
        agent = collab.agents.get(name)
        if agent is None:
            raise ToolError(_unknown_agent(name, collab.agents))
        depth = context.depth + 1
        answering = ToolContext(self.task_id, name, collab.log, depth, f"agent:{name}")
        question_payload = {"agent": name, "question": question, "depth": depth}
        collab.log.add(context.caller, answering.caller, "request", question_payload, self.task_id)
        try:
            answer = await asyncio.wait_for(
                self._answer(agent, question, answering), timeout=collab.ask.timeout
            )
        except TimeoutError:
            answer = ToolError(f"agent {name!r} did not answer within {collab.ask.timeout:g}s")
        ok = not isinstance(answer, ToolError)
        collab.log.add(
            answering.caller,
            context.caller,
            "response",
            {"agent": name, "answer": str(answer), "is_error": not ok},
            self.task_id,
        )
        if isinstance(answer, ToolError):
            raise answer
        return answer

    async def _answer(self, agent: Agent, question: str, context: ToolContext) -> str | ToolError:
        ctx = self.ctx
        model = self._model(agent)
        request = replace(
            self.base,
            model=model,
            system=agent.system_prompt,
            prompt=question,
            output_schema=None,
            cache_system=ctx.worth_caching(model, agent.system_prompt),
            history=(),
            tools=(),
        )
        settings = TurnSettings(
            tools=self.tools(split_tools(agent.tools)[0], ctx.collab.field_examples()),
            max_turns=agent_max_turns(agent) or DEFAULT_MAX_TURNS,
            attempts=ctx.attempts(self.task_id),
            purpose=f"ask:{agent.name}",
            tool_timeout=ctx.options.tool_timeout,
        )
        talk: ConversationResult = await self.conversation.run(
            request, settings, SubCallTurnBudget(ctx.ledger, self.task_id), context
        )
        outcome = talk.outcome
        if outcome is None or not outcome.ok:
            why = outcome.error if outcome is not None else "no answer"
            return ToolError(f"agent {agent.name!r} could not answer: {why}")
        return outcome.text or ""

    def _model(self, agent: Agent) -> str:
        """The agent's own model when it names one we can price; the asker's otherwise."""
        prices = self.ctx.prices
        if agent.model and agent.model != "inherit" and prices.knows(agent.model):
            return prices.resolve(agent.model)
        return self.base.model


def _unknown_agent(name: str, agents: Mapping[str, Agent]) -> str:
    close = difflib.get_close_matches(name, list(agents), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    names = ", ".join(sorted(agents)[:20]) or "none"
    return f"no agent named {name!r}{hint} (agents: {names})"

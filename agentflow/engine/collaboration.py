"""What the tasks of one run share to work together: the message log, the shared state,
the notification bus, the workspace, and `ask_agent` sub-calls.

A `Desk` serves one task: it builds the task's tools and answers its ask_agent requests
with sub-conversations charged to that task, within the depth limit and the timeout.
"""

from __future__ import annotations

import asyncio
import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from agentflow.engine.budget import Budget, Cost, Reservation
from agentflow.engine.conversation import Conversation, Speaker, TurnBudget, TurnSettings
from agentflow.models import PriceTable
from agentflow.providers.base import ModelRequest
from agentflow.spec.agents import Agent, AgentCatalog
from agentflow.spec.workflow import AskSettings
from agentflow.tools.ask import AskAgentTool
from agentflow.tools.base import EventLog, Tool, ToolContext, ToolError, ToolSpec
from agentflow.tools.files import Workspace, file_tools
from agentflow.tools.selection import DEFAULT_MAX_TURNS, agent_max_turns, split_tools
from agentflow.tools.state import MessageBus, SharedState, state_tools


@dataclass
class Collaboration:
    log: EventLog
    state: SharedState
    bus: MessageBus
    workspace: Workspace
    catalog: AgentCatalog
    ask: AskSettings

    @classmethod
    def start(cls, workspace: Workspace, catalog: AgentCatalog, ask: AskSettings) -> Collaboration:
        log = EventLog()
        return cls(log, SharedState(log), MessageBus(log), workspace, catalog, ask)


class TaskTurns(TurnBudget):
    """A task's own turns: its one reservation, resized to each turn's worst case (the
    turns come one after another), released when the task ends."""

    def __init__(self, budget: Budget, reservation: Reservation) -> None:
        self.budget, self.reservation = budget, reservation

    def open(self, worst: Cost) -> Reservation | None:
        return self.reservation if self.budget.resize(self.reservation, worst) else None

    def close(self, reservation: Reservation) -> None:
        return None


class SubCallTurns(TurnBudget):
    """An ask_agent sub-call's turns: several may run at once, so each has its own."""

    def __init__(self, budget: Budget, task_id: str) -> None:
        self.budget, self.task_id = budget, task_id

    def open(self, worst: Cost) -> Reservation | None:
        return self.budget.reserve(self.task_id, worst)

    def close(self, reservation: Reservation) -> None:
        self.budget.release(reservation)


class _Keyed:
    """A state tool whose `key` field lists the keys this task declared, as examples."""

    def __init__(self, tool: Tool, keys: Sequence[str]) -> None:
        schema = dict(tool.spec.input_schema)
        properties = dict(schema.get("properties", {}))
        properties["key"] = {**properties.get("key", {}), "examples": list(keys)}
        schema["properties"] = properties
        self.spec = ToolSpec(tool.spec.name, tool.spec.description, schema)
        self.run = tool.run


@dataclass(frozen=True)
class DeskSettings:
    attempts: int  # per turn
    retry_base_delay: float
    prompt_cache: bool
    worth_caching: Callable[[str, str], bool]  # (model, system) -> a system breakpoint pays


class Desk:
    def __init__(
        self,
        collab: Collaboration,
        conversation: Conversation,
        prices: PriceTable,
        budget: Budget,
        settings: DeskSettings,
        task_id: str,
        base: ModelRequest,
    ) -> None:
        self.collab, self.conversation, self.prices = collab, conversation, prices
        self.budget, self.settings, self.task_id, self.base = budget, settings, task_id, base

    def tools(
        self, names: Sequence[str], keys: Mapping[str, Sequence[str]] | None = None
    ) -> dict[str, Tool]:
        """The tools called `names` (canonical), in that order; `keys` gives example state
        keys for set_state / get_state."""
        collab = self.collab
        available: dict[str, Tool] = {
            **file_tools(collab.workspace),
            **state_tools(collab.state, collab.bus),
            "ask_agent": AskAgentTool(sorted(collab.catalog.agents), self.ask),
        }
        chosen: dict[str, Tool] = {}
        for name in names:
            tool = available.get(name)
            if tool is None:
                continue
            examples = (keys or {}).get(name)
            chosen[name] = _Keyed(tool, examples) if examples else tool
        return chosen

    async def ask(self, context: ToolContext, name: str, question: str) -> str:
        collab, log = self.collab, self.collab.log
        if context.depth >= collab.ask.max_depth:
            raise ToolError(
                f"ask_agent refused: the depth limit ({collab.ask.max_depth}) is reached; "
                "answer with what you know"
            )
        agent = collab.catalog.agents.get(name)
        if agent is None:
            raise ToolError(_unknown_agent(name, collab.catalog))
        depth = context.depth + 1
        speaker = Speaker(self.task_id, f"agent:{name}", name, depth)
        log.add(
            context.caller,
            speaker.name,
            "request",
            {"agent": name, "question": question, "depth": depth},
            self.task_id,
        )
        try:
            answer = await asyncio.wait_for(
                self._answer(agent, question, speaker), timeout=collab.ask.timeout
            )
        except TimeoutError:
            answer = ToolError(f"agent {name!r} did not answer within {collab.ask.timeout:g}s")
        ok = not isinstance(answer, ToolError)
        log.add(
            speaker.name,
            context.caller,
            "response",
            {"agent": name, "answer": str(answer), "is_error": not ok},
            self.task_id,
        )
        if isinstance(answer, ToolError):
            raise answer
        return answer

    async def _answer(self, agent: Agent, question: str, speaker: Speaker) -> str | ToolError:
        model = self._model(agent)
        request = replace(
            self.base,
            model=model,
            system=agent.system_prompt,
            prompt=question,
            output_schema=None,
            cache_system=self.settings.worth_caching(model, agent.system_prompt),
            history=(),
            tools=(),
        )
        settings = TurnSettings(
            tools=self.tools(split_tools(agent.tools)[0]),
            max_turns=agent_max_turns(agent) or DEFAULT_MAX_TURNS,
            attempts=self.settings.attempts,
            retry_base_delay=self.settings.retry_base_delay,
            prompt_cache=self.settings.prompt_cache,
        )
        context = ToolContext(
            self.task_id, agent.name, self.collab.log, speaker.depth, speaker.name
        )
        talk = await self.conversation.run(
            request,
            speaker,
            settings,
            SubCallTurns(self.budget, self.task_id),
            context,
            purpose=f"ask:{agent.name}",
        )
        outcome = talk.outcome
        if outcome is None or not outcome.ok:
            why = outcome.error if outcome is not None else "no answer"
            return ToolError(f"agent {agent.name!r} could not answer: {why}")
        return outcome.text or ""

    def _model(self, agent: Agent) -> str:
        """The agent's own model when it names one we can price; the asker's otherwise."""
        if agent.model and agent.model != "inherit" and self.prices.knows(agent.model):
            return self.prices.resolve(agent.model)
        return self.base.model


def _unknown_agent(name: str, catalog: AgentCatalog) -> str:
    close = difflib.get_close_matches(name, list(catalog.agents), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    names = ", ".join(sorted(catalog.agents)[:20]) or "none"
    return f"no agent named {name!r}{hint} (agents: {names})"


def key_examples(sets: Sequence[str], reads: Sequence[str]) -> dict[str, Any]:
    """Example keys for the state tools: what a task declared it sets and reads."""
    examples: dict[str, Any] = {}
    if sets:
        examples["set_state"] = list(sets)
    if reads or sets:
        examples["get_state"] = list(dict.fromkeys([*reads, *sets]))
    return examples

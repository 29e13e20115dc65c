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

from agentflow.engine.conversation import Conversation, TurnBudget, TurnSettings
from agentflow.engine.ledger import Budget, Cost, Reservation
from agentflow.events import EventLog
from agentflow.prices import PriceTable
from agentflow.providers.base import ModelRequest
from agentflow.routing.tools import (
    DEFAULT_MAX_TURNS,
    agent_max_turns,
    split_tools,
    subscriptions,
)
from agentflow.spec.agents import Agent, AgentCatalog
from agentflow.spec.templates import parse_template
from agentflow.spec.workflow import AskSettings, Workflow
from agentflow.tools.ask import AskAgentTool
from agentflow.tools.base import Tool, ToolContext, ToolError, ToolSpec
from agentflow.tools.files import Workspace, file_tools
from agentflow.tools.state import MessageBus, SharedState, state_tools


@dataclass
class Collaboration:
    log: EventLog
    state: SharedState
    bus: MessageBus
    workspace: Workspace
    catalog: AgentCatalog
    ask: AskSettings
    keys_read: tuple[str, ...] = ()  # state keys the workflow's tasks read
    topics_read: tuple[str, ...] = ()  # topics they read

    @classmethod
    def start(cls, workflow: Workflow, catalog: AgentCatalog) -> Collaboration:
        log = EventLog()
        keys, topics = names_read(workflow)
        workspace = Workspace(workflow.workspace)
        state, bus = SharedState(log), MessageBus(log)
        return cls(log, state, bus, workspace, catalog, workflow.ask, keys, topics)


class TaskTurns(TurnBudget):
    """A task's own turns: its one reservation, resized to each turn's worst case (the
    turns come one after another) and emptied after it, so that while the tools run (an
    ask_agent sub-call reserving its own turns, say) nothing is held that is not needed."""

    def __init__(self, budget: Budget, reservation: Reservation) -> None:
        self.budget, self.reservation = budget, reservation

    def open(self, worst: Cost) -> Reservation | None:
        return self.reservation if self.budget.resize(self.reservation, worst) else None

    def close(self, reservation: Reservation) -> None:
        self.budget.resize(reservation, Cost(0.0, 0))  # shrinking always succeeds


class SubCallTurns(TurnBudget):
    """An ask_agent sub-call's turns: several may run at once, so each has its own."""

    def __init__(self, budget: Budget, task_id: str) -> None:
        self.budget, self.task_id = budget, task_id

    def open(self, worst: Cost) -> Reservation | None:
        return self.budget.reserve(self.task_id, worst)

    def close(self, reservation: Reservation) -> None:
        self.budget.release(reservation)


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
        self, names: Sequence[str], examples: Mapping[str, Mapping[str, Sequence[str]]]
    ) -> dict[str, Tool]:
        """The tools called `names` (canonical), in that order; `examples` gives example
        values by tool and field (see `field_examples`)."""
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
            wanted = {field: values for field, values in examples.get(name, {}).items() if values}
            chosen[name] = _WithExamples(tool, wanted) if wanted else tool
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
        answering = ToolContext(self.task_id, name, log, depth, f"agent:{name}")
        log.add(
            context.caller,
            answering.caller,
            "request",
            {"agent": name, "question": question, "depth": depth},
            self.task_id,
        )
        try:
            answer = await asyncio.wait_for(
                self._answer(agent, question, answering), timeout=collab.ask.timeout
            )
        except TimeoutError:
            answer = ToolError(f"agent {name!r} did not answer within {collab.ask.timeout:g}s")
        ok = not isinstance(answer, ToolError)
        log.add(
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
            tools=self.tools(split_tools(agent.tools)[0], field_examples(self.collab)),
            max_turns=agent_max_turns(agent) or DEFAULT_MAX_TURNS,
            attempts=self.settings.attempts,
            retry_base_delay=self.settings.retry_base_delay,
            prompt_cache=self.settings.prompt_cache,
        )
        talk = await self.conversation.run(
            request,
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


def field_examples(
    collab: Collaboration, sets: Sequence[str] = (), reads: Sequence[str] = ()
) -> dict[str, dict[str, list[str]]]:
    """Example state keys and topics for the tools: what this task declared it sets and
    reads first, then what the workflow's tasks read anywhere."""
    keys = list(dict.fromkeys([*reads, *sets, *collab.keys_read]))
    return {
        "set_state": {"key": list(dict.fromkeys([*sets, *collab.keys_read]))},
        "get_state": {"key": keys},
        "notify": {"topic": list(collab.topics_read)},
    }


def names_read(workflow: Workflow) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(state keys, topics) the workflow's tasks read: in prompts, waits_for, subscribe."""
    keys: dict[str, None] = {}
    topics: dict[str, None] = {}
    for task in workflow.tasks.values():
        refs, _ = parse_template(task.prompt)
        keys.update((ref.name, None) for ref in refs if ref.kind == "state")
        topics.update((ref.name, None) for ref in refs if ref.kind == "messages")
        keys.update(dict.fromkeys(task.waits_for))
        subscribed_keys, subscribed_topics = subscriptions(task)
        keys.update(dict.fromkeys(subscribed_keys))
        topics.update(dict.fromkeys(subscribed_topics))
    return tuple(keys), tuple(topics)

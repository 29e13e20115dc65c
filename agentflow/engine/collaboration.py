"""What the tasks of one run share to work together: the message log, the shared state, the
notification bus, the workspace, and the agents an ask_agent call may reach."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from agentflow.events import EventLog
from agentflow.plan.model import Plan
from agentflow.spec.agents import Agent
from agentflow.spec.workflow import AskSettings
from agentflow.tools.files import Workspace
from agentflow.tools.state import MessageBus, SharedState


@dataclass
class Collaboration:
    log: EventLog
    state: SharedState
    bus: MessageBus
    workspace: Workspace
    agents: Mapping[str, Agent]
    ask: AskSettings
    keys_read: tuple[str, ...] = ()  # state keys the workflow's tasks read
    topics_read: tuple[str, ...] = ()  # topics they read

    @classmethod
    def start(cls, plan: Plan) -> Collaboration:
        log = EventLog()
        return cls(
            log,
            SharedState(log),
            MessageBus(log),
            Workspace(plan.workspace, allow=plan.workspace_allow),
            plan.agents,
            plan.ask,
            plan.state_keys_read,
            plan.topics_read,
        )

    def notes(self, task_id: str) -> list[str]:
        """News for a task before its next turn: state changes and messages it follows."""
        return self.state.take_notes(task_id) + self.bus.take_notes(task_id)

    def field_examples(
        self, sets: Sequence[str] = (), reads: Sequence[str] = ()
    ) -> dict[str, dict[str, list[str]]]:
        """Example state keys and topics for the tools: what a task declared it sets and
        reads first, then what the workflow's tasks read anywhere."""
        keys = list(dict.fromkeys([*reads, *sets, *self.keys_read]))
        return {
            "set_state": {"key": list(dict.fromkeys([*sets, *self.keys_read]))},
            "get_state": {"key": keys},
            "notify": {"topic": list(self.topics_read)},
        }

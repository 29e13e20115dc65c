"""Which model a task runs on, and why.

Order: the task's own `model`, else its agent's `model` (unless `inherit`), else
`defaults.model`, else `auto`. Until tiered routing lands, `auto` means the standard
tier, `sonnet`: a capable default that is never the most expensive choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentflow.spec.agents import Agent
from agentflow.spec.workflow import TaskSpec, Workflow

AUTO = "auto"
AUTO_DEFAULT = "sonnet"


@dataclass(frozen=True)
class ModelChoice:
    requested: str  # as written (alias, id or "auto")
    source: str  # "task", "agent", "defaults", "built-in default"
    model: str  # what will be asked for: an alias or id, never "auto"

    @property
    def reason(self) -> str:
        if self.requested == AUTO:
            return f"auto ({self.source}): standard tier -> {self.model}"
        if self.source == "agent":
            return f"agent's model: {self.requested}"
        return f"{self.source}: {self.requested}"


def choose_model(workflow: Workflow, task: TaskSpec, agent: Agent | None) -> ModelChoice:
    if task.settings.model:
        requested, source = task.settings.model, "task"
    elif agent is not None and agent.model and agent.model != "inherit":
        requested, source = agent.model, "agent"
    elif workflow.defaults.model:
        requested, source = workflow.defaults.model, "defaults"
    else:
        requested, source = AUTO, "built-in default"
    model = AUTO_DEFAULT if requested == AUTO else requested
    return ModelChoice(requested, source, model)

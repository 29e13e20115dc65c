"""Which model a task runs on, and why.

Order (a task's own setting beats its agent's, which beats `defaults`):
1. an `escalate` chain (task, else defaults), from its first model (adaptive routing may
   start it higher: `ModelChoice.starting_at`);
2. the task's `model`;
3. its agent's `model` (unless `inherit`);
4. `defaults.model`;
5. `auto`: the task's tier (simple, standard, complex) from an offline analysis of the
   task, mapped to a model by `routing:` (haiku, sonnet, opus by default).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agentflow.routing.tiers import TierDecision, classify_task
from agentflow.spec.agents import Agent
from agentflow.spec.workflow import TaskSpec, Workflow

AUTO = "auto"


@dataclass(frozen=True)
class ModelChoice:
    requested: str  # as written (alias, id or "auto")
    source: str  # "escalate", "task", "agent", "defaults", "built-in default"
    model: str  # what will be asked for first: an alias or id, never "auto"
    chain: tuple[str, ...] = ()  # the escalate chain from `model` on (empty: no chain)
    tier: TierDecision | None = None  # for auto
    learned: str | None = None  # why adaptive routing moved the start, if it did
    classifier: str | None = None  # routing.classifier, which decides auto tiers at run time

    @property
    def reason(self) -> str:
        if self.chain:
            text = f"escalate: {' -> '.join(self.chain)}"
            return f"{text} ({self.learned})" if self.learned else text
        if self.requested == AUTO and self.tier is not None and self.classifier:
            return (
                f"auto: {self.classifier} picks the tier at run time (offline guess: "
                f"{self.tier.reason} -> {self.model})"
            )
        if self.requested == AUTO and self.tier is not None:
            return f"auto: {self.tier.reason} -> {self.model}"
        if self.source == "agent":
            return f"agent's model: {self.requested}"
        return f"{self.source}: {self.requested}"

    def starting_at(self, start: int, why: str) -> ModelChoice:
        """The same escalate chain started `start` steps higher (adaptive routing learned
        that the models below keep failing the checks); the last model at most."""
        start = min(start, len(self.chain) - 1)
        if start <= 0:
            return self
        return replace(self, model=self.chain[start], chain=self.chain[start:], learned=why)


def escalate_chain(workflow: Workflow, task: TaskSpec) -> tuple[str, ...]:
    return task.settings.escalate or (
        () if task.settings.model else workflow.defaults.escalate or ()
    )


def choose_model(workflow: Workflow, task: TaskSpec, agent: Agent | None) -> ModelChoice:
    """The task's model as written (an escalate chain starts at its first model: see
    `ModelChoice.starting_at` for what adaptive routing learned)."""
    chain = escalate_chain(workflow, task)
    if chain:
        return ModelChoice(chain[0], "escalate", chain[0], chain)
    if task.settings.model:
        requested, source = task.settings.model, "task"
    elif agent is not None and agent.model and agent.model != "inherit":
        requested, source = agent.model, "agent"
    elif workflow.defaults.model:
        requested, source = workflow.defaults.model, "defaults"
    else:
        requested, source = AUTO, "built-in default"
    if requested != AUTO:
        return ModelChoice(requested, source, requested)
    tier = classify_task(
        task.prompt,
        agent_model=agent.model if agent else None,
        agent_description=agent.description if agent else "",
        has_output_schema=task.output_schema is not None,
        max_tokens=workflow.effective(task).max_tokens or 0,
        output_schema=task.output_schema,
    )
    return ModelChoice(
        AUTO,
        source,
        workflow.routing.tiers[tier.tier],
        tier=tier,
        classifier=workflow.routing.classifier,
    )

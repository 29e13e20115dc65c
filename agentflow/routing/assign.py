"""Which agent each task gets: the one it names, or for `agent: auto` the best match."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from agentflow.spec.agents import Agent, AgentCatalog
from agentflow.spec.templates import parse_template
from agentflow.spec.workflow import TaskSpec, Workflow

AUTO_AGENT = "auto"


@dataclass(frozen=True)
class AgentPick:
    agent: Agent | None
    auto: bool = False  # chosen by matching (agent: auto)
    score: float | None = None
    matched: tuple[str, ...] = ()
    weak: bool = False  # the best match is not convincing: the plan warns


def requested_agent(workflow: Workflow, task: TaskSpec) -> str | None:
    return task.settings.agent or workflow.defaults.agent


def _match_text(task: TaskSpec) -> str:
    """The words a user wrote: the prompt without its template references."""
    refs, _ = parse_template(task.prompt)
    text = task.prompt
    for ref in sorted(refs, key=lambda r: -r.start):
        text = text[: ref.start] + " " + text[ref.end :]
    return f"{task.description} {text}".strip()


def assign_agents(workflow: Workflow, catalog: AgentCatalog) -> Mapping[str, AgentPick]:
    """Every task's agent. Called once per workflow (by validation, whose result the plan
    reuses); the matcher's index is built only when some task asks for agent: auto."""
    index = None
    picks: dict[str, AgentPick] = {}
    for task in workflow.tasks.values():
        name = requested_agent(workflow, task)
        if name != AUTO_AGENT:
            picks[task.id] = AgentPick(catalog.agents.get(name) if name else None)
            continue
        if index is None:  # only when some task asks for agent: auto
            from agentflow.routing.discovery import AgentIndex

            index = AgentIndex.build(catalog.agents.values())
        matches = index.match(_match_text(task), top=3)
        if not matches:
            picks[task.id] = AgentPick(None, auto=True, weak=True)
            continue
        best = matches[0]
        from agentflow.routing.discovery import is_weak

        weak = is_weak(matches)
        floor = workflow.routing.min_agent_score
        if floor is not None:
            weak = best.score < floor
        picks[task.id] = AgentPick(catalog.agents[best.name], True, best.score, best.matched, weak)
    return picks

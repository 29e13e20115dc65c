"""The validate stage: read a workflow file and its agents, and collect every problem rather
than stopping at the first.

What validation has to work out anyway (each task's agent, tools and model) comes back with
the result, so the plan builds on it instead of working it out again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from agentflow.errors import Problem, has_errors
from agentflow.prices import PriceTable
from agentflow.routing.assign import AgentPick, assign_agents
from agentflow.routing.choose import ModelChoice
from agentflow.routing.tools import ToolSelection
from agentflow.spec.agents import AgentCatalog, discover_agents
from agentflow.spec.bulk import building
from agentflow.spec.schema import readable_part, schema_problems
from agentflow.spec.workflow import MAX_TASKS, Workflow, build_workflow
from agentflow.spec.yamlpos import LoadedYaml, load_yaml, read_text_file
from agentflow.validate.references import check_graph, check_references, check_templates
from agentflow.validate.routing import check_routing, choose_models
from agentflow.validate.tools import check_tools, select_all_tools


@dataclass(frozen=True)
class ValidatedWorkflow:
    """A workflow file as validation left it. When `ok`, `workflow` and `agents` are set and
    every task has its agent pick, tool selection and model choice (by task id)."""

    workflow: Workflow | None
    agents: AgentCatalog | None
    problems: tuple[Problem, ...]
    picks: Mapping[str, AgentPick] = field(default_factory=dict)
    tools: Mapping[str, ToolSelection] = field(default_factory=dict)
    models: Mapping[str, ModelChoice] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.workflow is not None and not has_errors(list(self.problems))

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if not p.is_error)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.is_error)


def validate_workflow(path: Path, prices: PriceTable) -> ValidatedWorkflow:
    with building():  # millions of objects for a large file: agentflow.spec.bulk
        return _validate(path, prices)


def _validate(path: Path, prices: PriceTable) -> ValidatedWorkflow:
    file = str(path)
    text, problem = read_text_file(path, "workflow file")
    if problem is not None:
        return ValidatedWorkflow(None, None, (problem,))
    loaded, problems = load_yaml(text or "", file)
    if loaded is None:
        return ValidatedWorkflow(None, None, tuple(problems))
    if not isinstance(loaded.data, dict):
        kind = type(loaded.data).__name__
        problems.append(
            Problem(
                file,
                f"a workflow is a mapping of keys, not a {kind}",
                1,
                1,
                "start with `version: 1`, `name:` and `tasks:`",
            )
        )
        return ValidatedWorkflow(None, None, tuple(problems))
    tasks = loaded.data.get("tasks")
    if isinstance(tasks, dict) and len(tasks) > MAX_TASKS:
        return ValidatedWorkflow(None, None, (_too_many_tasks(file, len(tasks)),))
    schema = schema_problems(loaded, file)
    problems += schema
    if has_errors(schema):  # check the rest all the same: every problem at once
        readable = readable_part(loaded)
        if readable is not None:
            problems += _checked(path, readable, prices).problems
        return ValidatedWorkflow(None, None, tuple(_in_file_order(problems, file)))
    checked = _checked(path, loaded, prices)
    return replace(checked, problems=tuple(_in_file_order([*problems, *checked.problems], file)))


def _checked(path: Path, loaded: LoadedYaml, prices: PriceTable) -> ValidatedWorkflow:
    """The checks of a workflow that passes the schema: agents, references, the graph,
    templates, tools, routing and models."""
    problems: list[Problem] = []
    workflow = build_workflow(path, loaded)
    catalog = _agents(workflow)
    problems += catalog.problems
    problems += check_references(workflow, catalog)
    problems += check_graph(workflow)
    problems += check_templates(workflow)
    picks = assign_agents(workflow, catalog)
    selections = select_all_tools(workflow, picks)
    problems += check_tools(workflow, catalog, picks, selections)
    routing_problems = check_routing(workflow, catalog, prices)
    problems += routing_problems
    choices: dict[str, ModelChoice] = {}
    if not has_errors(routing_problems):  # model choice needs well-formed routing
        choices, model_problems = choose_models(workflow, picks, prices)
        problems += model_problems
    return ValidatedWorkflow(
        workflow,
        catalog,
        tuple(problems),
        picks=picks,
        tools=selections,
        models=choices,
    )


def _too_many_tasks(file: str, count: int) -> Problem:
    return Problem(
        file,
        f"the workflow has {count:,} tasks; the limit is {MAX_TASKS:,}",
        hint="split it into smaller workflows; see Limits in README.md",
    )


def _in_file_order(problems: list[Problem], file: str) -> list[Problem]:
    """The workflow's own problems by line, then those of agent files as they came."""
    own = sorted((p for p in problems if p.file == file), key=lambda p: (p.line or 0, p.col or 0))
    return own + [p for p in problems if p.file != file]


def _agents(workflow: Workflow) -> AgentCatalog:
    dirs = workflow.agent_dirs
    if not workflow.agent_dirs_explicit:
        dirs = tuple(d for d in dirs if d.is_dir())
    return discover_agents(dirs)

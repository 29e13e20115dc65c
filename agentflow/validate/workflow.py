"""All checks of a workflow and its agents, collected rather than stopping at the first."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from agentflow.errors import Problem, has_errors
from agentflow.prices import PriceTable, unknown_model_problem
from agentflow.routing.assign import AUTO_AGENT, AgentPick, assign_agents
from agentflow.routing.choose import choose_model
from agentflow.spec.agents import AgentCatalog, discover_agents
from agentflow.spec.schema import schema_problems
from agentflow.spec.templates import TemplateRef, parse_template
from agentflow.spec.workflow import TaskSpec, Workflow, build_workflow
from agentflow.spec.yamlpos import load_yaml, read_text_file
from agentflow.validate.routing import check_routing
from agentflow.validate.tools import check_tools


@dataclass(frozen=True)
class ValidatedWorkflow:
    workflow: Workflow | None
    agents: AgentCatalog | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.workflow is not None and not has_errors(list(self.problems))


def validate_workflow(path: Path, prices: PriceTable) -> ValidatedWorkflow:
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
    problems += schema_problems(loaded, file)
    if has_errors(problems):
        return ValidatedWorkflow(None, None, tuple(problems))
    workflow = build_workflow(path, loaded)
    catalog = _agents(workflow)
    problems += catalog.problems
    problems += _check_references(workflow, catalog)
    problems += _check_graph(workflow)
    problems += _check_templates(workflow)
    picks = assign_agents(workflow, catalog) if catalog.agents else {}
    problems += check_tools(workflow, catalog, picks)
    routing_problems = check_routing(workflow, catalog, prices)
    problems += routing_problems
    if not has_errors(routing_problems):  # model choice needs well-formed routing
        problems += _check_models(workflow, picks, prices)
    return ValidatedWorkflow(workflow, catalog, tuple(_in_file_order(problems, file)))


def _in_file_order(problems: list[Problem], file: str) -> list[Problem]:
    """The workflow's own problems by line, then those of agent files as they came."""
    own = sorted((p for p in problems if p.file == file), key=lambda p: (p.line or 0, p.col or 0))
    return own + [p for p in problems if p.file != file]


def _agents(workflow: Workflow) -> AgentCatalog:
    dirs = workflow.agent_dirs
    if not workflow.agent_dirs_explicit:
        dirs = tuple(d for d in dirs if d.is_dir())
    return discover_agents(dirs)


def _did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _problem(workflow: Workflow, path: tuple, message: str, hint: str | None = None) -> Problem:
    line, col = workflow.position(path)
    return Problem(str(workflow.path), message, line, col, hint)


def _check_references(workflow: Workflow, catalog: AgentCatalog) -> list[Problem]:
    problems: list[Problem] = []
    agent_names = catalog.agents.keys()
    default_agent = workflow.defaults.agent
    if default_agent and default_agent != AUTO_AGENT and default_agent not in agent_names:
        problems.append(_unknown_agent(workflow, ("defaults", "agent"), default_agent, catalog))
    for task in workflow.tasks.values():
        if task.settings.agent not in (None, AUTO_AGENT, *agent_names):
            path = ("tasks", task.id, "agent")
            problems.append(_unknown_agent(workflow, path, task.settings.agent, catalog))
        for index, need in enumerate(task.needs):
            path = ("tasks", task.id, "needs", index)
            if need == task.id:
                problems.append(_problem(workflow, path, f"task {task.id!r} needs itself"))
            elif need not in workflow.tasks:
                hint = _did_you_mean(need, workflow.tasks) or "needs lists task ids of this file"
                problems.append(_problem(workflow, path, f"unknown task {need!r} in needs", hint))
    return problems


def _unknown_agent(workflow: Workflow, path: tuple, name: str, catalog: AgentCatalog) -> Problem:
    searched = ", ".join(str(d) for d in workflow.agent_dirs)
    hint = _did_you_mean(name, catalog.agents) or f"agents are read from: {searched}"
    return _problem(workflow, path, f"unknown agent {name!r}", hint)


def task_graph(workflow: Workflow) -> nx.DiGraph:
    return workflow.graph


def _check_graph(workflow: Workflow) -> list[Problem]:
    graph = task_graph(workflow)
    if nx.is_directed_acyclic_graph(graph):
        return []
    problems = []
    for component in nx.strongly_connected_components(graph):
        if len(component) < 2:
            continue
        cycle = [edge[0] for edge in nx.find_cycle(graph.subgraph(component))]
        start = min(cycle, key=list(workflow.tasks).index)
        turn = cycle.index(start)
        ordered = cycle[turn:] + cycle[:turn]
        text = " -> ".join([*ordered, ordered[0]])
        problems.append(
            _problem(
                workflow, ("tasks", start, "needs"), f"cycle: {text}", "remove one of these needs"
            )
        )
    return problems


def _ref_position(workflow: Workflow, task_id: str, offset: int) -> tuple[int | None, int | None]:
    path = ("tasks", task_id, "prompt")
    line, col = workflow.position(path)
    if line is None:
        return None, None
    prompt = workflow.tasks[task_id].prompt
    newlines = prompt.count("\n", 0, offset)
    if path in workflow.source.block_scalars:
        return line + 1 + newlines, None
    if newlines == 0 and col is not None:
        return line, col + offset + 1  # +1 for an opening quote, the usual style
    return line, col


def _check_templates(workflow: Workflow) -> list[Problem]:
    problems: list[Problem] = []
    graph = task_graph(workflow)
    for task in workflow.tasks.values():
        refs, issues = parse_template(task.prompt)
        for issue in issues:
            line, col = _ref_position(workflow, task.id, issue.start)
            problems.append(Problem(str(workflow.path), issue.message, line, col, issue.hint))
        for ref in refs:
            message, hint = _ref_error(workflow, graph, task, ref)
            if message:
                line, col = _ref_position(workflow, task.id, ref.start)
                problems.append(Problem(str(workflow.path), message, line, col, hint))
    return problems


def _ref_error(
    workflow: Workflow, graph: nx.DiGraph, task: TaskSpec, ref: TemplateRef
) -> tuple[str | None, str | None]:
    if ref.kind in ("state", "messages"):
        return None, None  # filled in while the run goes: any key or topic may exist
    if ref.kind == "input":
        if ref.name in workflow.inputs:
            return None, None
        hint = _did_you_mean(ref.name, workflow.inputs) or "declare it under `inputs:`"
        return f"{ref.text}: unknown input {ref.name!r}", hint
    if ref.name not in workflow.tasks:
        hint = _did_you_mean(ref.name, workflow.tasks)
        return f"{ref.text}: unknown task {ref.name!r}", hint
    if ref.name == task.id:
        return f"{ref.text}: a task cannot use its own output", None
    if ref.name not in task.needs and not _is_upstream(graph, ref.name, task.id):
        return (
            f"{ref.text}: task {ref.name!r} is not upstream of {task.id!r}",
            f"add {ref.name!r} to needs of {task.id!r}",
        )
    if ref.kind == "json":
        return _json_ref_error(workflow.tasks[ref.name], ref)
    return None, None


def _is_upstream(graph: nx.DiGraph, source: str, target: str) -> bool:
    try:
        return nx.has_path(graph, source, target)
    except nx.NodeNotFound:
        return False


def _json_ref_error(source: TaskSpec, ref: TemplateRef) -> tuple[str | None, str | None]:
    schema = source.output_schema or {}
    if source.output_schema is None:
        return (
            f"{ref.text}: task {source.id!r} has no output_schema",
            f"use {{{{ tasks.{source.id}.output }}}} or give {source.id!r} an output_schema",
        )
    properties = schema.get("properties")
    declared = set(properties or {}) | set(schema.get("required") or [])
    first = ref.field[0]
    # Only a schema that lists its fields and closes the rest proves a field cannot exist.
    if declared and first not in declared and schema.get("additionalProperties") is False:
        hint = _did_you_mean(first, declared) or f"fields: {', '.join(sorted(declared))}"
        return f"{ref.text}: output_schema of {source.id!r} has no field {first!r}", hint
    return None, None


def _check_models(
    workflow: Workflow, picks: Mapping[str, AgentPick], prices: PriceTable
) -> list[Problem]:
    """Every model a task would start on is priced (escalate chains: check_routing)."""
    problems: list[Problem] = []
    for task in workflow.tasks.values():
        pick = picks.get(task.id)
        agent = pick.agent if pick else None
        choice = choose_model(workflow, task, agent)
        if choice.chain or prices.knows(choice.model):
            continue
        path = {
            "task": ("tasks", task.id, "model"),
            "defaults": ("defaults", "model"),
            "built-in default": ("routing",),
        }.get(choice.source, ("tasks", task.id))
        line, col = workflow.position(path)
        problem = unknown_model_problem(prices, choice.model, str(workflow.path), line, col)
        if choice.source == "agent" and agent is not None:
            problem = Problem(
                problem.file,
                f"{problem.message} (from agent {agent.name!r}, {agent.path})",
                line,
                col,
                problem.hint,
            )
        if problem not in problems:
            problems.append(problem)
    return problems

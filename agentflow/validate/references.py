"""Checks that names resolve: agents, `needs`, cycles of `needs`, and prompt templates."""

from __future__ import annotations

from agentflow.errors import Problem
from agentflow.routing.assign import AUTO_AGENT
from agentflow.spec.agents import AgentCatalog
from agentflow.spec.templates import TemplateRef, parse_template
from agentflow.spec.workflow import TaskSpec, Workflow
from agentflow.validate.common import at, did_you_mean


def check_references(workflow: Workflow, catalog: AgentCatalog) -> list[Problem]:
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
                problems.append(at(workflow, path, f"task {task.id!r} needs itself"))
            elif need not in workflow.tasks:
                hint = did_you_mean(need, workflow.tasks) or "needs lists task ids of this file"
                problems.append(at(workflow, path, f"unknown task {need!r} in needs", hint))
    return problems


def _unknown_agent(workflow: Workflow, path: tuple, name: str, catalog: AgentCatalog) -> Problem:
    searched = ", ".join(str(d) for d in workflow.agent_dirs)
    hint = did_you_mean(name, catalog.agents) or f"agents are read from: {searched}"
    return at(workflow, path, f"unknown agent {name!r}", hint)


def check_graph(workflow: Workflow) -> list[Problem]:
    if workflow.graph.is_acyclic():
        return []
    import networkx as nx  # only a broken workflow needs its cycles explained

    graph = workflow.graph.to_networkx()
    place = {tid: i for i, tid in enumerate(workflow.tasks)}
    problems = []
    for component in nx.strongly_connected_components(graph):
        if len(component) < 2:
            continue
        cycle = [edge[0] for edge in nx.find_cycle(graph.subgraph(component))]
        start = min(cycle, key=place.__getitem__)
        turn = cycle.index(start)
        ordered = cycle[turn:] + cycle[:turn]
        text = " -> ".join([*ordered, ordered[0]])
        problems.append(
            at(workflow, ("tasks", start, "needs"), f"cycle: {text}", "remove one of these needs")
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


def check_templates(workflow: Workflow) -> list[Problem]:
    problems: list[Problem] = []
    found: list[tuple[TaskSpec, TemplateRef]] = []
    for task in workflow.tasks.values():
        refs, issues = parse_template(task.prompt)
        for issue in issues:
            line, col = _ref_position(workflow, task.id, issue.start)
            problems.append(Problem(str(workflow.path), issue.message, line, col, issue.hint))
        found += [(task, ref) for ref in refs]
    # Whether a task read is upstream, asked of the graph for all references at once.
    upstream = workflow.graph.reachable(
        (ref.name, task.id)
        for task, ref in found
        if ref.kind in ("output", "json") and ref.name not in task.needs
    )
    for task, ref in found:
        message, hint = _ref_error(workflow, upstream, task, ref)
        if message:
            line, col = _ref_position(workflow, task.id, ref.start)
            problems.append(Problem(str(workflow.path), message, line, col, hint))
    return problems


def _ref_error(
    workflow: Workflow, upstream: set[tuple[str, str]], task: TaskSpec, ref: TemplateRef
) -> tuple[str | None, str | None]:
    if ref.kind in ("state", "messages"):
        return None, None  # filled in while the run goes: any key or topic may exist
    if ref.kind == "input":
        if ref.name in workflow.inputs:
            return None, None
        hint = did_you_mean(ref.name, workflow.inputs) or "declare it under `inputs:`"
        return f"{ref.text}: unknown input {ref.name!r}", hint
    if ref.name not in workflow.tasks:
        hint = did_you_mean(ref.name, workflow.tasks)
        return f"{ref.text}: unknown task {ref.name!r}", hint
    if ref.name == task.id:
        return f"{ref.text}: a task cannot use its own output", None
    if ref.name not in task.needs and (ref.name, task.id) not in upstream:
        return (
            f"{ref.text}: task {ref.name!r} is not upstream of {task.id!r}",
            f"add {ref.name!r} to needs of {task.id!r}",
        )
    if ref.kind == "json":
        return _json_ref_error(workflow.tasks[ref.name], ref)
    return None, None


def _json_ref_error(source: TaskSpec, ref: TemplateRef) -> tuple[str | None, str | None]:
    schema = source.output_schema or {}
    if source.output_schema is None:
        return (
            f"{ref.text}: task {source.id!r} has no output_schema",
            f"use {{{{ tasks.{source.id}.output }}}} or give {source.id!r} an output_schema",
        )
    properties = schema.get("properties")
    declared = {str(name) for name in (properties if isinstance(properties, dict) else {})}
    required = schema.get("required")  # an invalid schema is reported on its own
    declared |= {n for n in (required if isinstance(required, list) else []) if isinstance(n, str)}
    first = ref.field[0]
    # A schema that lists its fields is read as the list of what a prompt may use: a field
    # it does not list is almost always a typo, which would render as empty text.
    if declared and first not in declared:
        hint = did_you_mean(first, declared) or f"fields: {', '.join(sorted(declared))}"
        if schema.get("additionalProperties") is False:
            return f"{ref.text}: output_schema of {source.id!r} has no field {first!r}", hint
        message = f"{ref.text}: output_schema of {source.id!r} declares no field {first!r}"
        return message, f"{hint}; or declare it under `properties`"
    return None, None

"""Checks of the tool-use loop: tools, shared state (`waits_for`, `sets`, `subscribe`), the
workspace and ask_agent.

A `waits_for` key that no task able to run first declares in `sets` would make the run
hang, so it is an error here rather than a deadlock later. Tool names agentflow does not
offer are only warnings: agent files written for Claude Code list Bash, Write and the like,
and such a task still runs, without them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path

from agentflow.errors import Problem
from agentflow.guard.readfile import UnreadableFile, read_limited
from agentflow.routing.assign import AgentPick
from agentflow.routing.tools import (
    KNOWN_TOOLS,
    TOOL_ALIASES,
    ToolSelection,
    canonical_tool,
    select_tools,
    split_tools,
)
from agentflow.spec.agents import MAX_FILE_BYTES, Agent, AgentCatalog
from agentflow.spec.graph import TaskGraph
from agentflow.spec.workflow import TaskSpec, Workflow
from agentflow.validate.common import at as _at
from agentflow.validate.common import closest

_OFFERED = f"agentflow offers {', '.join(KNOWN_TOOLS)}; Claude Code's Task is ask_agent"


def _names(names: Iterable[str]) -> str:
    return ", ".join(names)


def select_all_tools(
    workflow: Workflow, picks: Mapping[str, AgentPick]
) -> dict[str, ToolSelection]:
    """Each task's tools (`picks`: the agents the tasks run with, from assign_agents)."""
    return {
        tid: select_tools(workflow, task, picks[tid].agent) for tid, task in workflow.tasks.items()
    }


def check_tools(
    workflow: Workflow,
    catalog: AgentCatalog,
    picks: Mapping[str, AgentPick],
    selections: Mapping[str, ToolSelection],
) -> list[Problem]:
    agents = {tid: pick.agent for tid, pick in picks.items()}
    return [
        *_check_workspace(workflow),
        *_ignored_tools(workflow, selections, agents),
        *_ask_without_agents(workflow, catalog, selections),
        *_no_effect(workflow, selections),
        *_check_waits(workflow, selections),
    ]


def _check_workspace(workflow: Workflow) -> list[Problem]:
    problems = _check_allow(workflow)
    folder = workflow.workspace
    if folder.is_dir():
        return problems
    what = "is not a folder" if folder.exists() else "does not exist"
    hint = "create it, or fix `workspace:` (a relative path starts at the workflow's folder)"
    # ("workspace", "path") is placed at `workspace:` itself when it is a plain path
    return [_at(workflow, ("workspace", "path"), f"workspace {folder} {what}", hint), *problems]


def _check_allow(workflow: Workflow) -> list[Problem]:
    """Each `workspace: {allow: [...]}` pattern: gitignore syntax, inside the workspace."""
    if not workflow.workspace_allow:
        return []
    from pathspec import GitIgnoreSpec  # (only for workflows that allow paths)

    problems = []
    for index, pattern in enumerate(workflow.workspace_allow):
        where = ("workspace", "allow", index)
        if pattern.startswith("~") or ".." in pattern.split("/"):
            message = f"allow pattern {pattern!r} leaves the workspace"
            hint = "allow patterns are relative to the workspace folder, e.g. config/*.key"
            problems.append(_at(workflow, where, message, hint))
            continue
        try:
            GitIgnoreSpec.from_lines([pattern])
        except (ValueError, TypeError) as exc:
            message = f"allow pattern {pattern!r} is not a valid gitignore pattern: {exc}"
            hint = "gitignore pattern syntax, e.g. .env.example, config/*.key, secrets/"
            problems.append(_at(workflow, where, message, hint))
    return problems


def _ignored_message(ignored: tuple[str, ...]) -> str:
    if len(ignored) == 1:
        return f"tool {ignored[0]} is not offered by agentflow and is ignored"
    return f"tools {_names(ignored)} are not offered by agentflow and are ignored"


def _ignored_hint(ignored: tuple[str, ...]) -> str:
    choices = [*KNOWN_TOOLS, *TOOL_ALIASES]
    guesses = []
    for name in ignored:
        close = [k for k in choices if k.lower() == name.lower()]
        close = close or difflib.get_close_matches(name, choices, n=1, cutoff=0.75)
        if close:
            guesses.append(f"{close[0]!r} for {name!r}")
    if guesses:
        return f"did you mean {', '.join(guesses)}? {_OFFERED}"
    return _OFFERED


def _ignored_tools(
    workflow: Workflow,
    selections: Mapping[str, ToolSelection],
    agents: Mapping[str, Agent | None],
) -> list[Problem]:
    """One warning per place the names are written: defaults, a task, an agent file."""
    problems: list[Problem] = []
    written: list[tuple[tuple, tuple[str, ...]]] = []
    if workflow.defaults.tools is not None:
        written.append((("defaults", "tools"), workflow.defaults.tools))
    for task in workflow.tasks.values():
        if task.settings.tools is not None:
            written.append((("tasks", task.id, "tools"), task.settings.tools))
    for path, names in written:
        _, ignored = split_tools(names)
        if ignored:
            where = (*path, names.index(ignored[0]))  # the line of the first ignored name
            message, hint = _ignored_message(ignored), _ignored_hint(ignored)
            problems.append(_at(workflow, where, message, hint, "warning"))
    users: dict[Path, tuple[Agent, list[str]]] = {}  # agent file -> tasks using its tools
    for tid, selection in selections.items():
        agent = agents.get(tid)
        if selection.source == "agent" and selection.ignored and agent is not None:
            users.setdefault(agent.path, (agent, []))[1].append(tid)
    for agent, tids in users.values():
        _, ignored = split_tools(agent.tools)
        shown = _names(repr(t) for t in tids[:3]) + (", ..." if len(tids) > 3 else "")
        used = f"used by task{'s' * (len(tids) > 1)} {shown}"
        message = f"agent {agent.name!r} ({used}): {_ignored_message(ignored)}"
        line = _tools_line(agent.path)
        problems.append(
            Problem(str(agent.path), message, line, None, _ignored_hint(ignored), "warning")
        )
    return problems


def _tools_line(path: Path) -> int | None:
    """The line of `tools:` in an agent file's frontmatter (the Agent keeps no positions)."""
    try:
        raw = read_limited(path, limit=MAX_FILE_BYTES, what="agent file")
    except UnreadableFile:
        return None
    lines = raw.decode("utf-8-sig", "replace").splitlines()
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() and not line.strip().strip("-"):  # the closing delimiter
            break
        if line.startswith("tools:"):
            return number
    return None


def _tool_path(workflow: Workflow, task: TaskSpec, source: str, tool: str) -> tuple:
    """Where a selected tool is written: the task's or the defaults' `tools` entry."""
    owner = ("tasks", task.id) if source == "task" else ("defaults",)
    names = task.settings.tools if source == "task" else workflow.defaults.tools
    for index, name in enumerate(names or ()):
        if canonical_tool(name) == tool:
            return (*owner, "tools", index)
    return (*owner, "tools")


def _ask_without_agents(
    workflow: Workflow, catalog: AgentCatalog, selections: Mapping[str, ToolSelection]
) -> list[Problem]:
    if catalog.agents:
        return []
    searched = ", ".join(str(d) for d in workflow.agent_dirs)
    hint = f"add agent files to one of: {searched} (or set `agents:`), or remove ask_agent"
    places: dict[tuple, None] = {}
    for tid, selection in selections.items():
        if "ask_agent" in selection.tools and selection.source in ("task", "defaults"):
            task = workflow.tasks[tid]
            places[_tool_path(workflow, task, selection.source, "ask_agent")] = None
    message = "ask_agent could never answer: no agent files were found"
    return [_at(workflow, path, message, hint) for path in places]


def _no_effect(workflow: Workflow, selections: Mapping[str, ToolSelection]) -> list[Problem]:
    """`subscribe` without a loop, `sets` without set_state: declared, but cannot happen."""
    problems: list[Problem] = []
    for task in workflow.tasks.values():
        selection = selections[task.id]
        if task.subscribe and not selection.loops:
            problems.append(
                _at(
                    workflow,
                    ("tasks", task.id, "subscribe"),
                    f"subscribe has no effect: task {task.id!r} has no tools, so it makes one "
                    "call and never takes the next turn that would bring the news",
                    "give it tools (get_state, say) or remove subscribe",
                    "warning",
                )
            )
        if task.sets and "set_state" not in selection.tools:
            keys = _names(task.sets)
            problems.append(
                _at(
                    workflow,
                    ("tasks", task.id, "sets"),
                    f"task {task.id!r} cannot set {keys}: set_state is not among its tools",
                    "add set_state to its tools",
                    "warning",
                )
            )
    return problems


def _check_waits(workflow: Workflow, selections: Mapping[str, ToolSelection]) -> list[Problem]:
    """Every `waits_for` key needs a setter that can start without the waiter: one that
    declares `sets: [KEY]`, has set_state, is not the waiter or downstream of it, and does
    not itself wait (through needs and waits) on the waiter or on another deadlock."""
    waiters = [task for task in workflow.tasks.values() if task.waits_for]
    if not waiters or not workflow.graph.is_acyclic():
        return []  # a needs cycle is reported on its own, and nothing in it can start
    declared: dict[str, list[str]] = {}  # key -> tasks with `sets: [key]`, in file order
    for task in workflow.tasks.values():
        for key in task.sets:
            declared.setdefault(key, []).append(task.id)
    able = {tid for tid, selection in selections.items() if "set_state" in selection.tools}
    setters = {key: [t for t in tids if t in able] for key, tids in declared.items()}
    startable = _startable(workflow, setters)
    problems: list[Problem] = []
    waits: TaskGraph | None = None  # built for the first deadlock only
    for task in waiters:
        if task.id in startable:
            continue
        for index, key in enumerate(task.waits_for):
            if any(s in startable for s in setters.get(key, ())):
                continue
            if waits is None:
                waits = _waits_graph(workflow, declared)
            path = ("tasks", task.id, "waits_for", index)
            message, hint = _deadlock(workflow, waits, task, key, declared, able)
            problems.append(_at(workflow, path, message, hint))
    return problems


def _startable(workflow: Workflow, setters: Mapping[str, list[str]]) -> set[str]:
    """The tasks that can ever start: all their needs can, and each key they wait for has a
    setter that can start first (so never the task itself). A least fixpoint: the tasks of
    a cycle of waits never get in."""
    graph = workflow.graph
    order = [tid for generation in graph.generations() or () for tid in generation]
    startable: set[str] = set()
    changed = True
    while changed:
        changed = False
        for tid in order:
            if tid in startable or not all(p in startable for p in graph.predecessors(tid)):
                continue
            waits = workflow.tasks[tid].waits_for
            if all(any(s in startable for s in setters.get(k, ())) for k in waits):
                startable.add(tid)
                changed = True
    return startable


def _deadlock(
    workflow: Workflow,
    waits: TaskGraph,
    task: TaskSpec,
    key: str,
    declared: Mapping[str, list[str]],
    able: set[str],
) -> tuple[str, str]:
    tid = task.id
    hint = f"add `sets: [{key}]` to the task that calls set_state for it"
    if not declared.get(key):
        close = closest(key, declared, cutoff=0.75)
        if close:
            hint = f"did you mean state.{close}? else {hint}"
        return f"task {tid!r} waits for state.{key}, but no task declares sets: [{key}]", hint
    reasons = []
    for setter in declared[key]:
        if setter == tid:
            reasons.append(f"{tid!r} itself cannot set it before it starts")
        elif setter not in able:
            reasons.append(f"{setter!r} has no set_state tool")
        elif workflow.graph.has_path(tid, setter):
            reasons.append(f"{setter!r} runs after {tid!r} (needs)")
        elif waits.has_path(tid, setter):
            reasons.append(f"{setter!r} waits on {tid!r} (a cycle of waits)")
        else:  # it waits for a key nobody able to start can set
            reasons.append(f"{setter!r} can never start")
    message = (
        f"task {tid!r} waits for state.{key}, but no task that can run before it sets it: "
        + "; ".join(reasons)
    )
    return message, f"{hint}, and that task must not wait on {tid!r}"


def _waits_graph(workflow: Workflow, declared: Mapping[str, list[str]]) -> TaskGraph:
    """Needs edges plus an edge from every declared setter of a key to each of its waiters:
    a path from A to B means B may have to wait for A."""
    return workflow.graph.with_edges(
        (setter, task.id)
        for task in workflow.tasks.values()
        for key in task.waits_for
        for setter in declared.get(key, ())
        if setter != task.id
    )

"""The typed workflow: what a YAML file that passed the schema means."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentflow.spec.graph import TaskGraph
from agentflow.spec.yamlpos import LoadedYaml, YamlPath

DEFAULT_MODEL = "auto"
DEFAULT_MAX_TOKENS = 1024
DEFAULT_TIMEOUT = 120.0
DEFAULT_RETRIES = 3
DEFAULT_CONCURRENCY = 5
DEFAULT_ASK_MAX_DEPTH = 2
DEFAULT_ASK_TIMEOUT = 120.0
MAX_TASKS = 100_000  # the most tasks a workflow may have (README.md, "Limits")


@dataclass(frozen=True)
class InputSpec:
    name: str
    description: str
    default: str | None  # None: the input is required

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class Settings:
    """Values a task may set itself or inherit from `defaults` (None = not set here)."""

    model: str | None = None
    agent: str | None = None
    max_tokens: int | None = None
    timeout: float | None = None
    retries: int | None = None
    escalate: tuple[str, ...] | None = None  # models to try in order, cheapest first
    tools: tuple[str, ...] | None = None  # as written; () = explicitly none (routing/tools.py)
    max_turns: int | None = None  # turns of the tool-use loop at most


@dataclass(frozen=True)
class JsonPathCheck:
    path: tuple[str, ...]
    equals: Any


@dataclass(frozen=True)
class Checks:
    """What an answer must satisfy beyond its output_schema (see agentflow.routing.checks)."""

    contains: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    regex: str | None = None
    max_chars: int | None = None
    json_paths: tuple[JsonPathCheck, ...] = ()


@dataclass(frozen=True)
class TaskSpec:
    id: str
    prompt: str
    needs: tuple[str, ...]
    settings: Settings
    output_schema: Mapping[str, Any] | None = None
    description: str = ""
    checks: Checks | None = None
    waits_for: tuple[str, ...] = ()  # state keys (the `state.` prefix stripped)
    sets: tuple[str, ...] = ()  # state keys the task declares it sets
    subscribe: tuple[str, ...] = ()  # as written: state.KEY, messages.TOPIC or NAME


@dataclass(frozen=True)
class Routing:
    """`routing:`: the model of each tier for `model: auto`, and how decisions are made."""

    tiers: Mapping[str, str] = field(
        default_factory=lambda: {"simple": "haiku", "standard": "sonnet", "complex": "opus"}
    )
    classifier: str | None = None
    adaptive: bool = False
    min_agent_score: float | None = None


@dataclass(frozen=True)
class BudgetCap:
    """`budget:`: the most one run may spend, in dollars and in tokens (None: no cap)."""

    usd: float | None = None
    tokens: int | None = None

    def overridden(self, *, usd: float | None = None, tokens: int | None = None) -> BudgetCap:
        """This cap with each figure given (a command's --budget flags) in its place."""
        return BudgetCap(
            usd=self.usd if usd is None else usd,
            tokens=self.tokens if tokens is None else tokens,
        )

    @property
    def limited(self) -> bool:
        return self.usd is not None or self.tokens is not None


@dataclass(frozen=True)
class AskSettings:
    """`ask:`: limits of the ask_agent tool."""

    max_depth: int = DEFAULT_ASK_MAX_DEPTH
    timeout: float = DEFAULT_ASK_TIMEOUT


@dataclass(frozen=True)
class Workflow:
    path: Path
    name: str
    description: str
    agent_dirs: tuple[Path, ...]
    agent_dirs_explicit: bool  # False: the defaults, which may be absent without complaint
    inputs: Mapping[str, InputSpec]
    defaults: Settings
    concurrency: int
    budget: BudgetCap
    tasks: Mapping[str, TaskSpec]  # in file order
    workspace: Path  # absolute; the folder the file tools may read (may not exist: validate)
    source: LoadedYaml = field(repr=False, compare=False)
    # Edges run from a task to the tasks that need it; unknown needs are left out. Built
    # once here because validation, planning and running all walk it.
    graph: TaskGraph = field(repr=False, compare=False, default_factory=lambda: TaskGraph(()))
    routing: Routing = field(default_factory=Routing)
    ask: AskSettings = field(default_factory=AskSettings)
    # `workspace: {allow: [...]}`: gitignore patterns of paths let through the default deny
    workspace_allow: tuple[str, ...] = ()

    def position(self, path: YamlPath) -> tuple[int | None, int | None]:
        pos = self.source.position(path)
        return (pos.line, pos.col) if pos else (None, None)

    def effective(self, task: TaskSpec) -> Settings:
        """A task's settings after inheriting `defaults` and the built-in defaults."""
        own, base = task.settings, self.defaults
        return Settings(
            model=own.model or base.model,
            agent=own.agent or base.agent,
            max_tokens=own.max_tokens or base.max_tokens or DEFAULT_MAX_TOKENS,
            timeout=own.timeout or base.timeout or DEFAULT_TIMEOUT,
            retries=_first_set(own.retries, base.retries, DEFAULT_RETRIES),
            escalate=own.escalate or base.escalate,
            tools=own.tools if own.tools is not None else base.tools,
            max_turns=own.max_turns or base.max_turns,  # None: the agent's, else the default
        )


def _first_set(*values: int | None) -> int:
    return next(v for v in values if v is not None)


def _settings(raw: Mapping[str, Any]) -> Settings:
    timeout = raw.get("timeout")
    return Settings(
        model=raw.get("model"),
        agent=raw.get("agent"),
        max_tokens=raw.get("max_tokens"),
        timeout=float(timeout) if timeout is not None else None,
        retries=raw.get("retries"),
        escalate=tuple(raw["escalate"]) if raw.get("escalate") else None,
        tools=tuple(raw["tools"]) if raw.get("tools") is not None else None,
        max_turns=raw.get("max_turns"),
    )


def _texts(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _checks(raw: Mapping[str, Any] | None) -> Checks | None:
    if not raw:
        return None
    paths = raw.get("json_path") or []
    paths = [paths] if isinstance(paths, Mapping) else paths
    return Checks(
        contains=_texts(raw.get("contains")),
        not_contains=_texts(raw.get("not_contains")),
        regex=raw.get("regex"),
        max_chars=raw.get("max_chars"),
        json_paths=tuple(
            JsonPathCheck(tuple(str(p["path"]).split(".")), p["equals"]) for p in paths
        ),
    )


def _routing(raw: Mapping[str, Any] | None) -> Routing:
    raw = raw or {}
    tiers = dict(Routing().tiers)
    tiers.update({tier: raw[tier] for tier in tiers if raw.get(tier)})
    return Routing(
        tiers=tiers,
        classifier=raw.get("classifier"),
        adaptive=bool(raw.get("adaptive", False)),
        min_agent_score=raw.get("min_agent_score"),
    )


def _input(name: str, raw: Any) -> InputSpec:
    if isinstance(raw, Mapping):
        default = raw.get("default")
        return InputSpec(name, str(raw.get("description", "")), _text(default))
    return InputSpec(name, "", _text(raw))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _agent_dirs(path: Path, raw: Any) -> tuple[tuple[Path, ...], bool]:
    base = path.parent
    if raw is None:
        return (base / "agents", base / ".claude" / "agents"), False
    entries = [raw] if isinstance(raw, str) else list(raw)
    return tuple(_real(base / entry) for entry in entries), True


def _workspace(path: Path, raw: str | Mapping[str, Any] | None) -> tuple[Path, tuple[str, ...]]:
    """The workspace folder and its allow patterns, from a path or `{path, allow}`."""
    base = path.parent
    allow: tuple[str, ...] = ()
    if isinstance(raw, Mapping):
        allow = tuple(str(pattern) for pattern in raw.get("allow") or ())
        raw = raw.get("path")
    if raw is None:
        return _real(base), allow
    return _real(base / Path(raw).expanduser()), allow  # an absolute path stays


def _real(path: Path) -> Path:
    """`path` with links resolved; a link loop is left as it is (validate reports it),
    where Path.resolve would raise."""
    return Path(os.path.realpath(path))


def _ask(raw: Mapping[str, Any] | None) -> AskSettings:
    raw = raw or {}
    return AskSettings(
        max_depth=raw.get("max_depth", DEFAULT_ASK_MAX_DEPTH),
        timeout=float(raw.get("timeout", DEFAULT_ASK_TIMEOUT)),
    )


def build_workflow(path: Path, loaded: LoadedYaml) -> Workflow:
    """Build the typed workflow from data that already passed the JSON Schema."""
    data = loaded.data
    tasks: dict[str, TaskSpec] = {}
    for task_id, raw in data["tasks"].items():
        needs = raw.get("needs", [])
        tasks[task_id] = TaskSpec(
            id=task_id,
            prompt=raw["prompt"],
            needs=tuple([needs] if isinstance(needs, str) else needs),
            settings=_settings(raw),
            output_schema=raw.get("output_schema"),
            description=raw.get("description", ""),
            checks=_checks(raw.get("checks")),
            waits_for=tuple(key.removeprefix("state.") for key in raw.get("waits_for", ())),
            sets=tuple(raw.get("sets", ())),
            subscribe=tuple(raw.get("subscribe", ())),
        )
    graph = TaskGraph(
        tasks,
        (
            (n, task.id)
            for task in tasks.values()
            for n in task.needs
            if n in tasks and n != task.id
        ),
    )
    agent_dirs, explicit = _agent_dirs(path, data.get("agents"))
    budget = data.get("budget") or {}
    workspace, allow = _workspace(path, data.get("workspace"))
    return Workflow(
        path=path,
        name=data["name"],
        description=data.get("description", ""),
        agent_dirs=agent_dirs,
        agent_dirs_explicit=explicit,
        inputs={n: _input(n, raw) for n, raw in (data.get("inputs") or {}).items()},
        defaults=_settings(data.get("defaults") or {}),
        concurrency=data.get("concurrency", DEFAULT_CONCURRENCY),
        budget=BudgetCap(usd=budget.get("usd"), tokens=budget.get("tokens")),
        tasks=tasks,
        workspace=workspace,
        workspace_allow=allow,
        source=loaded,
        graph=graph,
        routing=_routing(data.get("routing")),
        ask=_ask(data.get("ask")),
    )

"""Checks of what routes a task: `routing:`, `escalate` chains, `checks`, `agent: auto`, and
that the model each task starts on is priced (whose choices the plan then reuses)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from agentflow.errors import Problem
from agentflow.prices import PriceTable, unknown_model_problem
from agentflow.routing.assign import AUTO_AGENT, AgentPick
from agentflow.routing.checks import regex_problem
from agentflow.routing.choose import ModelChoice, choose_model
from agentflow.spec.agents import AgentCatalog
from agentflow.spec.workflow import Workflow
from agentflow.validate.common import at as _at


def _model(workflow: Workflow, prices: PriceTable, name: str, path: tuple) -> list[Problem]:
    if name == "auto" or prices.knows(name):
        return []
    line, col = workflow.position(path)
    return [unknown_model_problem(prices, name, str(workflow.path), line, col)]


def check_routing(workflow: Workflow, catalog: AgentCatalog, prices: PriceTable) -> list[Problem]:
    problems: list[Problem] = []
    routing = workflow.routing
    for tier, model in routing.tiers.items():
        if model == "auto":
            problems.append(
                _at(
                    workflow,
                    ("routing", tier),
                    f"routing.{tier} cannot be auto",
                    "name a model: haiku, sonnet, opus or a model id",
                )
            )
        else:
            problems += _model(workflow, prices, model, ("routing", tier))
    if routing.classifier:
        problems += _model(workflow, prices, routing.classifier, ("routing", "classifier"))
    for i, model in enumerate(workflow.defaults.escalate or ()):
        problems += _model(workflow, prices, model, ("defaults", "escalate", i))
    for task in workflow.tasks.values():
        problems += _check_task(workflow, task.id, prices)
    problems += _check_auto_agents(workflow, catalog)
    return problems


def _check_task(workflow: Workflow, tid: str, prices: PriceTable) -> list[Problem]:
    task = workflow.tasks[tid]
    problems: list[Problem] = []
    if task.settings.escalate and task.settings.model:
        problems.append(
            _at(
                workflow,
                ("tasks", tid, "escalate"),
                f"task {tid!r} has both model and escalate",
                "keep one: escalate lists every model the task may use",
            )
        )
    for i, model in enumerate(task.settings.escalate or ()):
        if model == "auto":
            problems.append(
                _at(
                    workflow,
                    ("tasks", tid, "escalate", i),
                    "escalate lists models; auto is not one",
                )
            )
        else:
            problems += _model(workflow, prices, model, ("tasks", tid, "escalate", i))
    if task.output_schema is not None and (why := _schema_problem(task.output_schema)):
        problems.append(
            _at(
                workflow,
                ("tasks", tid, "output_schema"),
                why,
                "see https://json-schema.org for the keywords",
            )
        )
    if task.checks and task.checks.regex and (why := regex_problem(task.checks.regex)):
        problems.append(_at(workflow, ("tasks", tid, "checks", "regex"), why))
    return problems


def _schema_problem(schema: Mapping[str, Any]) -> str | None:
    """An output_schema must itself be a valid JSON Schema, or every answer would fail.
    Tasks often share one schema: each different one is checked once."""
    try:
        key = json.dumps(schema, sort_keys=True)
    except (TypeError, ValueError):  # not JSON (a YAML date, say): jsonschema will say
        return _checked_schema_problem(schema)
    if key not in _SCHEMA_CHECKS:
        _SCHEMA_CHECKS[key] = _checked_schema_problem(schema)
    return _SCHEMA_CHECKS[key]


_SCHEMA_CHECKS: dict[str, str | None] = {}  # a schema's JSON -> its problem, for this process


def _checked_schema_problem(schema: Mapping[str, Any]) -> str | None:
    from jsonschema.validators import validator_for

    error = next(iter(_meta_validator(validator_for(schema)).iter_errors(schema)), None)
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "the schema"
    return f"output_schema is not a valid JSON Schema at {where}: {error.message}"


@lru_cache(maxsize=8)
def _meta_validator(cls: type) -> Any:
    """The validator of a JSON Schema draft's own meta-schema, built once (jsonschema's
    check_schema builds it again for every schema it checks: most of its cost)."""
    from jsonschema.validators import validator_for

    meta = validator_for(cls.META_SCHEMA, default=cls)
    return meta(cls.META_SCHEMA, format_checker=meta.FORMAT_CHECKER)


def _check_auto_agents(workflow: Workflow, catalog: AgentCatalog) -> list[Problem]:
    if catalog.agents:
        return []
    searched = ", ".join(str(d) for d in workflow.agent_dirs)
    hint = f"add agent files to one of: {searched} (or set `agents:`)"
    problems = []
    if workflow.defaults.agent == AUTO_AGENT:
        problems.append(
            _at(
                workflow,
                ("defaults", "agent"),
                "agent: auto needs agents to choose from; none were found",
                hint,
            )
        )
    for task in workflow.tasks.values():
        if task.settings.agent == AUTO_AGENT:
            problems.append(
                _at(
                    workflow,
                    ("tasks", task.id, "agent"),
                    "agent: auto needs agents to choose from; none were found",
                    hint,
                )
            )
    return problems


def choose_models(
    workflow: Workflow, picks: Mapping[str, AgentPick], prices: PriceTable
) -> tuple[dict[str, ModelChoice], list[Problem]]:
    """Each task's model choice, and a problem for every model a task would start on that
    is not priced (the models of escalate chains are checked by check_routing)."""
    choices: dict[str, ModelChoice] = {}
    problems: list[Problem] = []
    for task in workflow.tasks.values():
        agent = picks[task.id].agent
        choice = choices[task.id] = choose_model(workflow, task, agent)
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
    return choices, problems

"""The published workflow JSON Schema, applied with positions for every error."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from agentflow.errors import Problem
from agentflow.spec.yamlpos import LoadedYaml

if TYPE_CHECKING:  # jsonschema explains errors; a valid file never imports it
    import jsonschema
    from jsonschema.exceptions import ValidationError


@lru_cache(maxsize=1)
def workflow_schema() -> dict[str, Any]:
    text = resources.files("agentflow").joinpath("schemas/workflow.schema.json").read_text("utf-8")
    return json.loads(text)


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """Replace local `#/$defs/...` references by their targets (our schema has no cycles):
    resolving a $ref per task is most of the cost of validating a 10,000-task workflow."""
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target: Any = {"$defs": defs}
        for part in ref[2:].split("/"):
            target = target[part]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _inline_refs(merged, defs)
    return {key: _inline_refs(value, defs) for key, value in node.items()}


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    import jsonschema

    schema = _inline_refs(workflow_schema(), workflow_schema().get("$defs", {}))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _describe(error: ValidationError) -> tuple[str, str | None]:
    """A human sentence for one schema error, with a hint where we can give one."""
    where = _dotted(error.absolute_path)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        known = ", ".join(sorted(error.schema.get("properties", {})))
        name = ", ".join(repr(e) for e in extra)
        return f"unknown key {name} in {where or 'the workflow'}", f"allowed keys: {known}"
    if error.validator == "required":
        return f"{where or 'the workflow'}: {error.message}", None
    if _is_property_name_error(error):
        return (
            f"invalid name {error.instance!r} in {where}",
            "task ids use lower case letters, digits, '-' and '_', starting with a letter or "
            "digit; input names are identifiers",
        )
    if error.validator == "pattern" and isinstance(error.schema, dict):
        # The regex helps nobody; the field's description says the expected form.
        form = error.schema.get("description")
        if form:
            return f"{where}: {error.instance!r} is not of the form {form}", None
    if error.validator in ("oneOf", "anyOf") and error.context:
        return f"{where}: {_branch_message(error)}", None
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    return f"{where or 'the workflow'}: {error.message}", description


def _is_property_name_error(error: ValidationError) -> bool:
    return "propertyNames" in error.absolute_schema_path


def _branch_message(error: ValidationError) -> str:
    """For oneOf/anyOf: the error of the branch whose type matched, else the allowed types."""
    from jsonschema.exceptions import best_match

    same_type = [e for e in error.context if e.validator != "type"]
    if same_type:
        return best_match(same_type).message
    types = []
    for branch in error.validator_value:
        kind = branch.get("type") if isinstance(branch, dict) else None
        if kind:
            types.extend(kind if isinstance(kind, list) else [kind])
    return f"{error.instance!r} must be of type {' or '.join(dict.fromkeys(types))}"


def _dotted(path: Any) -> str:
    return ".".join(str(p) for p in path)


# Below this size jsonschema checks a file in a millisecond or two, while compiling the
# fastjsonschema check costs ~50 ms at every start; above it the compiled check wins.
FAST_CHECK_MIN_CHARS = 64 * 1024


@lru_cache(maxsize=1)
def _fast_check() -> Callable[[Any], Any]:
    """The same schema compiled to Python by fastjsonschema: ~15x faster on a large valid
    file. It only answers valid or not; jsonschema explains the errors when there are some."""
    schema = _inline_refs(workflow_schema(), workflow_schema().get("$defs", {}))
    schema = {key: value for key, value in schema.items() if key not in ("$defs", "$id")}
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"  # all we use is draft-07
    import fastjsonschema

    return fastjsonschema.compile(schema)


def _is_valid(loaded: LoadedYaml) -> bool:
    if len(loaded.text) < FAST_CHECK_MIN_CHARS:
        return bool(_validator().is_valid(loaded.data))
    from fastjsonschema import JsonSchemaException

    try:
        _fast_check()(loaded.data)
    except JsonSchemaException:
        return False
    return True


def schema_problems(loaded: LoadedYaml, file: str) -> list[Problem]:
    if _is_valid(loaded):
        return []
    problems: list[Problem] = []
    errors = sorted(_validator().iter_errors(loaded.data), key=lambda e: list(map(str, e.path)))
    for error in errors:
        message, hint = _describe(error)
        path = tuple(error.absolute_path)
        if _is_property_name_error(error):
            path = (*path, error.instance)
        if error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            path = (*path, extra[0]) if extra else path
        pos = loaded.position(path)
        problems.append(
            Problem(file, message, pos.line if pos else None, pos.col if pos else None, hint)
        )
    return sorted(problems, key=lambda p: (p.line or 0, p.col or 0))


# What stands in for a required value that is missing or unreadable, so the rest of a file
# with schema errors can still be checked (the errors themselves are reported already).
_STAND_INS: dict[str, Any] = {"version": 1, "name": "workflow", "prompt": "-"}
_MEND_ROUNDS = 4


def readable_part(loaded: LoadedYaml) -> LoadedYaml | None:
    """The file's data with what its schema errors make unreadable taken out: a bad value
    or unknown key dropped, a task that is not a mapping kept as an empty one, a missing
    `version`, `name` or `prompt` stood in for. The result passes the schema, so the checks
    of references, agents, routing and tools can run on the rest. None when nothing
    readable is left (no `tasks` mapping)."""
    import copy

    data = copy.deepcopy(loaded.data)
    for _ in range(_MEND_ROUNDS):
        errors = list(_validator().iter_errors(data))
        if not errors:
            return replace(loaded, data=data)
        # deepest first, and later list items before earlier ones: indices stay right
        for error in sorted(errors, key=_depth_first):
            if not _mend(data, error):
                return None
    return None


def _depth_first(error: ValidationError) -> tuple[int, list[tuple[int, Any]]]:
    path = [(0, p) if isinstance(p, int) else (1, str(p)) for p in error.absolute_path]
    return -len(path), [(kind, -p if kind == 0 else p) for kind, p in path]


def _mend(data: dict[str, Any], error: ValidationError) -> bool:
    """Take out or stand in for what `error` is about; False when the workflow has nothing
    left to check."""
    path = list(error.absolute_path)
    if _is_property_name_error(error):  # an unusable task id or input name: left out
        if isinstance(error.instance, str) and len(path) == 1 and path[0] in data:
            data[path[0]].pop(error.instance, None)
        return bool(data.get("tasks"))
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        for extra in set(error.instance) - set(error.schema.get("properties", {})):
            error.instance.pop(extra, None)
        return True
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [key for key in error.validator_value if key not in error.instance]
        if all(key in _STAND_INS for key in missing):
            error.instance.update({key: _STAND_INS[key] for key in missing})
            return True
    return _drop(data, path)


def _drop(data: dict[str, Any], path: list[Any]) -> bool:
    if len(path) < 2 and (not path or path[0] == "tasks"):
        return False  # the file is not a mapping, or has no readable tasks
    if len(path) == 2 and path[0] == "tasks":
        data["tasks"][path[1]] = {"prompt": _STAND_INS["prompt"]}  # kept: others may name it
        return True
    parent: Any = data
    try:
        for part in path[:-1]:
            parent = parent[part]
    except (KeyError, IndexError, TypeError):
        return True  # already taken out with what held it
    if isinstance(parent, dict):
        parent.pop(path[-1], None)
    elif isinstance(parent, list) and isinstance(path[-1], int) and path[-1] < len(parent):
        del parent[path[-1]]
    return True

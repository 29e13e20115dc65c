"""agentflow: run teams of LLM agents from declarative files.

The pipeline's stages, for use from Python, each loaded on first use (so `import agentflow`
and the command line stay quick)::

    prepared = agentflow.prepare(Path("workflows/release-notes.yaml"))   # validate + plan
    result = asyncio.run(agentflow.execute(prepared.plan, provider=..., prices=prepared.prices,
                                           options=agentflow.RunOptions(), run_id=..., run_dir=...))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_STAGES = {
    "AgentflowError": "agentflow.errors",
    "Problem": "agentflow.errors",
    "load_prices": "agentflow.prices",
    "validate_workflow": "agentflow.validate.workflow",
    "ValidatedWorkflow": "agentflow.validate.workflow",
    "build_plan": "agentflow.plan.build",
    "Plan": "agentflow.plan.model",
    "prepare": "agentflow.prepare",
    "Prepared": "agentflow.prepare",
    "execute": "agentflow.engine.run",
    "RunOptions": "agentflow.engine.context",
    "RunResult": "agentflow.engine.results",
    "make_provider": "agentflow.providers.factory",
    "FunctionProvider": "agentflow.providers.function",
}

__all__ = ["__version__", *_STAGES]


def __getattr__(name: str) -> Any:
    module = _STAGES.get(name)
    if module is None:
        raise AttributeError(f"module 'agentflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

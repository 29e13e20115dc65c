"""Build the provider a command asked for, from its name and the environment.

Configuration problems surface here, before any task starts, as `AgentflowError`
(exit code 2), so a run never fails half-way for want of a key.
"""

from __future__ import annotations

from collections.abc import Mapping

from agentflow.errors import AgentflowError, ExitCode
from agentflow.providers.base import Provider

PROVIDERS = ("anthropic", "simulate")
API_KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"


def make_provider(name: str, env: Mapping[str, str]) -> Provider:
    """`anthropic` (needs ANTHROPIC_API_KEY; ANTHROPIC_BASE_URL optional) or `simulate`."""
    if name == "anthropic":
        # Imported here so that `simulate` runs never pay for loading the SDK.
        from agentflow.providers.anthropic import AnthropicProvider

        api_key = env.get(API_KEY_ENV, "").strip()
        if not api_key:
            raise AgentflowError.single(
                API_KEY_ENV,
                f"the anthropic provider needs an API key: {API_KEY_ENV} is not set",
                hint=f"export {API_KEY_ENV}=..., or try the workflow offline with "
                "--provider simulate",
                exit_code=ExitCode.INVALID,
            )
        base_url = env.get(BASE_URL_ENV, "").strip() or None
        return AnthropicProvider(api_key, base_url=base_url)
    if name == "simulate":
        from agentflow.providers.simulate import LATENCY_ENV, SimulateProvider, parse_latency

        try:
            parse_latency(env.get(LATENCY_ENV))
        except ValueError:
            raise AgentflowError.single(
                LATENCY_ENV,
                f"{LATENCY_ENV} must be a number of seconds >= 0, got {env.get(LATENCY_ENV)!r}",
                hint="unset it to get a simulated latency of 0.05 to 0.5 s per call",
            ) from None
        return SimulateProvider(env=env)
    raise AgentflowError.single(
        "--provider",
        f"unknown provider {name!r}",
        hint=f"choose one of: {', '.join(PROVIDERS)}",
    )

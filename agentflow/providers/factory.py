"""Build the provider a command asked for, from its name and the environment.

Configuration problems surface here, before any task starts, as `AgentflowError`
(exit code 2), so a run never fails half-way for want of a key.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import threading
from collections.abc import Mapping

from agentflow.errors import AgentflowError, ExitCode
from agentflow.providers.base import ModelRequest, ModelResponse, Provider

PROVIDERS = ("anthropic", "simulate")
API_KEY_ENV = "ANTHROPIC_API_KEY"
BASE_URL_ENV = "ANTHROPIC_BASE_URL"


class LazyAnthropic:
    """The Anthropic provider, loaded when the engine first needs it: importing the SDK
    takes seconds, and a run answered wholly from the cache (or a resume) never needs it.
    The import runs on a worker thread (`prefetch`), so the event loop (Ctrl-C, the live
    view, tasks in flight) is not held up, and the engine's own work before the first
    request (counting tokens for the budget, say) goes on meanwhile."""

    name = "anthropic"

    def __init__(self, api_key: str, base_url: str | None) -> None:
        self._api_key, self._base_url = api_key, base_url
        self._provider: Provider | None = None
        self._loading: concurrent.futures.Future[None] | None = None

    def prefetch(self) -> None:
        if self._loading is None:
            self._loading = concurrent.futures.Future()
            threading.Thread(target=self._load, name="agentflow-sdk", daemon=True).start()

    def _load(self) -> None:
        assert self._loading is not None
        try:
            self._real()
        except BaseException as exc:  # noqa: BLE001 - handed to whoever awaits warm_up
            self._loading.set_exception(exc)
        else:
            self._loading.set_result(None)

    def _real(self) -> Provider:
        if self._provider is None:
            from agentflow.providers.anthropic import AnthropicProvider

            self._provider = AnthropicProvider(self._api_key, base_url=self._base_url)
        return self._provider

    async def warm_up(self) -> None:
        self.prefetch()
        assert self._loading is not None
        await asyncio.wrap_future(self._loading)

    async def complete(self, request: ModelRequest) -> ModelResponse:
        return await self._real().complete(request)

    async def count_tokens(self, request: ModelRequest) -> int:
        return await self._real().count_tokens(request)

    async def aclose(self) -> None:
        if self._provider is not None:
            await self._provider.aclose()


def preload(name: str) -> None:
    """Start importing a provider's SDK on a background thread, for a run that will send
    requests whatever its cache holds: the import overlaps validation and planning. A
    provider made afterwards finds the SDK loaded, or waits for the import to end."""
    if name == "anthropic":
        module = "agentflow.providers.anthropic"
        threading.Thread(target=importlib.import_module, args=(module,), daemon=True).start()


def make_provider(name: str, env: Mapping[str, str]) -> Provider:
    """`anthropic` (needs ANTHROPIC_API_KEY; ANTHROPIC_BASE_URL optional) or `simulate`."""
    if name == "anthropic":
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
        return LazyAnthropic(api_key, base_url)
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

"""Model ids, aliases and prices.

Prices live in `agentflow/data/models.json`; a user's file (`--prices FILE` or the
`AGENTFLOW_PRICES` environment variable, same shape, YAML or JSON) overrides or adds
models and aliases. Costs are computed here and nowhere else, so every table agrees.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from agentflow.errors import AgentflowError, Problem
from agentflow.guard.readfile import UnreadableFile, read_limited

PRICES_ENV = "AGENTFLOW_PRICES"
PER_MILLION = 1_000_000
MAX_PRICE_FILE_BYTES = 1024 * 1024  # a price file lists models: a few KB


@dataclass(frozen=True)
class ModelPrice:
    model: str
    input: float  # USD per million tokens
    output: float
    cache_write: float
    cache_read: float
    min_cache_tokens: int
    tier: str


@dataclass(frozen=True)
class Usage:
    """Token figures as the Messages API reports them: the three input figures are disjoint."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    @property
    def total_tokens(self) -> int:
        return self.total_input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        }


@dataclass(frozen=True)
class PriceTable:
    aliases: Mapping[str, str]
    models: Mapping[str, ModelPrice]

    def resolve(self, name: str) -> str:
        """Alias -> model id; a full id is returned as it is."""
        return self.aliases.get(name, name)

    def knows(self, name: str) -> bool:
        return self.resolve(name) in self.models

    def price(self, name: str) -> ModelPrice:
        return self.models[self.resolve(name)]

    def suggestion(self, name: str) -> str | None:
        names = list(self.aliases) + list(self.models)
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        return close[0] if close else None

    def uncached_cost(self, name: str, usage: Usage) -> float:
        """What the same tokens would cost with no prompt caching at all."""
        p = self.price(name)
        return (usage.total_input_tokens * p.input + usage.output_tokens * p.output) / PER_MILLION

    def worst_input_rate(self, name: str) -> float:
        """USD per input token at the dearest rate a request can be billed (a cache write)."""
        p = self.price(name)
        return max(p.input, p.cache_write) / PER_MILLION

    def cost(self, name: str, usage: Usage) -> float:
        p = self.price(name)
        return (
            usage.input_tokens * p.input
            + usage.output_tokens * p.output
            + usage.cache_creation_input_tokens * p.cache_write
            + usage.cache_read_input_tokens * p.cache_read
        ) / PER_MILLION


def _parse_table(data: Any, source: str) -> tuple[dict[str, str], dict[str, ModelPrice]]:
    if not isinstance(data, dict):
        raise AgentflowError.single(source, "a price file must be a mapping with `models:`")
    aliases = data.get("aliases") or {}
    models_raw = data.get("models") or {}
    if not isinstance(aliases, dict) or not isinstance(models_raw, dict):
        raise AgentflowError.single(source, "`aliases` and `models` must be mappings")
    models: dict[str, ModelPrice] = {}
    for model_id, entry in models_raw.items():
        try:
            price = ModelPrice(
                model=str(model_id),
                input=float(entry["input"]),
                output=float(entry["output"]),
                cache_write=float(entry.get("cache_write", float(entry["input"]) * 1.25)),
                cache_read=float(entry.get("cache_read", float(entry["input"]) * 0.1)),
                min_cache_tokens=int(entry.get("min_cache_tokens", 1024)),
                tier=str(entry.get("tier", "standard")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise AgentflowError.single(
                source,
                f"model {model_id!r}: needs numbers `input` and `output` ({exc})",
                hint="prices are USD per million tokens",
            ) from None
        rates = (price.input, price.output, price.cache_write, price.cache_read)
        if not all(math.isfinite(rate) and rate >= 0 for rate in rates):
            raise AgentflowError.single(
                source,
                f"model {model_id!r}: a price must be a number of dollars, 0 or more",
                hint="prices are USD per million tokens",
            )
        models[str(model_id)] = price
    return {str(k): str(v) for k, v in aliases.items()}, models


def _read_user_prices(path: Path) -> Any:
    try:
        raw = read_limited(path, limit=MAX_PRICE_FILE_BYTES, what="price file")
    except UnreadableFile as exc:
        hint = exc.hint or f"check {PRICES_ENV}"
        raise AgentflowError.single(str(path), exc.message, hint=hint) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AgentflowError.single(str(path), "price file is not UTF-8 text") from None
    import yaml

    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise AgentflowError.single(str(path), f"price file is not valid: {exc}") from None


def load_prices(user_file: Path | None = None) -> PriceTable:
    """The packaged prices, overlaid with the user's file (argument, else $AGENTFLOW_PRICES)."""
    packaged = resources.files("agentflow").joinpath("data/models.json").read_text("utf-8")
    aliases, models = _parse_table(json.loads(packaged), "agentflow/data/models.json")
    if user_file is None and os.environ.get(PRICES_ENV):
        user_file = Path(os.environ[PRICES_ENV])
    if user_file is not None:
        extra_aliases, extra_models = _parse_table(_read_user_prices(user_file), str(user_file))
        aliases.update(extra_aliases)
        models.update(extra_models)
    return PriceTable(aliases, models)


def unknown_model_problem(
    table: PriceTable, name: str, file: str, line: int | None, col: int | None
) -> Problem:
    close = table.suggestion(name)
    hint = f"did you mean {close!r}?" if close else "use haiku, sonnet, opus or a priced model id."
    return Problem(
        file,
        f"unknown model {name!r}",
        line,
        col,
        hint=f"{hint} Other models can be priced with --prices FILE",
    )

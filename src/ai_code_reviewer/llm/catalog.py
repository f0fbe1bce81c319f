"""Know each model's context window and price, from the shipped table and LLM_PRICES.

The table is ``llm/models.toml``, data versioned with the code. A model name
is looked up without case, exactly first, then by the longest name in the
table it starts with, so that ``qwen2.5-coder:14b`` and
``gpt-4o-mini-2024-07-18`` find their family. ``LLM_PRICES`` is a JSON object
of ``model: [input, output]`` US dollars per million tokens, laid over the
table's prices.
"""

from __future__ import annotations

import functools
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar

from ai_code_reviewer.errors import ConfigError
from ai_code_reviewer.review.model import Usage

DEFAULT_CONTEXT_TOKENS = 8192
_PER_TOKENS = 1_000_000
_PRICES_SHAPE = (
    "expected a JSON object of model: [input, output] US dollars per million "
    'tokens, e.g. {"my-model": [0.5, 1.5]}'
)

T = TypeVar("T")


@dataclass(frozen=True)
class Price:
    """US dollars per million prompt (input) and completion (output) tokens."""

    input: float
    output: float


@dataclass(frozen=True)
class KnownModel:
    """What the table says of one model; ``price`` is None where none is published."""

    context_tokens: int
    price: Price | None


@functools.cache
def known_models() -> Mapping[str, KnownModel]:
    """Return the shipped table, by lower-case model name."""
    text = resources.files("ai_code_reviewer.llm").joinpath("models.toml").read_text()
    table = tomllib.loads(text)["models"]
    return {name.lower(): _known_model(row) for name, row in table.items()}


def _known_model(row: Mapping[str, Any]) -> KnownModel:
    price = None
    if "input" in row and "output" in row:
        price = Price(float(row["input"]), float(row["output"]))
    return KnownModel(int(row["context"]), price)


def find(model: str, table: Mapping[str, T]) -> T | None:
    """Return the entry of ``model``: its own, else the longest prefix's, else None."""
    name = model.strip().lower()
    if name in table:
        return table[name]
    prefixes = [key for key in table if name.startswith(key)]
    return table[max(prefixes, key=len)] if prefixes else None


def context_tokens(model: str, override: int | None = None) -> int:
    """Return the context window to plan with: ``override``, the table's, or 8192."""
    if override is not None:
        return override
    known = find(model, known_models())
    return known.context_tokens if known is not None else DEFAULT_CONTEXT_TOKENS


def read_prices(prices_json: str | None) -> dict[str, Price]:
    """Return the prices of LLM_PRICES by lower-case model name.

    Raises:
        ConfigError: the text is not a JSON object of ``[input, output]`` pairs
            of non-negative numbers.
    """
    if prices_json is None or not prices_json.strip():
        return {}
    try:
        data = json.loads(prices_json)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"LLM_PRICES is not valid JSON ({exc.msg}); {_PRICES_SHAPE}."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"LLM_PRICES is not a JSON object; {_PRICES_SHAPE}.")
    return {str(name).lower(): _price(name, pair) for name, pair in data.items()}


def _price(name: str, pair: object) -> Price:
    numbers = pair if isinstance(pair, list) and len(pair) == 2 else None
    if numbers is None or not all(_is_amount(value) for value in numbers):
        raise ConfigError(
            f"LLM_PRICES has a wrong price for {name!r}; {_PRICES_SHAPE}."
        )
    return Price(float(numbers[0]), float(numbers[1]))


def _is_amount(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and value >= 0


def price(model: str, prices_json: str | None = None) -> Price | None:
    """Return the price of ``model``, LLM_PRICES first, or None when unknown."""
    table: dict[str, Price | None] = {
        name: known.price for name, known in known_models().items()
    }
    table.update(read_prices(prices_json))
    return find(model, table)


def cost(model: str, usage: Usage, prices_json: str | None = None) -> float | None:
    """Return what ``usage`` of ``model`` cost in US dollars, or None when unknown.

    Raises:
        ConfigError: LLM_PRICES is malformed.
    """
    known = price(model, prices_json)
    if known is None:
        return None
    dollars = (
        usage.prompt_tokens * known.input + usage.completion_tokens * known.output
    ) / _PER_TOKENS
    return round(dollars, 8)

"""Context windows and prices from models.toml, overridden by LLM_PRICES."""

from __future__ import annotations

import pytest

from ai_code_reviewer.errors import ConfigError
from ai_code_reviewer.llm.catalog import (
    DEFAULT_CONTEXT_TOKENS,
    context_tokens,
    cost,
    known_models,
    price,
    read_prices,
)
from ai_code_reviewer.review.model import Usage

NAMED = [
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "o4-mini",
    "claude-sonnet-4-5",
    "claude-opus-4-1",
    "claude-haiku-4-5",
    "llama3.1",
    "qwen2.5-coder",
    "deepseek-coder-v2",
    "codestral",
    "mistral",
]


def test_the_table_knows_every_named_model() -> None:
    """Each well-known model has a context window of at least 8k tokens."""
    table = known_models()

    assert all(table[name].context_tokens >= 8192 for name in NAMED)


def test_local_models_cost_nothing() -> None:
    """The open-weight models, run locally, have a zero price."""
    for name in ("llama3.1", "qwen2.5-coder", "deepseek-coder-v2", "mistral"):
        assert cost(name, Usage(1_000_000, 1_000_000)) == 0.0


@pytest.mark.parametrize(
    ("model", "override", "expected"),
    [
        ("gpt-4o", None, 128_000),
        ("GPT-4o", None, 128_000),
        ("qwen2.5-coder:14b", None, 32_768),
        ("gpt-4.1-mini-2025-04-14", None, 1_047_576),
        ("claude-sonnet-4-5-20250929", None, 200_000),
        ("my-own-model", None, DEFAULT_CONTEXT_TOKENS),
        ("gpt-4o", 16_384, 16_384),
    ],
)
def test_context_tokens(model: str, override: int | None, expected: int) -> None:
    """The override wins, then the exact name, the longest prefix, and 8192."""
    assert context_tokens(model, override) == expected


def test_cost_from_the_table() -> None:
    """gpt-4o-mini costs 0.15 and 0.60 dollars a million tokens in and out."""
    usage = Usage(prompt_tokens=2_000_000, completion_tokens=500_000)

    assert cost("gpt-4o-mini-2024-07-18", usage) == pytest.approx(0.3 + 0.3)


def test_llm_prices_add_and_override_prices() -> None:
    """LLM_PRICES prices an unknown model and replaces a known one's price."""
    prices = '{"house-model": [1, 2], "gpt-4o": [0.5, 0.5]}'
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000)

    assert cost("house-model:v2", usage, prices) == pytest.approx(3.0)
    assert cost("gpt-4o", usage, prices) == pytest.approx(1.0)
    assert cost("gpt-4o-mini", usage, prices) == pytest.approx(0.75)


def test_an_unknown_price_gives_no_cost() -> None:
    """A model with no price anywhere has an unknown cost, not a zero one."""
    assert price("house-model") is None
    assert cost("house-model", Usage(10, 10)) is None


def test_empty_llm_prices_are_no_prices() -> None:
    """An unset or blank LLM_PRICES adds nothing."""
    assert read_prices(None) == {}
    assert read_prices("  ") == {}


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1, 2]",
        '{"m": 3}',
        '{"m": [1]}',
        '{"m": [1, "two"]}',
        '{"m": [-1, 2]}',
        '{"m": [true, 2]}',
        '{"m": [1, NaN]}',
    ],
)
def test_malformed_llm_prices_are_a_config_error(text: str) -> None:
    """A malformed LLM_PRICES is refused with an error that names it."""
    with pytest.raises(ConfigError, match="LLM_PRICES"):
        read_prices(text)

"""Fixtures of the model-client tests: fake model servers on loopback, settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ai_code_reviewer.llm.base import ModelPrompt
from ai_code_reviewer.settings import Settings
from tests.modelservers import FakeModelServer, serving

API_KEY = "sk-test-4f9a0c2e7b1d"
PROMPT = ModelPrompt(
    system="You review code changes and answer in JSON.",
    user="Review this diff:\n+x = eval(os.environ['X'])\n",
    max_output_tokens=512,
    context_tokens=8192,
)


def llm_settings(provider: str, base_url: str | None, **overrides: Any) -> Settings:
    """Build settings for a model client, ignoring any .env file of the developer."""
    values: dict[str, Any] = {
        "llm_provider": provider,
        "llm_model": "test-model",
        "llm_base_url": base_url,
        "llm_api_key": API_KEY,
        "llm_timeout": 10.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def openai_server() -> Iterator[FakeModelServer]:
    """Yield a fake OpenAI chat completions server."""
    with serving("openai") as server:
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[FakeModelServer]:
    """Yield a fake Anthropic messages server."""
    with serving("anthropic") as server:
        yield server


@pytest.fixture
def ollama_server() -> Iterator[FakeModelServer]:
    """Yield a fake Ollama server."""
    with serving("ollama") as server:
        yield server

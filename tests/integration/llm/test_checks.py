"""The clients' health checks: one read-only request, no token spent, no key told."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ai_code_reviewer.errors import LLMError, ReviewerError, TransientError
from ai_code_reviewer.llm.anthropic import AnthropicClient
from ai_code_reviewer.llm.clients import build_model_client
from ai_code_reviewer.llm.engine import ModelReviewer
from ai_code_reviewer.llm.factory import build_reviewer
from ai_code_reviewer.llm.ollama import OllamaClient
from ai_code_reviewer.llm.openai import OpenAIClient
from tests.integration.llm.conftest import API_KEY, llm_settings
from tests.modelservers import (
    FakeModelServer,
    Protocol,
    Slow,
    server_error,
    serving,
    unauthorized,
)

# Provider, the protocol its fake server speaks, the base URL's path, and the
# path its check asks.
PROVIDERS: list[tuple[str, Protocol, str, str]] = [
    ("openai", "openai", "/v1", "/v1/models"),
    ("azure", "openai", "", "/openai/models"),
    ("anthropic", "anthropic", "", "/v1/models/test-model"),
    ("ollama", "ollama", "", "/api/tags"),
]
IDS = [provider for provider, *_ in PROVIDERS]
Checked = OpenAIClient | AnthropicClient | OllamaClient
ClientFactory = Callable[..., Awaitable[Checked]]


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    """Return a factory of a provider's client of a base URL, closed after the test."""
    made: list[Checked] = []

    async def make(provider: str, base_url: str, **overrides: Any) -> Checked:
        model = overrides.pop("model", "test-model")
        client = build_model_client(
            llm_settings(provider, base_url, **overrides), model
        )
        assert isinstance(client, OpenAIClient | AnthropicClient | OllamaClient)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


def free_port() -> int:
    """Return a port of 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(("provider", "protocol", "path", "asked"), PROVIDERS, ids=IDS)
async def test_check_asks_one_read_only_request(
    make_client: ClientFactory,
    provider: str,
    protocol: Protocol,
    path: str,
    asked: str,
) -> None:
    """Each client's check sends one GET to its read-only path and says it answered."""
    with serving(protocol) as server:
        client = await make_client(provider, server.base_url + path)

        answer = await client.check()

    assert answer.startswith("reachable")
    assert [request.path for request in server.requests] == [asked]
    assert server.requests[0].body == {}


@pytest.mark.parametrize(("provider", "protocol", "path", "asked"), PROVIDERS, ids=IDS)
async def test_refused_key_fails_without_quoting_it(
    make_client: ClientFactory,
    provider: str,
    protocol: Protocol,
    path: str,
    asked: str,
) -> None:
    """A 401 that quotes the key raises LLMError that does not repeat the key."""
    with serving(protocol) as server:
        server.script = [unauthorized()]
        client = await make_client(provider, server.base_url + path)

        with pytest.raises(LLMError, match="refused the API key") as caught:
            await client.check()

    assert API_KEY not in str(caught.value)


@pytest.mark.parametrize(("provider", "protocol", "path", "asked"), PROVIDERS, ids=IDS)
async def test_failing_or_slow_server_is_transient(
    make_client: ClientFactory,
    provider: str,
    protocol: Protocol,
    path: str,
    asked: str,
) -> None:
    """A 500 and an answer later than LLM_TIMEOUT both raise TransientError."""
    with serving(protocol) as server:
        server.script = [server_error(), Slow(3.0)]
        client = await make_client(provider, server.base_url + path, llm_timeout=0.5)

        with pytest.raises(TransientError, match="HTTP 500"):
            await client.check()
        with pytest.raises(TransientError, match=r"did not answer within 0\.5 s"):
            await client.check()


@pytest.mark.parametrize(("provider", "protocol", "path", "asked"), PROVIDERS, ids=IDS)
async def test_unreachable_server_is_transient(
    make_client: ClientFactory,
    provider: str,
    protocol: Protocol,
    path: str,
    asked: str,
) -> None:
    """A port where nothing listens raises TransientError."""
    client = await make_client(provider, f"http://127.0.0.1:{free_port()}{path}")

    with pytest.raises(TransientError, match="could not reach the model server"):
        await client.check()


async def test_openai_check_names_the_listed_model(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """The OpenAI check says the model is present when /models lists it."""
    openai_server.models = ["gpt-4o-mini", "test-model"]
    client = await make_client("openai", f"{openai_server.base_url}/v1")

    answer = await client.check()

    assert answer == "reachable, model test-model present"
    assert openai_server.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


async def test_openai_check_fails_when_the_model_is_not_listed(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """A server that does not list the model fails the check, naming what it has."""
    openai_server.models = [f"model-{n}" for n in range(7)]
    client = await make_client("openai", f"{openai_server.base_url}/v1")

    with pytest.raises(LLMError) as caught:
        await client.check()

    assert str(caught.value) == (
        "the model server answered but has no model 'test-model' (it lists "
        "model-0, model-1, model-2, model-3, model-4 and 2 more)"
    )


async def test_server_without_a_model_list_says_so(
    make_client: ClientFactory, ollama_server: FakeModelServer
) -> None:
    """A 404 on the list means the endpoint is missing, not the model."""
    client = await make_client("openai", f"{ollama_server.base_url}/v1")

    with pytest.raises(LLMError, match="has no /models endpoint"):
        await client.check()


async def test_azure_check_proves_endpoint_version_and_key(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """The Azure check lists the resource's models with api-version and api-key."""
    openai_server.models = ["gpt-4o", "gpt-4o-mini"]
    client = await make_client(
        "azure",
        openai_server.base_url,
        model="reviewer-deployment",
        llm_api_version="2024-10-21",
    )

    answer = await client.check()

    request = openai_server.requests[0]
    assert request.query == {"api-version": "2024-10-21"}
    assert request.headers["api-key"] == API_KEY
    assert answer == (
        "reachable, API key accepted (2 models offered); "
        "the deployment reviewer-deployment is not checked"
    )


async def test_anthropic_check_fails_for_an_unknown_model(
    make_client: ClientFactory, anthropic_server: FakeModelServer
) -> None:
    """The Anthropic check fails with the model named when the API does not know it."""
    client = await make_client(
        "anthropic", anthropic_server.base_url, model="claude-none"
    )

    with pytest.raises(LLMError, match="does not know the model 'claude-none'"):
        await client.check()

    assert anthropic_server.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize(
    ("pulled", "model"),
    [
        (["qwen2.5-coder:14b"], "qwen2.5-coder:14b"),
        (["llama3"], "llama3"),
        (["llama3"], "llama3:latest"),
    ],
)
async def test_ollama_check_finds_the_pulled_model(
    make_client: ClientFactory,
    ollama_server: FakeModelServer,
    pulled: list[str],
    model: str,
) -> None:
    """The Ollama check finds the model, with or without the default tag."""
    ollama_server.models = pulled
    client = await make_client("ollama", ollama_server.base_url, model=model)

    answer = await client.check()

    assert answer.startswith("reachable, model ")
    assert answer.endswith(" present")


async def test_ollama_check_says_how_to_pull_a_missing_model(
    make_client: ClientFactory, ollama_server: FakeModelServer
) -> None:
    """A model that was never pulled fails the check with the command to pull it."""
    ollama_server.models = ["llama3"]
    client = await make_client("ollama", ollama_server.base_url, model="qwen2.5-coder")

    with pytest.raises(LLMError) as caught:
        await client.check()

    assert str(caught.value) == (
        "the model server answered but has no model 'qwen2.5-coder' "
        "(it lists llama3); run `ollama pull qwen2.5-coder` on the server"
    )


async def test_reviewer_checks_its_first_model_and_names_all(
    openai_server: FakeModelServer,
) -> None:
    """ModelReviewer.check asks only the first model's server and names every model."""
    settings = llm_settings(
        "openai",
        f"{openai_server.base_url}/v1",
        llm_fallback_models="backup-model",
        llm_context_tokens=8192,
    )
    reviewer = build_reviewer(settings)
    assert isinstance(reviewer, ModelReviewer)

    try:
        answer = await reviewer.check()
    finally:
        await reviewer.aclose()

    assert answer == (
        "reachable, model test-model present; models in order: test-model, backup-model"
    )
    assert len(openai_server.requests) == 1


async def test_reviewer_check_raises_the_first_model_error(
    openai_server: FakeModelServer,
) -> None:
    """A failing first model fails the reviewer's check with the project's error."""
    openai_server.script = [unauthorized()]
    reviewer = build_reviewer(
        llm_settings("openai", f"{openai_server.base_url}/v1", llm_context_tokens=8192)
    )
    assert isinstance(reviewer, ModelReviewer)

    try:
        with pytest.raises(ReviewerError) as caught:
            await reviewer.check()
    finally:
        await reviewer.aclose()

    assert API_KEY not in str(caught.value)

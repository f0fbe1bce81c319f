"""The client factory: which client each provider gets, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme

from ai_code_reviewer.errors import ConfigError, TransientError
from ai_code_reviewer.llm.anthropic import AnthropicClient
from ai_code_reviewer.llm.clients import build_model_client
from ai_code_reviewer.llm.ollama import OllamaClient
from ai_code_reviewer.llm.openai import OpenAIClient
from tests.integration.llm.conftest import PROMPT, llm_settings
from tests.modelservers import Protocol, serving

# Provider, the protocol its fake server speaks, and the base URL's path.
PROVIDERS: list[tuple[str, Protocol, str]] = [
    ("openai", "openai", "/v1"),
    ("azure", "openai", ""),
    ("anthropic", "anthropic", ""),
    ("ollama", "ollama", ""),
]
CLASSES = {
    "openai": OpenAIClient,
    "azure": OpenAIClient,
    "anthropic": AnthropicClient,
    "ollama": OllamaClient,
}


@pytest.mark.parametrize(("provider", "protocol", "path"), PROVIDERS)
async def test_each_provider_gets_its_client_and_answers(
    provider: str, protocol: Protocol, path: str
) -> None:
    """build_model_client picks the provider's client, which answers a prompt."""
    with serving(protocol) as server:
        client = build_model_client(
            llm_settings(provider, server.base_url + path), "test-model"
        )
        answer = await client.complete(PROMPT)
        await client.aclose()

    assert isinstance(client, CLASSES[provider])
    assert (client.provider, client.model) == (provider, "test-model")
    assert answer.summary
    assert len(server.requests) == 1


def test_ollama_defaults_to_the_local_server() -> None:
    """Ollama needs neither a base URL nor a key."""
    settings = llm_settings("ollama", None, llm_api_key=None)

    client = build_model_client(settings, "llama3.1")

    assert isinstance(client, OllamaClient)


def test_openai_compatible_server_needs_no_key() -> None:
    """An OpenAI-compatible server at LLM_BASE_URL may run without a key."""
    settings = llm_settings("openai", "http://127.0.0.1:8001/v1", llm_api_key=None)

    client = build_model_client(settings, "qwen2.5-coder")

    assert isinstance(client, OpenAIClient)


@pytest.mark.parametrize(
    ("provider", "base_url", "api_key", "model", "says"),
    [
        ("builtin", None, None, "m", "LLM_PROVIDER=builtin calls no model"),
        ("openai", None, "sk-1", " ", "LLM_MODEL is required"),
        ("azure", None, "sk-1", "m", "LLM_PROVIDER=azure needs LLM_BASE_URL"),
        ("azure", "https://r.openai.azure.com", None, "m", "needs LLM_API_KEY"),
        ("openai", None, None, "m", "LLM_PROVIDER=openai needs LLM_API_KEY"),
        ("anthropic", None, None, "m", "LLM_PROVIDER=anthropic needs LLM_API_KEY"),
        ("ollama", "localhost:11434", None, "m", "must start with http"),
    ],
)
def test_missing_settings_raise_one_clear_config_error(
    provider: str, base_url: str | None, api_key: str | None, model: str, says: str
) -> None:
    """Each missing or wrong setting is named in a ConfigError."""
    settings = llm_settings(provider, base_url, llm_api_key=api_key)

    with pytest.raises(ConfigError, match=says):
        build_model_client(settings, model)


def test_missing_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    """LLM_CA_BUNDLE naming no file is refused before any call."""
    settings = llm_settings(
        "ollama", None, llm_ca_bundle=tmp_path / "missing.pem", llm_api_key=None
    )

    with pytest.raises(ConfigError, match="LLM_CA_BUNDLE"):
        build_model_client(settings, "llama3.1")


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, tuple[str, str]]:
    """Return a CA file, and a certificate and key it signed for 127.0.0.1."""
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    ca_file, cert_file, key_file = (tmp_path / n for n in ("ca.pem", "c.pem", "k.pem"))
    ca.cert_pem.write_to_path(str(ca_file))
    issued.cert_chain_pems[0].write_to_path(str(cert_file))
    issued.private_key_pem.write_to_path(str(key_file))
    return ca_file, (str(cert_file), str(key_file))


@pytest.mark.parametrize(("provider", "protocol", "path"), PROVIDERS)
async def test_ca_bundle_is_trusted(
    provider: str,
    protocol: Protocol,
    path: str,
    tls_files: tuple[Path, tuple[str, str]],
) -> None:
    """With LLM_CA_BUNDLE each client trusts a server signed by a private CA."""
    ca_file, server_files = tls_files
    with serving(protocol, server_files) as server:
        settings = llm_settings(provider, server.base_url + path, llm_ca_bundle=ca_file)
        client = build_model_client(settings, "test-model")
        answer = await client.complete(PROMPT)
        await client.aclose()

    assert server.base_url.startswith("https://")
    assert answer.summary


@pytest.mark.parametrize(("provider", "protocol", "path"), PROVIDERS)
async def test_unknown_ca_is_refused_unless_verification_is_off(
    provider: str,
    protocol: Protocol,
    path: str,
    tls_files: tuple[Path, tuple[str, str]],
) -> None:
    """Without the CA the call fails as transient; LLM_VERIFY_TLS=false lets it by."""
    with serving(protocol, tls_files[1]) as server:
        url = server.base_url + path
        checked = build_model_client(llm_settings(provider, url), "test-model")
        unchecked = build_model_client(
            llm_settings(provider, url, llm_verify_tls=False), "test-model"
        )
        with pytest.raises(TransientError, match="could not reach"):
            await checked.complete(PROMPT)
        answer = await unchecked.complete(PROMPT)
        await checked.aclose()
        await unchecked.aclose()

    assert answer.summary
    assert len(server.requests) == 1

"""Build the model client that LLM_PROVIDER names, after checking its settings."""

from __future__ import annotations

from collections.abc import Callable

from ai_code_reviewer.errors import ConfigError
from ai_code_reviewer.llm.anthropic import AnthropicClient
from ai_code_reviewer.llm.base import ModelClient
from ai_code_reviewer.llm.calls import api_key
from ai_code_reviewer.llm.ollama import OllamaClient
from ai_code_reviewer.llm.openai import OpenAIClient
from ai_code_reviewer.settings import Settings

ClientFactory = Callable[[Settings, str], ModelClient]
FACTORIES: dict[str, ClientFactory] = {
    "openai": OpenAIClient.from_settings,
    "azure": OpenAIClient.from_settings,
    "anthropic": AnthropicClient.from_settings,
    "ollama": OllamaClient.from_settings,
}
# Providers whose own cloud needs a key; against another LLM_BASE_URL (a local
# server, a gateway) the key is optional.
VENDOR_CLOUDS = ("openai", "anthropic")


def build_model_client(settings: Settings, model: str) -> ModelClient:
    """Return the client of ``model`` on the provider LLM_PROVIDER names.

    Raises:
        ConfigError: a setting the provider needs is missing or wrong.
    """
    factory = FACTORIES.get(settings.llm_provider)
    if factory is None:
        raise ConfigError(
            f"LLM_PROVIDER={settings.llm_provider} calls no model; set it to "
            "openai, azure, ollama or anthropic to review with one."
        )
    check_model_settings(settings, model)
    return factory(settings, model)


def check_model_settings(settings: Settings, model: str) -> None:
    """Raise ConfigError, in one sentence, on the first missing or wrong setting."""
    provider = settings.llm_provider
    base_url = settings.llm_base_url
    if not model.strip():
        raise ConfigError(f"LLM_MODEL is required when LLM_PROVIDER={provider}.")
    if base_url is not None and not base_url.startswith(("http://", "https://")):
        raise ConfigError("LLM_BASE_URL must start with http:// or https://.")
    if provider == "azure" and base_url is None:
        raise ConfigError(
            "LLM_PROVIDER=azure needs LLM_BASE_URL, the Azure OpenAI endpoint "
            "(https://RESOURCE.openai.azure.com)."
        )
    needs_key = provider == "azure" or (provider in VENDOR_CLOUDS and not base_url)
    if needs_key and api_key(settings) is None:
        raise ConfigError(
            f"LLM_PROVIDER={provider} needs LLM_API_KEY to call the vendor's API."
        )
    bundle = settings.llm_ca_bundle
    if bundle is not None and not bundle.is_file():
        raise ConfigError(f"LLM_CA_BUNDLE {bundle} is not a readable file.")

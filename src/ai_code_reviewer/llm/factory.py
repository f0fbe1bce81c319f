"""Build the reviewer the settings ask for: the built-in one, or the model engine."""

from __future__ import annotations

from pathlib import Path

from ai_code_reviewer.errors import ConfigError
from ai_code_reviewer.llm.base import ModelClient, Reviewer, SourceReader
from ai_code_reviewer.llm.builtin import BuiltinReviewer
from ai_code_reviewer.llm.catalog import context_tokens, read_prices
from ai_code_reviewer.llm.engine import EngineConfig, ModelReviewer
from ai_code_reviewer.settings import Settings


def build_reviewer(settings: Settings, sources: SourceReader | None = None) -> Reviewer:
    """Return the reviewer of LLM_PROVIDER, its settings checked.

    ``sources`` reads whole files for the built-in reviewer; the model engine
    sees only the diff.

    Raises:
        ConfigError: LLM_MODEL is missing, LLM_PRICES is malformed, the
            guidelines file cannot be read, or a client's setting is wrong.
    """
    if settings.llm_provider == "builtin":
        return BuiltinReviewer(sources=sources)
    model = (settings.llm_model or "").strip()
    if not model:
        raise ConfigError(
            f"LLM_MODEL is required when LLM_PROVIDER={settings.llm_provider}."
        )
    read_prices(settings.llm_prices)
    guidelines = read_guidelines(settings.review_guidelines_file)
    names = list(dict.fromkeys([model, *settings.fallback_models]))
    config = EngineConfig(
        # The smallest window of the models, so that a fallback fits every chunk.
        context_tokens=min(
            context_tokens(name, settings.llm_context_tokens) for name in names
        ),
        max_output_tokens=settings.llm_max_output_tokens,
        max_concurrency=settings.llm_max_concurrency,
        ignore_globs=settings.ignore_globs,
        guidelines=guidelines,
        prices=settings.llm_prices,
    )
    return ModelReviewer(_clients(settings, names), config)


def _clients(settings: Settings, names: list[str]) -> list[ModelClient]:
    # Imported here so that the engine and its tests do not load vendor SDKs.
    from ai_code_reviewer.llm.clients import build_model_client

    return [build_model_client(settings, name) for name in names]


def read_guidelines(path: Path | None) -> str | None:
    """Return the text of REVIEW_GUIDELINES_FILE, or None when it is not set.

    Raises:
        ConfigError: the file does not exist or cannot be read as UTF-8 text.
    """
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise ConfigError(
            f"REVIEW_GUIDELINES_FILE {path} cannot be read: {reason}."
        ) from None

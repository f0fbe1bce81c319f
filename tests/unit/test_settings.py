"""Tests of the settings object and its documentation in .env.example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ai_code_reviewer.errors import ConfigError
from ai_code_reviewer.settings import DEFAULT_DATABASE_URL, Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_embedded_sqlite_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without configuration the service uses ./ai_code_reviewer.db on port 8000."""
    monkeypatch.delenv("DATABASE_URL", raising=False)

    settings = Settings(_env_file=None)

    assert settings.database_url == DEFAULT_DATABASE_URL
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment variables, in any case of log level, set the fields."""
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("RETENTION_DAYS", "")

    settings = Settings(_env_file=None)

    assert settings.port == 9001
    assert settings.log_level == "DEBUG"
    assert settings.retention_days is None


def test_unsupported_driver_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A synchronous driver in DATABASE_URL is refused with the supported ones named."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@localhost/db")

    with pytest.raises(ConfigError, match="DATABASE_URL must start with one of"):
        load_settings(_env_file=None)


def test_bad_number_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A value that does not parse is reported with its variable's name."""
    monkeypatch.setenv("PORT", "eighty")

    with pytest.raises(ConfigError, match="PORT"):
        load_settings(_env_file=None)


def test_env_example_documents_every_setting() -> None:
    """.env.example names every field of Settings, and nothing else."""
    text = (REPO_ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.M))

    fields = {name.upper() for name in Settings.model_fields}

    assert fields <= documented
    assert documented <= fields


def test_env_example_parses_to_the_defaults() -> None:
    """Loading .env.example as it is gives the same settings as no file at all."""
    from_example = Settings(_env_file=REPO_ROOT / ".env.example")

    assert from_example == Settings(_env_file=None)

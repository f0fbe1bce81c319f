"""Fixtures of the operations tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from ai_code_reviewer.api.db.database import Database
from tests.conftest import make_settings

UNREACHABLE_URL = "postgresql+asyncpg://acr:secret-db-password@127.0.0.1:9/none"


@pytest.fixture
async def unreachable_database(app: FastAPI, tmp_path: Path) -> AsyncIterator[Database]:
    """Point the app at a PostgreSQL port where nothing listens, then back."""
    broken = Database(make_settings(UNREACHABLE_URL, tmp_path))
    working, app.state.database = app.state.database, broken
    yield broken
    app.state.database = working
    await broken.dispose()

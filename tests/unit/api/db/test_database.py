"""The database layer: SQLite connection settings and the guide's module functions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from ai_code_reviewer.api.db import database as db
from ai_code_reviewer.api.db.database import Database, get_session, init_db
from ai_code_reviewer.api.db.migrations import head_revision
from ai_code_reviewer.api.db.models import ReviewRecord
from ai_code_reviewer.settings import Settings
from tests.conftest import make_settings, sqlite_url


async def pragma(database: Database, name: str) -> object:
    """Read one PRAGMA on a new connection of ``database``."""
    async with database.engine.connect() as connection:
        return (await connection.execute(text(f"PRAGMA {name}"))).scalar()


async def test_every_sqlite_connection_gets_wal_timeout_and_foreign_keys(
    tmp_path: Path,
) -> None:
    """Each pooled SQLite connection runs in WAL with a busy timeout and FKs on."""
    settings = make_settings(sqlite_url(tmp_path / "p.db"), tmp_path)
    database = Database(settings)

    async with database.engine.connect() as first, database.engine.connect() as second:
        seen = [
            (
                (await c.execute(text("PRAGMA journal_mode"))).scalar(),
                (await c.execute(text("PRAGMA foreign_keys"))).scalar(),
                (await c.execute(text("PRAGMA busy_timeout"))).scalar(),
            )
            for c in (first, second)
        ]
    await database.dispose()

    assert seen == [("wal", 1, settings.sqlite_busy_timeout_ms)] * 2


async def test_sqlite_folder_is_created(tmp_path: Path) -> None:
    """A database path in a folder that does not exist yet (./data/...) works."""
    path = tmp_path / "data" / "ai_code_reviewer_dev.db"
    database = Database(make_settings(sqlite_url(path), tmp_path))

    revision = await database.migrate()
    await database.dispose()

    assert revision == head_revision()
    assert path.is_file()


def test_get_session_survives_a_new_event_loop(settings: Settings) -> None:
    """Two asyncio.run calls in one script both get working sessions."""

    async def count() -> int:
        async with get_session() as session:
            query = select(func.count()).select_from(ReviewRecord)
            return (await session.execute(query)).scalar_one()

    async def close() -> None:
        await db.close_db()

    db.configure(settings)
    try:
        first = asyncio.run(count())
        second = asyncio.run(count())
    finally:
        asyncio.run(close())

    assert first == second == 0


def test_init_db_migrates_and_becomes_the_default(tmp_path: Path) -> None:
    """init_db() creates the tables and get_session() then uses that database."""
    settings = make_settings(sqlite_url(tmp_path / "init.db"), tmp_path)

    async def tables() -> list[str]:
        async with get_session() as session:
            rows = await session.execute(
                text("SELECT name FROM sqlite_master WHERE type = 'table'")
            )
            names = [row[0] for row in rows]
        await db.close_db()
        return names

    init_db(settings)
    names = asyncio.run(tables())

    assert {"review_records", "review_failure_logs", "alembic_version"} <= set(names)


def test_default_database_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without configure(), get_session() opens DATABASE_URL from the environment."""
    url = sqlite_url(tmp_path / "env.db")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    db._default.forget()
    db._default.settings = None

    async def url_in_use() -> str:
        async with get_session() as session:
            bind = session.get_bind()
            assert isinstance(bind, Engine)
            used = bind.url.render_as_string()
        await db.close_db()
        return used

    assert asyncio.run(url_in_use()) == url

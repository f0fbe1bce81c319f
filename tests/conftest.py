"""Shared fixtures: real SQLite and PostgreSQL databases, the app and factories.

PostgreSQL tests use the server at TEST_POSTGRES_URL (default: the local one on
127.0.0.1:5432). One database is created for the test session, migrated once,
and emptied before each test. When no server answers, those tests are skipped,
except under CI (CI=true) or ACR_REQUIRE_POSTGRES=1, where they fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ai_code_reviewer.api.app import create_app
from ai_code_reviewer.api.db.database import Database, run_migrations
from ai_code_reviewer.api.db.models import Base, ReviewFailureLog, ReviewRecord
from ai_code_reviewer.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_PG_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Build settings for a test, ignoring any .env file of the developer."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "backup_dir": tmp_path / "backups",
        "email_outbox_dir": tmp_path / "outbox",
        # The app's own worker is off unless a test asks for it, so that API
        # tests see jobs as they were accepted.
        "worker_concurrency": 0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def sqlite_url(path: Path) -> str:
    """Return the aiosqlite URL of a file."""
    return f"sqlite+aiosqlite:///{path}"


def pg_admin_url() -> str:
    """Return the URL of the PostgreSQL server's maintenance database."""
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_PG_ADMIN_URL)


def postgres_required() -> bool:
    """Tell whether a missing PostgreSQL server fails the run instead of skipping."""
    return bool(os.environ.get("CI")) or os.environ.get("ACR_REQUIRE_POSTGRES") == "1"


def _dsn(url: str) -> str:
    return (
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(_dsn(pg_admin_url()), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def create_pg_database(prefix: str = "acr_test") -> str:
    """Create an empty PostgreSQL database and return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    return (
        make_url(pg_admin_url())
        .set(database=name)
        .render_as_string(hide_password=False)
    )


def drop_pg_database(url: str) -> None:
    """Drop a database made by create_pg_database, closing its sessions first."""
    name = make_url(url).database
    asyncio.run(
        _admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
    )
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}"'))


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """Return the admin URL of a reachable PostgreSQL server, or skip."""
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        message = f"PostgreSQL at {pg_admin_url()} is not reachable: {exc}"
        if postgres_required():
            pytest.fail(message)
        pytest.skip(message)
    return pg_admin_url()


@pytest.fixture
def fresh_postgres_url(postgres_server: str) -> Iterator[str]:
    """Yield the URL of a new, empty PostgreSQL database, dropped afterwards."""
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_server: str) -> Iterator[str]:
    """Yield one PostgreSQL database migrated to head for the whole session."""
    url = create_pg_database()
    run_migrations(Settings(_env_file=None, database_url=url))
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a SQLite file migrated to head, to be copied by each test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_migrations(Settings(_env_file=None, database_url=sqlite_url(path)))
    return path


async def _empty_tables(url: str) -> None:
    database = Database(Settings(_env_file=None, database_url=url))
    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await database.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite_template: Path
) -> str:
    """Return the URL of an empty database at head: SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "ai_code_reviewer.db"
        shutil.copyfile(migrated_sqlite_template, path)
        return sqlite_url(path)
    url: str = request.getfixturevalue("migrated_postgres_url")
    asyncio.run(_empty_tables(url))
    return url


@pytest.fixture
def sqlite_db_url(tmp_path: Path, migrated_sqlite_template: Path) -> str:
    """Return the URL of an empty SQLite database at head."""
    path = tmp_path / "ai_code_reviewer.db"
    shutil.copyfile(migrated_sqlite_template, path)
    return sqlite_url(path)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Return settings pointing at the test's database."""
    return make_settings(db_url, tmp_path)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """Open the test's database and close it afterwards."""
    opened = Database(settings)
    yield opened
    await opened.dispose()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """Run the application's lifespan around the test."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Return an HTTP client speaking to the application in process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


ReviewFactory = Callable[..., Awaitable[ReviewRecord]]
FailureFactory = Callable[..., Awaitable[ReviewFailureLog]]


@pytest.fixture
def make_review(database: Database) -> ReviewFactory:
    """Return a factory that stores a review; keyword arguments override fields."""
    counter = iter(range(1, 1_000_000))

    async def make(**overrides: Any) -> ReviewRecord:
        n = next(counter)
        values: dict[str, Any] = {
            "review_type": "auto",
            "trigger_type": "commit",
            "project_key": "PROJ",
            "repo_slug": "service",
            "commit_id": f"{n:040x}",
            "author_name": "Ada Lovelace",
            "author_email": "ada@example.com",
            "diff_content": "diff --git a/x.py b/x.py\n+print('hi')\n",
            "review_feedback": f"Review number {n}: looks fine.",
            "email_recipients": ["ada@example.com"],
            "llm_provider": "builtin",
            "llm_model": "builtin",
        }
        values.update(overrides)
        record = ReviewRecord(**values)
        async with database.session() as session:
            session.add(record)
            await session.commit()
        return record

    return make


@pytest.fixture
def make_failure(database: Database) -> FailureFactory:
    """Return a factory that stores a failure log; keyword arguments override fields."""

    async def make(**overrides: Any) -> ReviewFailureLog:
        values: dict[str, Any] = {
            "event_type": "webhook",
            "event_key": "repo:refs_changed",
            "request_payload": {"eventKey": "repo:refs_changed"},
            "project_key": "PROJ",
            "repo_slug": "service",
            "commit_id": "a" * 40,
            "author_email": "ada@example.com",
            "failure_stage": "llm_review",
            "error_type": "TimeoutError",
            "error_message": "the model did not answer within 60 s",
        }
        values.update(overrides)
        record = ReviewFailureLog(**values)
        async with database.session() as session:
            session.add(record)
            await session.commit()
        return record

    return make

"""Alembic on real SQLite and PostgreSQL: up, down, autogenerate, adoption, guards."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from ai_code_reviewer.api.app import create_app
from ai_code_reviewer.api.db.database import Database, run_migrations
from ai_code_reviewer.api.db.migrations import alembic_config, head_revision
from ai_code_reviewer.api.db.models import Base
from ai_code_reviewer.errors import DatabaseError, SchemaAheadError
from ai_code_reviewer.settings import Settings
from tests.conftest import sqlite_url

# The schema as the guide prints it: what a release without Alembic created.
GUIDE_DDL = [
    """CREATE TABLE review_records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
        review_type VARCHAR(50) NOT NULL, trigger_type VARCHAR(50) NOT NULL,
        project_key VARCHAR(255) NOT NULL, repo_slug VARCHAR(255) NOT NULL,
        commit_id VARCHAR(255), pr_id INTEGER,
        author_name VARCHAR(255), author_email VARCHAR(255),
        diff_content TEXT NOT NULL, review_feedback TEXT NOT NULL,
        email_recipients JSON, email_sent BOOLEAN DEFAULT FALSE,
        llm_provider VARCHAR(50), llm_model VARCHAR(100))""",
    """CREATE TABLE review_failure_logs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
        event_type VARCHAR(50) NOT NULL, event_key VARCHAR(100),
        request_payload JSON, project_key VARCHAR(255), repo_slug VARCHAR(255),
        commit_id VARCHAR(255), pr_id INTEGER,
        author_name VARCHAR(255), author_email VARCHAR(255),
        failure_stage VARCHAR(100) NOT NULL, error_type VARCHAR(255) NOT NULL,
        error_message TEXT NOT NULL, error_stacktrace TEXT,
        retry_count INTEGER DEFAULT 0, resolved BOOLEAN DEFAULT FALSE,
        resolution_notes TEXT)""",
    "CREATE INDEX ix_review_records_project_key ON review_records(project_key)",
    "INSERT INTO review_records (review_type, trigger_type, project_key, repo_slug,"
    " diff_content, review_feedback) VALUES ('auto', 'commit', 'OLD', 'legacy',"
    " 'diff', 'feedback')",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return the URL of a database with no table at all."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "fresh.db")
    url: str = request.getfixturevalue("fresh_postgres_url")
    return url


def guide_ddl_for(url: str) -> list[str]:
    """Return the guide's DDL in the dialect of ``url``."""
    if url.startswith("sqlite"):
        return GUIDE_DDL
    serial = [
        s.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "SERIAL PRIMARY KEY")
        for s in GUIDE_DDL
    ]
    return [s.replace("DATETIME", "TIMESTAMP") for s in serial]


def settings_for(url: str) -> Settings:
    """Build settings for ``url`` alone."""
    return Settings(_env_file=None, database_url=url)


def differences(connection: Connection) -> list[object]:
    """Compare the live schema with the models as autogenerate would."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def run_on(url: str, statements: list[str]) -> None:
    """Execute raw SQL statements on ``url`` in one transaction."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def scalar(url: str, query: str) -> object:
    """Return the first column of the first row of ``query``."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(text(query))).scalar()
    finally:
        await engine.dispose()


def test_upgrade_downgrade_upgrade_round_trips(empty_db_url: str) -> None:
    """upgrade head, downgrade -1, downgrade base and upgrade head again all work."""
    config = alembic_config(empty_db_url)
    version = "SELECT version_num FROM alembic_version"

    command.upgrade(config, "head")
    command.downgrade(config, "-1")
    after_one_step = asyncio.run(scalar(empty_db_url, version))
    command.downgrade(config, "base")
    after_base = asyncio.run(
        scalar(empty_db_url, "SELECT count(*) FROM alembic_version")
    )
    command.upgrade(config, "head")

    head = ScriptDirectory.from_config(config).get_revision(head_revision())
    assert head is not None
    assert after_one_step == head.down_revision
    assert after_base == 0
    assert asyncio.run(scalar(empty_db_url, version)) == head_revision()


async def test_autogenerate_finds_no_difference(empty_db_url: str) -> None:
    """After upgrade head, autogenerate sees the models and the schema as equal."""
    database = Database(settings_for(empty_db_url))
    await database.migrate()

    async with database.engine.connect() as connection:
        found = await connection.run_sync(differences)
    await database.dispose()

    assert found == []


async def test_migrate_twice_is_harmless(empty_db_url: str) -> None:
    """Starting twice runs nothing the second time and keeps the revision."""
    database = Database(settings_for(empty_db_url))

    first = await database.migrate()
    second = await database.migrate()
    await database.dispose()

    assert first == second == head_revision()


async def test_guide_created_database_is_adopted(empty_db_url: str) -> None:
    """A database made from the guide's DDL without Alembic is upgraded, rows kept."""
    await run_on(empty_db_url, guide_ddl_for(empty_db_url))
    database = Database(settings_for(empty_db_url))

    revision = await database.migrate()
    async with database.engine.connect() as connection:
        indexes = await connection.run_sync(
            lambda c: {i["name"] for i in inspect(c).get_indexes("review_records")}
        )
        found = await connection.run_sync(differences)
    await database.dispose()

    assert revision == head_revision()
    assert await scalar(empty_db_url, "SELECT project_key FROM review_records") == "OLD"
    assert "ix_review_records_author_email" in indexes
    assert found == []


async def test_foreign_table_of_same_name_is_refused(empty_db_url: str) -> None:
    """A review_records table lacking the guide's columns stops the migration."""
    await run_on(empty_db_url, ["CREATE TABLE review_records (id INTEGER PRIMARY KEY)"])
    database = Database(settings_for(empty_db_url))

    with pytest.raises(DatabaseError, match="lacks columns"):
        await database.migrate()
    await database.dispose()


async def test_database_ahead_of_code_is_a_clear_error(empty_db_url: str) -> None:
    """A revision this release does not know raises SchemaAheadError naming both."""
    database = Database(settings_for(empty_db_url))
    await database.migrate()
    await run_on(empty_db_url, ["UPDATE alembic_version SET version_num = '9999'"])

    with pytest.raises(SchemaAheadError, match=r"'9999'.*newer ai-code-reviewer"):
        await database.migrate()
    await database.dispose()


async def test_sync_run_migrations_works_inside_a_running_loop(tmp_path: Path) -> None:
    """The guide's synchronous run_migrations() also works when a loop is running."""
    url = sqlite_url(tmp_path / "in_loop.db")

    revision = run_migrations(settings_for(url))

    assert revision == head_revision()


async def test_migrations_leave_logging_configuration_alone(tmp_path: Path) -> None:
    """The app's handlers, levels and loggers are the same after migrating."""
    root = logging.getLogger()
    handler = logging.NullHandler()
    root.addHandler(handler)
    app_logger = logging.getLogger("ai_code_reviewer.test_probe")
    app_logger.setLevel(logging.DEBUG)
    before = (list(root.handlers), root.level, app_logger.level)

    app = create_app(settings_for(sqlite_url(tmp_path / "logging.db")))
    async with app.router.lifespan_context(app):
        pass
    run_migrations(settings_for(sqlite_url(tmp_path / "logging2.db")))

    after = (list(root.handlers), root.level, app_logger.level)
    root.removeHandler(handler)
    assert after == before
    assert not app_logger.disabled
    alembic_handlers = logging.getLogger("alembic").handlers
    assert all(isinstance(h, logging.NullHandler) for h in alembic_handlers)

"""Run Alembic migrations for ai-code-reviewer, on SQLite or PostgreSQL.

Two ways in: the ``alembic`` command, which builds an async engine from
DATABASE_URL, and the service, which hands a connection in through
``config.attributes["connection"]`` so that no second event loop is started.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from alembic.util.exc import CommandError
from sqlalchemy import Connection, pool
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from ai_code_reviewer.api.db.migrations import unreachable
from ai_code_reviewer.api.db.models import Base
from ai_code_reviewer.settings import load_settings

config = context.config
target_metadata = Base.metadata

if config.attributes.get("configure_logging", True) and config.config_file_name:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    """Return the URL given to Alembic, else the service's DATABASE_URL."""
    return config.get_main_option("sqlalchemy.url") or load_settings().database_url


def configure_context(connection: Connection) -> None:
    """Configure the migration context for one connection."""
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_on_connection(connection: Connection) -> None:
    """Run the pending migrations on an open connection."""
    configure_context(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_with_new_engine() -> None:
    """Open an engine from the URL, migrate, and close it.

    A database that cannot be reached ends the command with Alembic's one-line
    ``FAILED:`` message instead of a driver traceback.
    """
    engine = create_async_engine(database_url(), poolclass=pool.NullPool)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_on_connection)
    except (OSError, SQLAlchemyError) as exc:
        raise CommandError(str(unreachable(engine.url, exc))) from exc
    finally:
        await engine.dispose()


def run_offline() -> None:
    """Write the migrations as SQL instead of running them (``--sql``)."""
    url = database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (given := config.attributes.get("connection")) is not None:
    run_on_connection(given)
else:
    asyncio.run(run_with_new_engine())

"""Bring a database to the schema this release expects, with Alembic.

Alembic owns the schema. Migrations run on a connection handed in by the
caller, so the service migrates inside its own event loop, and Alembic's
logging configuration (``alembic.ini``) is only applied when the ``alembic``
command runs, never inside the service.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import URL, Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from ai_code_reviewer.errors import ConfigError, DatabaseError, SchemaAheadError

logger = logging.getLogger(__name__)

ALEMBIC_DIR_ENV = "ALEMBIC_DIR"
VERSION_TABLE = "alembic_version"


def find_alembic_dir() -> Path:
    """Locate the ``alembic/`` folder: $ALEMBIC_DIR, the source tree, or ./alembic."""
    candidates = []
    if configured := os.environ.get(ALEMBIC_DIR_ENV):
        candidates.append(Path(configured))
    candidates.append(Path(__file__).resolve().parents[4] / "alembic")
    candidates.append(Path.cwd() / "alembic")
    for candidate in candidates:
        if (candidate / "env.py").is_file():
            return candidate
    searched = ", ".join(str(path) for path in candidates)
    raise ConfigError(
        f"cannot find the Alembic migrations (searched {searched}); "
        f"set {ALEMBIC_DIR_ENV} to the folder holding env.py"
    )


def alembic_config(url: str | None = None) -> Config:
    """Build an Alembic configuration that leaves logging alone."""
    config = Config()
    config.set_main_option("script_location", str(find_alembic_dir()))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


@functools.cache
def head_revision() -> str:
    """Return the newest revision this release ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise ConfigError("the Alembic folder holds no migration")
    return head


def current_revision(connection: Connection) -> str | None:
    """Return the revision stamped in the database, or None for a fresh one."""
    return MigrationContext.configure(connection).get_current_revision()


def check_not_ahead(connection: Connection) -> str | None:
    """Raise SchemaAheadError when the database is newer than this release."""
    current = current_revision(connection)
    if current is None:
        return None
    script = ScriptDirectory.from_config(alembic_config())
    try:
        script.get_revision(current)
    except CommandError:
        raise SchemaAheadError(
            f"the database is at schema revision {current!r}, which this release "
            f"does not know (its newest is {head_revision()!r}): it was migrated by "
            "a newer ai-code-reviewer. Run that release, or restore a backup "
            "taken before the upgrade."
        ) from None
    return current


def upgrade_connection(connection: Connection) -> str:
    """Upgrade the database behind ``connection`` to head; return the revision."""
    before = check_not_ahead(connection)
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    after = head_revision()
    if before != after:
        logger.info("db.migrated", extra={"from_revision": before, "to": after})
    return after


def unreachable(url: URL, exc: Exception) -> DatabaseError:
    """Describe a database that cannot be reached, without its password."""
    reason = getattr(exc, "orig", None) or exc
    where = url.render_as_string(hide_password=True)
    return DatabaseError(
        f"cannot use the database at {where}: {reason}. Check DATABASE_URL; "
        "`python scripts/db_helper.py create` makes a missing PostgreSQL database"
    )


async def upgrade_to_head(engine: AsyncEngine) -> str:
    """Run ``alembic upgrade head`` on ``engine`` inside the running event loop.

    Raises:
        DatabaseError: the database cannot be reached or refused the migration.
    """
    try:
        async with engine.begin() as connection:
            return await connection.run_sync(upgrade_connection)
    except (OSError, SQLAlchemyError) as exc:
        raise unreachable(engine.url, exc) from exc


async def schema_revision(engine: AsyncEngine) -> str | None:
    """Read the revision stamped in the database behind ``engine``.

    Reads alembic_version directly: this runs on every readiness probe, and
    Alembic's migration context would log two lines each time.
    """
    async with engine.connect() as connection:
        has_table = await connection.run_sync(
            lambda sync: inspect(sync).has_table(VERSION_TABLE)
        )
        if not has_table:
            return None
        query = text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608  # constant name
        return (await connection.execute(query)).scalar()

"""Create, migrate and drop the service's schema, and say where it stands."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.migrations import alembic_config, head_revision
from ai_code_reviewer.api.db.models import Base
from ai_code_reviewer.dbtools import postgres

logger = logging.getLogger(__name__)

ALEMBIC_TABLE = "alembic_version"


@dataclass(frozen=True)
class SchemaStatus:
    """Compare the revision stamped in the database with this release's head."""

    current: str | None
    head: str
    known: bool

    @property
    def up_to_date(self) -> bool:
        """Tell whether the database is at this release's head."""
        return self.current == self.head


@dataclass(frozen=True)
class CreateResult:
    """Say what ``create`` did: whether it made the database, and the revision."""

    created_database: bool
    revision: str


async def create(database: Database) -> CreateResult:
    """Create the database when missing (PostgreSQL) and migrate it to head."""
    created = False
    if database.dialect == "postgresql":
        created = await postgres.ensure_database(database.url)
    revision = await database.migrate()
    logger.info("db.created", extra={"database_created": created, "revision": revision})
    return CreateResult(created_database=created, revision=revision)


def our_table_names() -> set[str]:
    """Return the tables this service owns, Alembic's bookkeeping included."""
    return {*Base.metadata.tables, ALEMBIC_TABLE}


def _drop_ours(connection: Connection) -> list[str]:
    """Drop the tables of ours found in the database, children before parents."""
    names = our_table_names()
    found = MetaData()
    found.reflect(connection, only=lambda name, _meta: name in names)
    found.drop_all(connection)
    return sorted(found.tables)


async def drop_schema(database: Database) -> list[str]:
    """Drop our tables and alembic_version, whatever revision they are at."""
    async with database.engine.begin() as connection:
        dropped = await connection.run_sync(_drop_ours)
    logger.info("db.schema_dropped", extra={"tables": dropped})
    return dropped


async def reset(database: Database) -> str:
    """Drop our tables and migrate to head again; return the revision."""
    await drop_schema(database)
    return await database.migrate()


def known_revisions() -> set[str]:
    """Return every schema revision this release ships."""
    script = ScriptDirectory.from_config(alembic_config())
    return {revision.revision for revision in script.walk_revisions()}


async def status(database: Database) -> SchemaStatus:
    """Read the schema revision of the database and this release's head."""
    current = await database.revision()
    return SchemaStatus(
        current=current, head=head_revision(), known=current in known_revisions()
    )

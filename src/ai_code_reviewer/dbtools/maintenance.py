"""Keep the database in shape: size, VACUUM, ANALYZE and the integrity check."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import closing

from sqlalchemy import text

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.dbtools import sqlite
from ai_code_reviewer.errors import InvalidRequest

logger = logging.getLogger(__name__)


async def database_size(database: Database) -> int:
    """Return the bytes the database takes: file and WAL, or pg_database_size."""
    path = database.sqlite_path
    if path is not None:
        return sqlite.file_size(path)
    if database.dialect == "postgresql":
        query = text("SELECT pg_database_size(current_database())")
        async with database.engine.connect() as connection:
            return int(await connection.scalar(query) or 0)
    return 0


async def _run_outside_transaction(
    database: Database, statements: Sequence[str]
) -> None:
    """Run statements that refuse to run inside a transaction (VACUUM)."""
    async with database.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        for statement in statements:
            await autocommit.execute(text(statement))


async def vacuum(database: Database) -> tuple[int, int]:
    """Rebuild the database to reclaim free space; return sizes before and after."""
    before = await database_size(database)
    statements = ["VACUUM"]
    if database.dialect == "sqlite":
        # VACUUM writes the new pages into the WAL; a truncating checkpoint
        # moves them into the file and gives the WAL's space back.
        statements.append("PRAGMA wal_checkpoint(TRUNCATE)")
    await _run_outside_transaction(database, statements)
    after = await database_size(database)
    logger.info("db.vacuumed", extra={"bytes_before": before, "bytes_after": after})
    return before, after


async def analyze(database: Database) -> None:
    """Refresh the statistics the query planner uses."""
    await _run_outside_transaction(database, ["ANALYZE"])
    logger.info("db.analyzed")


def integrity_problems(database: Database) -> list[str]:
    """Run PRAGMA integrity_check on the SQLite file; return its findings."""
    path = database.sqlite_path
    if path is None:
        raise InvalidRequest(
            "the integrity command runs SQLite's PRAGMA integrity_check on a "
            "database file; on PostgreSQL use pg_amcheck, which checks tables "
            "and indexes"
        )
    with closing(sqlite.connect_existing(path)) as connection:
        return sqlite.integrity_problems(connection)

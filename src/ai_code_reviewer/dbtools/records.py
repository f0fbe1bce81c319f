"""Read and change the stored records: stats, lists, resolve, clean and prune."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text

from ai_code_reviewer.api.db import retention
from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import ReviewFailureLog, ReviewRecord
from ai_code_reviewer.api.db.repository import (
    FailureFilter,
    FailureLogRepository,
    FailureStats,
    PageRequest,
    ReviewFilter,
    ReviewRepository,
    ReviewStats,
)
from ai_code_reviewer.dbtools import maintenance, schema
from ai_code_reviewer.dbtools.target import require_schema

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatabaseStats:
    """Hold what ``stats`` shows: counts, schema revision and size."""

    reviews: ReviewStats
    failures: FailureStats
    schema: schema.SchemaStatus
    size_bytes: int


@dataclass(frozen=True)
class CleanResult:
    """Count the records ``clean`` deleted."""

    reviews: int
    failures: int


async def gather_stats(database: Database) -> DatabaseStats:
    """Count reviews and failures and read the schema revision and size."""
    await require_schema(database)
    async with database.session() as session:
        reviews = await ReviewRepository(session).stats()
        failures = await FailureLogRepository(session).stats()
    return DatabaseStats(
        reviews=reviews,
        failures=failures,
        schema=await schema.status(database),
        size_bytes=await maintenance.database_size(database),
    )


async def recent_reviews(database: Database, limit: int) -> Sequence[ReviewRecord]:
    """Return the newest ``limit`` reviews, newest first."""
    await require_schema(database)
    async with database.session() as session:
        page = await ReviewRepository(session).list(
            ReviewFilter(), PageRequest(limit=limit)
        )
    return page.items


async def failure_logs(
    database: Database, *, unresolved: bool, limit: int
) -> Sequence[ReviewFailureLog]:
    """Return the newest ``limit`` failure logs, only open ones when asked."""
    await require_schema(database)
    filters = FailureFilter(resolved=False if unresolved else None)
    async with database.session() as session:
        page = await FailureLogRepository(session).list(
            filters, PageRequest(limit=limit)
        )
    return page.items


async def resolve(database: Database, failure_id: int, notes: str) -> ReviewFailureLog:
    """Mark one failure log resolved with ``notes``; raise RecordNotFound if none."""
    await require_schema(database)
    async with database.session() as session:
        record = await FailureLogRepository(session).resolve(failure_id, notes)
        await session.commit()
    logger.info("db.failure_resolved", extra={"failure_id": failure_id})
    return record


async def clean(database: Database) -> CleanResult:
    """Delete every review and failure log in one transaction; ids restart at 1."""
    await require_schema(database)
    async with database.session() as session:
        reviews = await ReviewRepository(session).delete_all()
        failures = await FailureLogRepository(session).delete_all()
        restart = text(RESTART_IDS[database.dialect])
        for table in (ReviewRecord.__tablename__, ReviewFailureLog.__tablename__):
            await session.execute(restart, {"table": table})
        await session.commit()
    logger.info("db.cleaned", extra={"reviews": reviews, "failures": failures})
    return CleanResult(reviews=reviews, failures=failures)


RESTART_IDS = {
    "sqlite": "DELETE FROM sqlite_sequence WHERE name = :table",
    "postgresql": "SELECT setval(pg_get_serial_sequence(:table, 'id'), 1, false)",
}


async def prune(database: Database, days: int) -> retention.PruneResult:
    """Delete reviews, and resolved failure logs, older than ``days`` days."""
    await require_schema(database)
    async with database.session() as session:
        return await retention.prune(session, days)

"""Delete what is older than the retention period."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from ai_code_reviewer.api.db.database import Database, get_session
from ai_code_reviewer.api.db.models import ReviewFailureLog, ReviewRecord, utcnow
from ai_code_reviewer.errors import InvalidRequest

logger = logging.getLogger(__name__)

BATCH_SIZE = 5000
DAY_SECONDS = 24 * 60 * 60


@dataclass(frozen=True)
class PruneResult:
    """Count what one retention pass deleted."""

    reviews: int
    failures: int


async def _delete_reviews_before(session: AsyncSession, cutoff: datetime) -> int:
    """Delete reviews created before ``cutoff`` in short transactions."""
    deleted = 0
    while True:
        ids = select(ReviewRecord.id).where(ReviewRecord.created_at < cutoff)
        batch = list((await session.scalars(ids.limit(BATCH_SIZE))).all())
        if not batch:
            return deleted
        await session.execute(delete(ReviewRecord).where(ReviewRecord.id.in_(batch)))
        await session.commit()
        deleted += len(batch)


async def _delete_resolved_failures_before(
    session: AsyncSession, cutoff: datetime
) -> int:
    """Delete resolved failure logs created before ``cutoff``; keep open ones."""
    old = (ReviewFailureLog.created_at < cutoff) & ReviewFailureLog.resolved.is_(True)
    deleted = 0
    while True:
        ids = select(ReviewFailureLog.id).where(old).limit(BATCH_SIZE)
        batch = list((await session.scalars(ids)).all())
        if not batch:
            return deleted
        stmt = delete(ReviewFailureLog).where(ReviewFailureLog.id.in_(batch))
        await session.execute(stmt)
        await session.commit()
        deleted += len(batch)


async def prune(session: AsyncSession, days: int) -> PruneResult:
    """Delete reviews, and resolved failure logs, older than ``days`` days."""
    if days < 1:
        raise InvalidRequest(f"retention must be at least 1 day, not {days}")
    cutoff = utcnow() - timedelta(days=days)
    reviews = await _delete_reviews_before(session, cutoff)
    failures = await _delete_resolved_failures_before(session, cutoff)
    logger.info(
        "retention.pruned",
        extra={"days": days, "reviews": reviews, "failures": failures},
    )
    return PruneResult(reviews=reviews, failures=failures)


async def cleanup_old_reviews(days: int = 90) -> int:
    """Delete reviews (and resolved failure logs) older than ``days``; count reviews.

    Uses the default database, like the guide's example of the same name.
    """
    async with get_session() as session:
        result = await prune(session, days)
    return result.reviews


async def run_retention_daily(database: Database, days: int) -> None:
    """Prune once at start and then every 24 hours, until cancelled."""
    while True:
        try:
            async with database.session() as session:
                await prune(session, days)
        except Exception:
            # A failed pass must not stop the next one; it is logged with its
            # stack and tried again in a day.
            logger.exception("retention.failed", extra={"days": days})
        await asyncio.sleep(DAY_SECONDS)

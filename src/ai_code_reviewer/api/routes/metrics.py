"""Serve the Prometheus metrics: ``GET /metrics``.

The job gauges are read from the database at each scrape, with one grouped
query over review_jobs (its status index), so that every process answers the
same whatever the number of workers.
"""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import Response
from sqlalchemy import case, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from ai_code_reviewer.api.db.models import ReviewJob, utcnow
from ai_code_reviewer.api.deps import DatabaseDep
from ai_code_reviewer.api.jobs import queue
from ai_code_reviewer.metrics import CONTENT_TYPE, QueueSnapshot, exposition

logger = logging.getLogger(__name__)

router = APIRouter(tags=["metrics"])


async def queue_snapshot(session: AsyncSession, now: datetime) -> QueueSnapshot:
    """Count jobs by state, and the due queued jobs with the oldest one's age."""
    due = func.sum(case((ReviewJob.run_after <= now, 1), else_=0))
    statement = select(
        ReviewJob.status, func.count(), due, func.min(ReviewJob.run_after)
    ).group_by(ReviewJob.status)
    by_state = dict.fromkeys(queue.STATUSES, 0)
    due_count, oldest_age = 0, 0.0
    for status, count, due_in_state, first in await session.execute(statement):
        by_state[status] = int(count)
        if status == queue.QUEUED and first is not None and first <= now:
            due_count = int(due_in_state)
            oldest_age = (now - first).total_seconds()
    return QueueSnapshot(by_state, due_count, oldest_age)


@router.get("/metrics", response_class=Response)
async def scrape(database: DatabaseDep) -> Response:
    """Answer every metric in Prometheus text format, the job gauges read now."""
    snapshot = None
    try:
        async with database.session() as session:
            snapshot = await queue_snapshot(session, utcnow())
    except (SQLAlchemyError, OSError) as exc:
        # The process's own metrics are still worth serving; the job gauges
        # are left out, which Prometheus's absent() can alert on.
        logger.warning(
            "metrics.database_unreachable", extra={"error": type(exc).__name__}
        )
    return Response(exposition(snapshot), media_type=CONTENT_TYPE)

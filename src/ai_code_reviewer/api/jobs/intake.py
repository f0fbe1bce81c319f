"""Record a webhook delivery and enqueue its jobs in one transaction.

The HTTP answer is sent only after this commits, so that nothing accepted
exists only in memory. A delivery id seen before answers the jobs it made
then, and creates nothing; the jobs' dedupe keys make the same change one
job whichever delivery announced it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ai_code_reviewer.api.db.models import WebhookDelivery, utcnow
from ai_code_reviewer.api.jobs.queue import JobSpec, enqueue, insert_ignoring_conflict
from ai_code_reviewer.metrics import WEBHOOK_DELIVERIES

logger = logging.getLogger(__name__)

ENQUEUED, DUPLICATE, IGNORED, REJECTED = "enqueued", "duplicate", "ignored", "rejected"


@dataclass(frozen=True)
class Incoming:
    """A delivery as received: who sent it, its id, event and body digest."""

    host: str
    delivery_id: str | None
    event_key: str | None
    body_sha256: str | None


@dataclass(frozen=True)
class Accepted:
    """What a delivery became: its outcome and the ids of its jobs."""

    outcome: str
    job_ids: list[int]
    created_job_ids: list[int]
    reason: str | None = None


async def _previous(session: AsyncSession, incoming: Incoming) -> Accepted | None:
    """Return what an earlier delivery with the same id became, if any."""
    if incoming.delivery_id is None:
        return None
    query = select(WebhookDelivery.outcome, WebhookDelivery.job_ids).where(
        WebhookDelivery.host == incoming.host,
        WebhookDelivery.delivery_id == incoming.delivery_id,
    )
    row = (await session.execute(query)).one_or_none()
    if row is None:
        return None
    reason = f"delivery {incoming.delivery_id} was received before ({row.outcome})"
    return Accepted(DUPLICATE, list(row.job_ids or []), [], reason)


async def _record_delivery(
    session: AsyncSession, incoming: Incoming, outcome: str, reason: str | None
) -> int | None:
    """Insert the delivery row; return its id, or None when its id was seen before.

    The insert comes first so that SQLite takes its write lock at once.
    """
    values: dict[str, Any] = {
        "host": incoming.host,
        "delivery_id": incoming.delivery_id,
        "event_key": incoming.event_key,
        "received_at": utcnow(),
        "outcome": outcome,
        "reason": reason,
        "body_sha256": incoming.body_sha256,
        "job_ids": [],
    }
    unique = ["host", "delivery_id"]
    statement = insert_ignoring_conflict(session, WebhookDelivery, values, unique)
    inserted = (await session.execute(statement.returning(WebhookDelivery.id))).scalar()
    if inserted is not None:
        return int(inserted)
    return await _retake_rejected(session, incoming, values)


async def _retake_rejected(
    session: AsyncSession, incoming: Incoming, values: dict[str, Any]
) -> int | None:
    """Reuse the row of an earlier, rejected delivery with the same id.

    A host redelivers with the same id; a delivery refused for a wrong secret
    must be accepted once the secret is fixed, not answered as a duplicate.
    """
    statement = (
        update(WebhookDelivery)
        .where(
            WebhookDelivery.host == incoming.host,
            WebhookDelivery.delivery_id == incoming.delivery_id,
            WebhookDelivery.outcome == REJECTED,
        )
        .values(**values)
        .returning(WebhookDelivery.id)
    )
    retaken = (await session.execute(statement)).scalar()
    return None if retaken is None else int(retaken)


async def accept(
    session: AsyncSession,
    incoming: Incoming,
    jobs: list[JobSpec],
    *,
    outcome: str | None = None,
    reason: str | None = None,
) -> Accepted:
    """Record ``incoming`` and enqueue ``jobs``, committed together.

    ``outcome`` defaults to "enqueued" when there are jobs, else "ignored".
    """
    outcome = outcome or (ENQUEUED if jobs else IGNORED)
    delivery = await _record_delivery(session, incoming, outcome, reason)
    if delivery is None:
        await session.rollback()
        seen = await _previous(session, incoming)
        WEBHOOK_DELIVERIES.labels(incoming.host, DUPLICATE).inc()
        return seen or Accepted(DUPLICATE, [], [], "delivery received before")
    now = utcnow()
    results = [await enqueue(session, spec, now) for spec in jobs]
    job_ids = [job_id for job_id, _made in results]
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery)
        .values(job_ids=job_ids)
    )
    await session.commit()
    new_job_ids = [job_id for job_id, made in results if made]
    WEBHOOK_DELIVERIES.labels(incoming.host, outcome).inc()
    logger.info(
        "webhook.accepted",
        extra={
            "host": incoming.host,
            "delivery_id": incoming.delivery_id,
            "event_key": incoming.event_key,
            "outcome": outcome,
            "job_ids": job_ids,
            "new_job_ids": new_job_ids,
        },
    )
    return Accepted(outcome, job_ids, new_job_ids, reason)

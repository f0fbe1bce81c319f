"""Put review jobs in the database, claim them under a lease, and settle them.

Every change of a job's state is one UPDATE guarded by the job's status (and,
for a running job, by ``locked_by``): a worker whose lease lapsed and whose
job another worker took can change nothing any more. The claim is
``UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1)
RETURNING``; on SQLite, which has one writer at a time, the same statement
without the lock clause is just as exclusive.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from ai_code_reviewer.api.db.models import ReviewFailureLog, ReviewJob

logger = logging.getLogger(__name__)

QUEUED, RUNNING, SUCCEEDED = "queued", "running", "succeeded"
FAILED, DEAD, CANCELLED = "failed", "dead", "cancelled"
STATUSES = (QUEUED, RUNNING, SUCCEEDED, FAILED, DEAD, CANCELLED)
FINISHED = frozenset({SUCCEEDED, FAILED, DEAD, CANCELLED})


@dataclass(frozen=True)
class JobSpec:
    """Describe a job to enqueue; jobs with the same ``dedupe_key`` are one."""

    kind: str
    payload: dict[str, Any]
    dedupe_key: str
    max_attempts: int = 5


@dataclass(frozen=True)
class ClaimedJob:
    """A job a worker holds: what to do and how many tries it has had."""

    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    review_id: int | None
    worker_id: str


@dataclass(frozen=True)
class GiveUp:
    """What a job that gave up leaves in review_failure_logs."""

    status: str
    stage: str
    error_type: str
    error_message: str
    error_stacktrace: str | None
    request_payload: dict[str, Any]


class LeaseLost(Exception):
    """The job is no longer this worker's: its lease lapsed or it was cancelled."""


def insert_ignoring_conflict(
    session: AsyncSession,
    model: type[Any],
    values: dict[str, Any],
    unique_columns: list[str],
) -> Any:
    """Build INSERT ... ON CONFLICT (unique_columns) DO NOTHING for this database."""
    dialect = session.get_bind().dialect.name
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = builder(model).values(**values)
    return statement.on_conflict_do_nothing(index_elements=unique_columns)


async def enqueue(
    session: AsyncSession, spec: JobSpec, now: datetime
) -> tuple[int, bool]:
    """Add a job unless one with its dedupe key exists; return (id, created).

    Runs in the caller's transaction, so that a webhook's delivery row and its
    jobs commit together.
    """
    values = {
        "kind": spec.kind,
        "status": QUEUED,
        "dedupe_key": spec.dedupe_key,
        "payload": spec.payload,
        "max_attempts": spec.max_attempts,
        "run_after": now,
        "created_at": now,
        "updated_at": now,
    }
    insert_job = insert_ignoring_conflict(session, ReviewJob, values, ["dedupe_key"])
    statement = insert_job.returning(ReviewJob.id)
    created = (await session.execute(statement)).scalar()
    if created is not None:
        return int(created), True
    existing = select(ReviewJob.id).where(ReviewJob.dedupe_key == spec.dedupe_key)
    return int((await session.execute(existing)).scalar_one()), False


async def claim(
    session: AsyncSession, worker_id: str, lease: timedelta, now: datetime
) -> ClaimedJob | None:
    """Take the oldest due job for ``worker_id`` and lock it until now + lease."""
    due = (
        select(ReviewJob.id)
        .where(ReviewJob.status == QUEUED, ReviewJob.run_after <= now)
        .order_by(ReviewJob.run_after, ReviewJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    statement = (
        update(ReviewJob)
        .where(ReviewJob.id == due)
        .values(
            status=RUNNING,
            locked_by=worker_id,
            locked_until=now + lease,
            attempts=ReviewJob.attempts + 1,
            started_at=now,
            updated_at=now,
        )
        .returning(
            ReviewJob.id,
            ReviewJob.kind,
            ReviewJob.payload,
            ReviewJob.attempts,
            ReviewJob.max_attempts,
            ReviewJob.review_id,
        )
    )
    row = (await session.execute(statement)).one_or_none()
    await session.commit()
    if row is None:
        return None
    return _claimed(row, worker_id)


def _claimed(row: Any, worker_id: str) -> ClaimedJob:
    """Build a ClaimedJob from a row of the job's columns."""
    return ClaimedJob(
        id=row.id,
        kind=row.kind,
        payload=row.payload,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        review_id=row.review_id,
        worker_id=worker_id,
    )


def _held(job: ClaimedJob) -> list[ColumnElement[bool]]:
    """Return the conditions under which ``job`` is still its worker's."""
    return [
        ReviewJob.id == job.id,
        ReviewJob.status == RUNNING,
        ReviewJob.locked_by == job.worker_id,
    ]


async def _update_held(session: AsyncSession, job: ClaimedJob, **values: Any) -> bool:
    """Apply ``values`` to ``job`` if its worker still holds it; tell whether it did."""
    statement = update(ReviewJob).where(*_held(job)).values(**values)
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0) == 1)


async def _unlock(
    session: AsyncSession, job: ClaimedJob, status: str, now: datetime, **values: Any
) -> bool:
    """Move a held job to ``status`` and drop its lock; tell whether it was held."""
    return await _update_held(
        session,
        job,
        status=status,
        locked_by=None,
        locked_until=None,
        updated_at=now,
        **values,
    )


async def renew(
    session: AsyncSession, job: ClaimedJob, lease: timedelta, now: datetime
) -> bool:
    """Extend the lease of ``job``; False when it is no longer this worker's."""
    held = await _update_held(session, job, locked_until=now + lease, updated_at=now)
    await session.commit()
    return held


async def hold(session: AsyncSession, job: ClaimedJob, now: datetime) -> None:
    """Fence the caller's transaction: raise LeaseLost unless ``job`` is still held.

    Writing first also makes SQLite take its write lock at once, so that the
    rest of the transaction never meets a "database is locked" upgrade.
    """
    if not await _update_held(session, job, updated_at=now):
        raise LeaseLost(f"job {job.id} is no longer held by {job.worker_id}")


async def succeed(session: AsyncSession, job: ClaimedJob, now: datetime) -> bool:
    """Mark ``job`` succeeded and resolve the failure logs its retries were for."""
    done = await _unlock(
        session,
        job,
        SUCCEEDED,
        now,
        finished_at=now,
        last_error=None,
        failure_stage=None,
    )
    if done:
        note = (
            f"resolved: job {job.id} succeeded on retry at {now:%Y-%m-%d %H:%M:%S} UTC"
        )
        await session.execute(
            update(ReviewFailureLog)
            .where(
                ReviewFailureLog.job_id == job.id, ReviewFailureLog.resolved.is_(False)
            )
            .values(resolved=True, resolution_notes=note)
        )
    await session.commit()
    return done


async def retry_later(
    session: AsyncSession,
    job: ClaimedJob,
    *,
    stage: str,
    error: str,
    delay: float,
    now: datetime,
) -> bool:
    """Put ``job`` back in the queue to run after ``delay`` seconds."""
    run_after = now + timedelta(seconds=delay)
    done = await _unlock(
        session,
        job,
        QUEUED,
        now,
        run_after=run_after,
        last_error=error,
        failure_stage=stage,
    )
    await session.commit()
    return done


async def give_up(
    session: AsyncSession,
    job: ClaimedJob,
    outcome: GiveUp,
    fields: dict[str, Any],
    now: datetime,
) -> bool:
    """Mark ``job`` failed or dead and write its one failure log row."""
    done = await _unlock(
        session,
        job,
        outcome.status,
        now,
        finished_at=now,
        last_error=outcome.error_message,
        failure_stage=outcome.stage,
    )
    if done:
        await session.execute(
            insert(ReviewFailureLog).values(
                created_at=now,
                failure_stage=outcome.stage,
                error_type=outcome.error_type,
                error_message=outcome.error_message,
                error_stacktrace=outcome.error_stacktrace,
                retry_count=max(job.attempts - 1, 0),
                request_payload=outcome.request_payload,
                job_id=job.id,
                **fields,
            )
        )
    await session.commit()
    return done


async def release(session: AsyncSession, job: ClaimedJob, now: datetime) -> bool:
    """Hand ``job`` back to the queue untouched, its try not counted (shutdown)."""
    uncounted = ReviewJob.attempts - 1
    done = await _unlock(session, job, QUEUED, now, attempts=uncounted, run_after=now)
    await session.commit()
    return done


async def requeue_expired(session: AsyncSession, now: datetime) -> list[int]:
    """Put running jobs whose lease lapsed (their worker died) back in the queue.

    A job that has used all its tries this way is left for ``expired_out_of_tries``.
    """
    statement = (
        update(ReviewJob)
        .where(
            ReviewJob.status == RUNNING,
            ReviewJob.locked_until < now,
            ReviewJob.attempts < ReviewJob.max_attempts,
        )
        .values(
            status=QUEUED,
            run_after=now,
            locked_by=None,
            locked_until=None,
            last_error="the worker's lease lapsed (worker stopped or lost)",
            updated_at=now,
        )
        .returning(ReviewJob.id)
    )
    ids = [int(job_id) for job_id in (await session.execute(statement)).scalars()]
    await session.commit()
    if ids:
        logger.warning("job.lease_expired", extra={"job_ids": ids})
    return ids


async def expired_out_of_tries(
    session: AsyncSession, now: datetime
) -> list[ClaimedJob]:
    """Return lapsed running jobs with no try left, as held by their lost worker."""
    statement = select(
        ReviewJob.id,
        ReviewJob.kind,
        ReviewJob.payload,
        ReviewJob.attempts,
        ReviewJob.max_attempts,
        ReviewJob.review_id,
        ReviewJob.locked_by,
    ).where(
        ReviewJob.status == RUNNING,
        ReviewJob.locked_until < now,
        ReviewJob.attempts >= ReviewJob.max_attempts,
    )
    rows = (await session.execute(statement)).all()
    await session.rollback()
    return [_claimed(row, str(row.locked_by)) for row in rows]

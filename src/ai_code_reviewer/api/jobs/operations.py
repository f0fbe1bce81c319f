"""Look at review jobs, retry or cancel them, and retry or resolve their failures.

The routes of /api/jobs and /api/failures and the ``jobs`` and ``failures``
commands share these functions. Each change is one UPDATE guarded by the
job's status, so that two people (or a person and a worker) acting at once
cannot both win; the rows it returns say whether it applied. A transaction
opens with that write, which on SQLite takes the write lock at once instead
of upgrading a read lock later, which fails when another writer came first.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NoReturn

from sqlalchemy import (
    JSON,
    ColumnElement,
    LargeBinary,
    Text,
    cast,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer
from sqlalchemy.orm.attributes import set_committed_value

from ai_code_reviewer.api.db.models import ReviewFailureLog, ReviewJob
from ai_code_reviewer.api.db.repository import (
    FailureLogRepository,
    Page,
    PageRequest,
    fetch_page,
)
from ai_code_reviewer.api.jobs.clock import Clock
from ai_code_reviewer.api.jobs.queue import (
    CANCELLED,
    DEAD,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    STATUSES,
)
from ai_code_reviewer.errors import Conflict, RecordNotFound

logger = logging.getLogger(__name__)

RETRYABLE = (FAILED, DEAD, CANCELLED)
CANCELLABLE = (QUEUED, RUNNING)
POLL_SECONDS = 0.2
STATE_PHRASES = {"succeeded": "has succeeded", "failed": "has failed"}

# Page's type variable admits only reviews and failure logs (it lives in the
# shared api/db/repository.py), so a page of jobs is typed Page[Any]; its
# items are ReviewJob rows.
JobPage = Page[Any]


@dataclass(frozen=True)
class JobStats:
    """How many jobs are in each status, and how old the oldest queued one is."""

    by_status: dict[str, int]
    oldest_queued_seconds: float | None


@dataclass(frozen=True)
class FailureRetry:
    """A failure log whose job was queued again, and that job."""

    failure: ReviewFailureLog
    job: ReviewJob


def refusal(job_id: int, status: str, verb: str, allowed: Sequence[str]) -> str:
    """Say why job ``job_id`` in ``status`` cannot be ``verb`` (retried, cancelled)."""
    state = STATE_PHRASES.get(status, f"is {status}")
    choices = f"{', '.join(allowed[:-1])} or {allowed[-1]}"
    return f"job {job_id} {state}; only {choices} jobs can be {verb}"


def _job_conditions(status: str | None, kind: str | None) -> list[ColumnElement[bool]]:
    """Return the WHERE conditions of a job list."""
    found = []
    if status is not None:
        found.append(ReviewJob.status == status)
    if kind is not None:
        found.append(ReviewJob.kind == kind)
    return found


def _payload_without_diff(dialect: str) -> tuple[ColumnElement[Any], ...]:
    """Select the payload without its diff, and the diff's size in bytes.

    Computed by the database, so that a page of jobs never loads the
    uploaded diffs (up to MAX_DIFF_BYTES each) it does not show.
    """
    key = cast(literal("diff"), Text)
    if dialect == "postgresql":
        without = ReviewJob.payload.op("-", return_type=JSONB)(key)
        text = ReviewJob.payload.op("->>", return_type=Text)(key)
        return without, func.octet_length(text)
    rest = func.json_remove(ReviewJob.payload, "$.diff", type_=JSON)
    utf8 = cast(func.json_extract(ReviewJob.payload, "$.diff"), LargeBinary)
    return rest, func.length(utf8)


def _summarised(row: Sequence[Any]) -> ReviewJob:
    """Give a row's job its payload with the diff replaced by ``{"bytes": n}``."""
    job: ReviewJob = row[0]
    rest: dict[str, Any] = row[1]
    diff_bytes: int | None = row[2]
    if diff_bytes is not None:
        rest = {**rest, "diff": {"bytes": diff_bytes}}
    set_committed_value(job, "payload", rest)
    return job


async def list_jobs(
    session: AsyncSession, status: str | None, kind: str | None, request: PageRequest
) -> JobPage:
    """Return one page of jobs, newest first; each diff is shown as its size."""
    rest, size = _payload_without_diff(session.get_bind().dialect.name)
    query = select(ReviewJob, rest, size)
    query = query.options(defer(ReviewJob.payload, raiseload=True))
    conditions = _job_conditions(status, kind)
    return await fetch_page(session, query, ReviewJob, conditions, request, _summarised)


async def get_job(session: AsyncSession, job_id: int) -> ReviewJob:
    """Return one job; raise RecordNotFound when there is none."""
    query = select(ReviewJob).where(ReviewJob.id == job_id)
    job = (
        await session.scalars(query.execution_options(populate_existing=True))
    ).first()
    if job is None:
        raise RecordNotFound(f"job {job_id} not found")
    return job


async def wait_for_job(
    load: Callable[[], Awaitable[ReviewJob]],
    seconds: float,
    clock: Clock,
    interval: float = POLL_SECONDS,
) -> ReviewJob:
    """Load a job again every ``interval`` until it has finished or ``seconds`` pass.

    Return the job as last loaded, finished or not.
    """
    deadline = clock.now() + timedelta(seconds=seconds)
    job = await load()
    while job.status not in FINISHED:
        left = (deadline - clock.now()).total_seconds()
        if left <= 0:
            break
        await clock.sleep(min(interval, left))
        job = await load()
    return job


def _requeue(now: datetime) -> dict[str, Any]:
    """Return the columns of a job put back in the queue for a fresh set of tries.

    review_id is kept: a job whose review was stored resumes at the email stage.
    """
    return {
        "status": QUEUED,
        "attempts": 0,
        "run_after": now,
        "finished_at": None,
        "locked_by": None,
        "locked_until": None,
        "updated_at": now,
    }


async def _refuse(
    session: AsyncSession, job_id: int, verb: str, allowed: Sequence[str]
) -> NoReturn:
    """Raise RecordNotFound or Conflict for a guarded update that matched nothing."""
    status = await session.scalar(
        select(ReviewJob.status).where(ReviewJob.id == job_id)
    )
    await session.rollback()
    if status is None:
        raise RecordNotFound(f"job {job_id} not found")
    raise Conflict(refusal(job_id, status, verb, allowed))


async def _change_job(
    session: AsyncSession,
    job_id: int,
    allowed: Sequence[str],
    values: dict[str, Any],
) -> ReviewJob | None:
    """Apply ``values`` to job ``job_id`` if its status is ``allowed``; return it."""
    statement = (
        update(ReviewJob)
        .where(ReviewJob.id == job_id, ReviewJob.status.in_(allowed))
        .values(**values)
        .returning(ReviewJob)
    )
    return (await session.scalars(statement)).one_or_none()


async def retry_job(session: AsyncSession, job_id: int, now: datetime) -> ReviewJob:
    """Queue a failed, dead or cancelled job again for a fresh set of tries."""
    job = await _change_job(session, job_id, RETRYABLE, _requeue(now))
    if job is None:
        await _refuse(session, job_id, "retried", RETRYABLE)
    await session.commit()
    logger.info("job.retried", extra={"job_id": job_id})
    return job


async def cancel_job(session: AsyncSession, job_id: int, now: datetime) -> ReviewJob:
    """Cancel a queued or running job.

    A worker running it notices at its next lease renewal, which then fails.
    """
    values = {
        "status": CANCELLED,
        "finished_at": now,
        "locked_by": None,
        "locked_until": None,
        "updated_at": now,
    }
    job = await _change_job(session, job_id, CANCELLABLE, values)
    if job is None:
        await _refuse(session, job_id, "cancelled", CANCELLABLE)
    await session.commit()
    logger.info("job.cancelled", extra={"job_id": job_id})
    return job


async def resolve_failure(
    session: AsyncSession, failure_id: int, notes: str | None
) -> ReviewFailureLog:
    """Mark a failure log resolved, adding ``notes`` to any it had."""
    record = await FailureLogRepository(session).resolve(failure_id, notes)
    await session.commit()
    logger.info("failure.resolved", extra={"failure_id": failure_id})
    return record


async def _refuse_failure_retry(session: AsyncSession, failure_id: int) -> NoReturn:
    """Raise RecordNotFound or Conflict for a failure whose job was not queued."""
    query = (
        select(ReviewFailureLog.job_id, ReviewJob.status)
        .outerjoin(ReviewJob, ReviewJob.id == ReviewFailureLog.job_id)
        .where(ReviewFailureLog.id == failure_id)
    )
    row = (await session.execute(query)).one_or_none()
    await session.rollback()
    if row is None:
        raise RecordNotFound(f"failure log {failure_id} not found")
    if row.job_id is None:
        raise Conflict(f"failure {failure_id} has no job to retry (it predates jobs)")
    if row.status is None:
        raise Conflict(f"failure {failure_id} names job {row.job_id}, which is gone")
    raise Conflict(refusal(row.job_id, row.status, "retried", RETRYABLE))


async def retry_failure(
    session: AsyncSession, failure_id: int, now: datetime
) -> FailureRetry:
    """Queue the job of a failure log again and count the retry on the log.

    The log stays (or becomes again) unresolved; the queue resolves it when
    the job succeeds.
    """
    job_of_failure = (
        select(ReviewFailureLog.job_id)
        .where(ReviewFailureLog.id == failure_id)
        .scalar_subquery()
    )
    job = (
        await session.scalars(
            update(ReviewJob)
            .where(ReviewJob.id == job_of_failure, ReviewJob.status.in_(RETRYABLE))
            .values(**_requeue(now))
            .returning(ReviewJob)
        )
    ).one_or_none()
    if job is None:
        await _refuse_failure_retry(session, failure_id)
    counted = (
        update(ReviewFailureLog)
        .where(ReviewFailureLog.id == failure_id)
        .values(retry_count=ReviewFailureLog.retry_count + 1, resolved=False)
        .returning(ReviewFailureLog)
    )
    failure = (await session.scalars(counted)).one()
    await session.commit()
    logger.info("failure.retried", extra={"failure_id": failure_id, "job_id": job.id})
    return FailureRetry(failure=failure, job=job)


async def job_stats(session: AsyncSession, now: datetime) -> JobStats:
    """Count jobs by status and measure how long the oldest queued job has waited."""
    by_status = select(ReviewJob.status, func.count()).group_by(ReviewJob.status)
    counts: dict[str, int] = dict((await session.execute(by_status)).all())
    oldest_query = select(func.min(ReviewJob.created_at)).where(
        ReviewJob.status == QUEUED
    )
    oldest = await session.scalar(oldest_query)
    age = None if oldest is None else max((now - oldest).total_seconds(), 0.0)
    return JobStats(
        by_status={status: counts.get(status, 0) for status in STATUSES},
        oldest_queued_seconds=age,
    )

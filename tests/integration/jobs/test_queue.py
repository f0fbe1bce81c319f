"""The job queue on real SQLite and PostgreSQL: enqueue, claim, lease, settle."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import ReviewFailureLog, ReviewJob, utcnow
from ai_code_reviewer.api.jobs import queue
from ai_code_reviewer.api.jobs.queue import ClaimedJob, GiveUp, JobSpec
from tests.conftest import FailureFactory

LEASE = timedelta(seconds=60)


def spec(key: str, max_attempts: int = 3) -> JobSpec:
    """Describe a job with dedupe key ``key``."""
    return JobSpec("review_diff", {"project_key": "P", "n": key}, key, max_attempts)


async def add(database: Database, *keys: str, now: datetime | None = None) -> list[int]:
    """Enqueue one job per key and commit; return their ids."""
    async with database.session() as session:
        ids = [
            (await queue.enqueue(session, spec(k), now or utcnow()))[0] for k in keys
        ]
        await session.commit()
    return ids


async def claim(
    database: Database, worker: str = "w1", now: datetime | None = None
) -> ClaimedJob | None:
    """Claim one job as ``worker``."""
    async with database.session() as session:
        return await queue.claim(session, worker, LEASE, now or utcnow())


async def status_of(database: Database, job_id: int) -> tuple[str, int, str | None]:
    """Return a job's status, attempts and holder."""
    async with database.session() as session:
        job = await session.get(ReviewJob, job_id)
        assert job is not None
        return job.status, job.attempts, job.locked_by


async def test_same_dedupe_key_is_one_job(database: Database) -> None:
    """Enqueueing the same key twice answers the first job and creates nothing."""
    async with database.session() as session:
        first = await queue.enqueue(session, spec("commit:x"), utcnow())
        second = await queue.enqueue(session, spec("commit:x"), utcnow())
        await session.commit()
        count = (
            await session.execute(select(func.count()).select_from(ReviewJob))
        ).scalar()

    assert first == (first[0], True)
    assert second == (first[0], False)
    assert count == 1


async def test_claim_takes_the_oldest_due_job_under_a_lease(database: Database) -> None:
    """A claim locks the oldest due job for its worker and counts the try."""
    [due, _later] = await add(database, "a", "b")
    now = utcnow()
    async with database.session() as session:
        await session.execute(
            update(ReviewJob)
            .where(ReviewJob.id == _later)
            .values(run_after=now + timedelta(hours=1))
        )
        await session.commit()

    job = await claim(database, now=now)
    nothing = await claim(database, now=now)

    assert job is not None and job.id == due
    assert nothing is None
    assert await status_of(database, due) == ("running", 1, "w1")


async def test_only_the_holder_renews_or_settles(database: Database) -> None:
    """Another worker's renew, hold or succeed changes nothing."""
    [job_id] = await add(database, "a")
    job = await claim(database)
    assert job is not None
    impostor = ClaimedJob(job.id, job.kind, job.payload, 1, 3, None, worker_id="w2")

    async with database.session() as session:
        renewed = await queue.renew(session, impostor, LEASE, utcnow())
        settled = await queue.succeed(session, impostor, utcnow())

    assert (renewed, settled) == (False, False)
    assert await status_of(database, job_id) == ("running", 1, "w1")


async def test_lapsed_lease_returns_the_job_to_the_queue(database: Database) -> None:
    """A job whose worker stopped renewing is queued again after its lease."""
    [job_id] = await add(database, "a")
    await claim(database, now=utcnow())

    async with database.session() as session:
        early = await queue.requeue_expired(session, utcnow() + LEASE / 2)
        late = await queue.requeue_expired(session, utcnow() + LEASE * 2)

    assert (early, late) == ([], [job_id])
    assert await status_of(database, job_id) == ("queued", 1, None)


async def test_lapsed_job_without_tries_left_is_reported(database: Database) -> None:
    """A lapsed job on its last try is listed for giving up, not requeued."""
    [job_id] = await add(database, "a")
    async with database.session() as session:
        await session.execute(
            update(ReviewJob).where(ReviewJob.id == job_id).values(max_attempts=1)
        )
        await session.commit()
    await claim(database)
    later = utcnow() + LEASE * 2

    async with database.session() as session:
        requeued = await queue.requeue_expired(session, later)
        spent = await queue.expired_out_of_tries(session, later)

    assert requeued == []
    assert [job.id for job in spent] == [job_id]
    assert spent[0].worker_id == "w1"


async def test_give_up_writes_one_failure_log(database: Database) -> None:
    """Giving up marks the job dead and writes exactly one failure row."""
    [job_id] = await add(database, "a")
    job = await claim(database)
    assert job is not None
    outcome = GiveUp("dead", "llm_review", "TimeoutError", "slow", "trace", {"k": 1})

    async with database.session() as session:
        first = await queue.give_up(
            session, job, outcome, {"event_type": "manual"}, utcnow()
        )
        second = await queue.give_up(
            session, job, outcome, {"event_type": "manual"}, utcnow()
        )
        logs = (await session.scalars(select(ReviewFailureLog))).all()

    assert (first, second) == (True, False)
    assert [(log.job_id, log.failure_stage, log.retry_count) for log in logs] == [
        (job_id, "llm_review", 0)
    ]
    assert (await status_of(database, job_id))[0] == "dead"


async def test_success_resolves_the_failures_it_retried(
    database: Database, make_failure: FailureFactory
) -> None:
    """When a retried job succeeds, its open failure logs become resolved."""
    [job_id] = await add(database, "a")
    failure = await make_failure(job_id=job_id)
    job = await claim(database)
    assert job is not None

    async with database.session() as session:
        await queue.succeed(session, job, utcnow())
        resolved = await session.get(ReviewFailureLog, failure.id)

    assert resolved is not None and resolved.resolved
    assert "succeeded on retry" in (resolved.resolution_notes or "")


async def test_release_hands_back_without_counting_the_try(database: Database) -> None:
    """A released job is queued again with its attempt count as before the claim."""
    [job_id] = await add(database, "a")
    job = await claim(database)
    assert job is not None

    async with database.session() as session:
        await queue.release(session, job, utcnow())

    assert await status_of(database, job_id) == ("queued", 0, None)


async def test_concurrent_claims_take_distinct_jobs(database: Database) -> None:
    """Eight claimers racing over 40 jobs take each job exactly once."""
    await add(database, *(f"job-{n}" for n in range(40)))

    async def drain(worker: str) -> list[int]:
        taken = []
        while (job := await claim(database, worker)) is not None:
            taken.append(job.id)
        return taken

    results = await asyncio.gather(*(drain(f"w{n}") for n in range(8)))

    claimed = [job_id for taken in results for job_id in taken]
    assert sorted(claimed) == sorted(set(claimed))
    assert len(claimed) == 40

"""The worker and pipeline with fake stages that fail on command, on both databases."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import select, update

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import ReviewFailureLog, ReviewJob, ReviewRecord
from ai_code_reviewer.api.jobs import operations, queue, specs
from ai_code_reviewer.api.jobs.backoff import Backoff
from ai_code_reviewer.api.jobs.pipeline import Pipeline, Services
from ai_code_reviewer.api.jobs.worker import Worker
from ai_code_reviewer.errors import NotFound, RateLimited, TransientError
from ai_code_reviewer.settings import Settings
from tests.conftest import make_settings
from tests.fakes import DIFF, FakeGitHost, FakeNotifier, FakeReviewer, ManualClock

WAIT_SECONDS = 15


class Rig:
    """A worker over fakes, with a manual clock and a seeded backoff."""

    def __init__(
        self, database: Database, settings: Settings, worker_id: str = "w1"
    ) -> None:
        self.database = database
        self.clock = ManualClock()
        self.reviewer = FakeReviewer()
        self.notifier = FakeNotifier()
        self.githost = FakeGitHost()
        services = Services(self.reviewer, self.notifier, {"bitbucket": self.githost})
        self.pipeline = Pipeline(database, services, self.clock)
        self.backoff = Backoff(10.0, 900.0, random.Random(7))
        self.worker = Worker(
            database,
            self.pipeline,
            settings,
            clock=self.clock,
            worker_id=worker_id,
            backoff=self.backoff,
        )

    async def enqueue(self, spec: queue.JobSpec) -> int:
        """Enqueue ``spec`` at the clock's time and wake the worker."""
        async with self.database.session() as session:
            job_id, _ = await queue.enqueue(session, spec, self.clock.now())
            await session.commit()
        self.worker.wake()
        return job_id

    async def job(self, job_id: int) -> ReviewJob:
        """Read a job."""
        async with self.database.session() as session:
            job = await session.get(ReviewJob, job_id)
        assert job is not None
        return job

    async def wait(
        self, job_id: int, *statuses: str, attempts: int | None = None
    ) -> ReviewJob:
        """Wait until the job has one of ``statuses`` (and ``attempts`` if given)."""
        for _ in range(WAIT_SECONDS * 50):
            job = await self.job(job_id)
            if job.status in statuses and attempts in (None, job.attempts):
                return job
            await asyncio.sleep(0.02)
        raise AssertionError(f"job {job_id} stayed {job.status} ({job.attempts} tries)")

    async def reviews(self) -> list[ReviewRecord]:
        """Read every stored review."""
        async with self.database.session() as session:
            return list((await session.scalars(select(ReviewRecord))).all())

    async def failures(self) -> list[ReviewFailureLog]:
        """Read every failure log."""
        async with self.database.session() as session:
            return list((await session.scalars(select(ReviewFailureLog))).all())

    @asynccontextmanager
    async def running(self) -> AsyncIterator[asyncio.Event]:
        """Run the worker for the block; yield its stop event."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.worker.run(stop))
        try:
            yield stop
        finally:
            stop.set()
            await asyncio.wait_for(task, WAIT_SECONDS)


@pytest.fixture
def rig(database: Database, db_url: str, tmp_path: Path) -> Rig:
    """Return a rig on the test's database, polling fast."""
    settings = make_settings(
        db_url, tmp_path, worker_poll_interval=0.02, job_max_attempts=3
    )
    return Rig(database, settings)


def diff_job(max_attempts: int = 3) -> queue.JobSpec:
    """Describe the review of the fake diff, as uploaded."""
    return specs.diff_job(
        diff=DIFF,
        project_key="PROJ",
        repo_slug="service",
        max_attempts=max_attempts,
        author_email="ada@example.com",
    )


def commit_job() -> queue.JobSpec:
    """Describe the review of a commit announced by a webhook."""
    return specs.commit_job(
        host="bitbucket",
        project_key="PROJ",
        repo_slug="service",
        commit_id="a" * 40,
        max_attempts=3,
        event_key="repo:refs_changed",
    )


async def test_normal_path_stores_one_review_and_sends_one_email(rig: Rig) -> None:
    """A commit job runs every stage once: one review, one email, one publication."""
    async with rig.running():
        job_id = await rig.enqueue(commit_job())
        job = await rig.wait(job_id, "succeeded")

    [review] = await rig.reviews()
    assert (job.attempts, job.review_id) == (1, review.id)
    assert (review.job_id, review.email_sent, review.email_status) == (
        job_id,
        True,
        "sent",
    )
    assert review.publish_status == "published"
    assert review.author_email == "ada@example.com"
    assert "eval" in review.review_feedback
    assert len(rig.notifier.delivered) == 1
    assert len(rig.githost.published) == 1


async def test_what_the_host_cut_is_stated_in_the_review(rig: Rig) -> None:
    """A diff the Git host truncated gives a review that says what it did not see."""
    rig.githost.truncated = ("big.py", "the diff")

    async with rig.running():
        await rig.wait(await rig.enqueue(commit_job()), "succeeded")
    [review] = await rig.reviews()

    assert review.coverage is not None
    assert review.coverage["cut"] == [
        "big.py: the Git host sent only part of it; the rest was not reviewed.",
        "The Git host left files out of the diff it sent; they were not reviewed.",
    ]
    assert "big.py: the Git host sent only part of it" in review.review_feedback


async def test_transient_failures_back_off_then_succeed(rig: Rig) -> None:
    """Two timeouts wait the backoff delays (on the clock), then the job succeeds."""
    rig.reviewer.script = [TimeoutError("model slow"), TimeoutError("model slow")]
    expected = Backoff(10.0, 900.0, random.Random(7))

    async with rig.running():
        job_id = await rig.enqueue(diff_job())
        delays = []
        for attempt in (1, 2):
            job = await rig.wait(job_id, "queued", attempts=attempt)
            delays.append((job.run_after - rig.clock.now()).total_seconds())
            rig.clock.advance(delays[-1])
            rig.worker.wake()
        job = await rig.wait(job_id, "succeeded")

    assert delays == pytest.approx([expected.delay(1), expected.delay(2)], abs=0.01)
    assert 5 <= delays[0] <= 10 and 10 <= delays[1] <= 20
    assert job.attempts == 3
    assert len(await rig.reviews()) == 1
    assert await rig.failures() == []


async def test_retry_after_is_obeyed(rig: Rig) -> None:
    """A 429 with Retry-After: 42 puts the next try 42 seconds later."""
    rig.githost.script = [RateLimited("slow down", retry_after=42)]

    async with rig.running():
        job_id = await rig.enqueue(commit_job())
        job = await rig.wait(job_id, "queued", attempts=1)

    assert (job.run_after - rig.clock.now()).total_seconds() == pytest.approx(42)
    assert job.failure_stage == "fetch_diff"


async def test_permanent_failure_fails_at_once_with_one_log(rig: Rig) -> None:
    """A 404 from the Git host fails the job on its first try, logged once."""
    rig.githost.script = [NotFound("no commit aaaa in PROJ/service")]

    async with rig.running():
        job_id = await rig.enqueue(commit_job())
        job = await rig.wait(job_id, "failed")

    [failure] = await rig.failures()
    assert job.attempts == 1
    assert (failure.failure_stage, failure.error_type) == ("fetch_diff", "NotFound")
    assert (failure.retry_count, failure.job_id, failure.event_type) == (
        0,
        job_id,
        "webhook",
    )
    assert (failure.project_key, failure.commit_id) == ("PROJ", "a" * 40)
    assert "NotFound" in (failure.error_stacktrace or "")


async def test_invalid_diff_fails_at_prepare_diff(rig: Rig) -> None:
    """An upload that is not a diff fails at prepare_diff; the payload keeps no diff."""
    spec = specs.diff_job(
        diff="hello\n", project_key="P", repo_slug="r", max_attempts=3
    )

    async with rig.running():
        job_id = await rig.enqueue(spec)
        await rig.wait(job_id, "failed")

    [failure] = await rig.failures()
    assert failure.failure_stage == "prepare_diff"
    assert isinstance(failure.request_payload, dict)
    assert failure.request_payload["diff"]["bytes"] == 6


async def test_dead_letter_after_max_attempts_without_secrets(rig: Rig) -> None:
    """Timeouts on every try end 'dead' with one log; a token in the error is masked."""
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    rig.reviewer.script = [TransientError(f"upstream said Bearer {token}")] * 3

    async with rig.running():
        job_id = await rig.enqueue(diff_job())
        for attempt in (1, 2):
            await rig.wait(job_id, "queued", attempts=attempt)
            rig.clock.advance(1000)
            rig.worker.wake()
        job = await rig.wait(job_id, "dead")

    [failure] = await rig.failures()
    assert (job.attempts, failure.retry_count, failure.failure_stage) == (
        3,
        2,
        "llm_review",
    )
    assert token not in failure.error_message
    assert token not in (failure.error_stacktrace or "")
    assert token not in (job.last_error or "")


async def test_email_failure_retries_only_the_email(rig: Rig) -> None:
    """A review whose email failed keeps email_sent false; the retry only emails."""
    rig.notifier.script = [ConnectionError("SMTP down")]

    async with rig.running():
        job_id = await rig.enqueue(diff_job())
        await rig.wait(job_id, "queued", attempts=1)
        [stored] = await rig.reviews()
        rig.clock.advance(1000)
        rig.worker.wake()
        await rig.wait(job_id, "succeeded")

    [review] = await rig.reviews()
    assert stored.email_sent is False
    assert review.id == stored.id and review.email_sent is True
    assert rig.reviewer.calls == 1
    assert len(rig.notifier.delivered) == 1


async def test_job_of_a_killed_worker_runs_after_its_lease(
    database: Database, db_url: str, tmp_path: Path
) -> None:
    """A job claimed by a worker that died is run by another after the lease lapses."""
    settings = make_settings(db_url, tmp_path, worker_poll_interval=0.02)
    rig = Rig(database, settings, worker_id="survivor")
    job_id = await rig.enqueue(diff_job())
    async with database.session() as session:
        lost = await queue.claim(session, "killed", rig.worker.lease, rig.clock.now())
    assert lost is not None

    rig.clock.advance(settings.job_lease_seconds + 1)
    async with rig.running():
        job = await rig.wait(job_id, "succeeded")

    assert job.attempts == 2
    assert len(await rig.reviews()) == 1


async def test_shutdown_hands_back_a_running_job(
    database: Database, db_url: str, tmp_path: Path
) -> None:
    """Stopping with no grace releases the running job, its try not counted."""
    settings = make_settings(
        db_url, tmp_path, worker_poll_interval=0.02, worker_shutdown_grace=0
    )
    rig = Rig(database, settings)
    rig.reviewer.delay = 30

    async with rig.running():
        job_id = await rig.enqueue(diff_job())
        await rig.wait(job_id, "running")

    job = await rig.job(job_id)
    assert (job.status, job.attempts, job.locked_by) == ("queued", 0, None)
    assert await rig.reviews() == []


async def test_cancelled_running_job_stores_nothing(
    database: Database, db_url: str, tmp_path: Path
) -> None:
    """A job cancelled while it runs loses its lease and stores no review."""
    settings = make_settings(
        db_url, tmp_path, worker_poll_interval=0.02, job_lease_seconds=1
    )
    rig = Rig(database, settings)
    rig.reviewer.delay = 0.8

    async with rig.running():
        job_id = await rig.enqueue(diff_job())
        await rig.wait(job_id, "running")
        async with database.session() as session:
            await session.execute(
                update(ReviewJob)
                .where(ReviewJob.id == job_id)
                .values(status="cancelled")
            )
            await session.commit()
        await asyncio.sleep(1.2)

    assert (await rig.job(job_id)).status == "cancelled"
    assert await rig.reviews() == []


async def test_retrying_a_failure_runs_the_job_and_resolves_it(rig: Rig) -> None:
    """A failure retried once its cause is fixed: the job succeeds, the log resolves."""
    rig.githost.script = [NotFound("repository not visible to the token")]

    async with rig.running():
        job_id = await rig.enqueue(commit_job())
        await rig.wait(job_id, "failed")
        [failure] = await rig.failures()
        async with rig.database.session() as session:
            await operations.retry_failure(session, failure.id, rig.clock.now())
        rig.worker.wake()
        job = await rig.wait(job_id, "succeeded")

    [after] = await rig.failures()
    assert (after.resolved, after.retry_count) == (True, 1)
    assert "succeeded on retry" in (after.resolution_notes or "")
    assert job.review_id is not None

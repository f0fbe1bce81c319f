"""The parts of the job operations that need no database: waiting and refusals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ai_code_reviewer.api.db.models import ReviewJob
from ai_code_reviewer.api.jobs import queue
from ai_code_reviewer.api.jobs.operations import (
    CANCELLABLE,
    RETRYABLE,
    refusal,
    wait_for_job,
)


@dataclass
class FakeClock:
    """A clock whose time moves only when something sleeps on it."""

    current: datetime = datetime(2026, 1, 1, 12, 0)
    slept: list[float] = field(default_factory=list)

    def now(self) -> datetime:
        """Return the fake time."""
        return self.current

    async def sleep(self, seconds: float) -> None:
        """Record the sleep and move the time on by it."""
        self.slept.append(seconds)
        self.current += timedelta(seconds=seconds)


@dataclass
class FakeLoads:
    """Answer a job in each of ``statuses`` in turn, the last one ever after."""

    statuses: list[str]
    count: int = 0

    async def __call__(self) -> ReviewJob:
        """Return the job as the next load sees it."""
        status = self.statuses[min(self.count, len(self.statuses) - 1)]
        self.count += 1
        return ReviewJob(id=1, status=status)


async def test_a_finished_job_is_answered_without_waiting() -> None:
    """A job already finished is loaded once and answered at once."""
    clock, loads = FakeClock(), FakeLoads([queue.DEAD])

    job = await wait_for_job(loads, 30, clock)

    assert job.status == queue.DEAD
    assert (loads.count, clock.slept) == (1, [])


async def test_waiting_stops_when_the_job_finishes() -> None:
    """The job is loaded every interval until it has finished."""
    clock = FakeClock()
    loads = FakeLoads([queue.QUEUED, queue.RUNNING, queue.SUCCEEDED])

    job = await wait_for_job(loads, 30, clock, interval=0.2)

    assert job.status == queue.SUCCEEDED
    assert (loads.count, clock.slept) == (3, [0.2, 0.2])


async def test_waiting_ends_at_the_deadline_with_the_job_as_it_is() -> None:
    """When time is up the unfinished job is answered; no sleep goes past the end."""
    clock, loads = FakeClock(), FakeLoads([queue.RUNNING])

    job = await wait_for_job(loads, 0.5, clock, interval=0.2)

    assert job.status == queue.RUNNING
    assert loads.count == 4
    assert [round(s, 6) for s in clock.slept] == [0.2, 0.2, 0.1]


async def test_no_wait_loads_once() -> None:
    """With zero seconds the job is loaded once and answered unfinished."""
    clock, loads = FakeClock(), FakeLoads([queue.QUEUED])

    job = await wait_for_job(loads, 0, clock)

    assert job.status == queue.QUEUED
    assert (loads.count, clock.slept) == (1, [])


def test_refusals_name_the_state_and_what_is_allowed() -> None:
    """A refusal says the job's state and which states allow the change."""
    retry = refusal(7, queue.RUNNING, "retried", RETRYABLE)
    cancel = refusal(8, queue.SUCCEEDED, "cancelled", CANCELLABLE)

    assert (
        retry == "job 7 is running; only failed, dead or cancelled jobs can be retried"
    )
    assert cancel == "job 8 has succeeded; only queued or running jobs can be cancelled"

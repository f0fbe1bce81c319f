"""Claim review jobs and run them, as many at once as configured.

The worker runs inside the service by default and as its own process
(``ai-code-reviewer worker``); any number of workers may share a PostgreSQL
database. A running job's lease is renewed in the background; a job whose
worker dies goes back to the queue when its lease lapses. On shutdown the
worker stops claiming, gives running jobs a grace period, then hands back
the ones still running, their try not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.jobs import queue
from ai_code_reviewer.api.jobs.backoff import Backoff
from ai_code_reviewer.api.jobs.clock import Clock, SystemClock
from ai_code_reviewer.api.jobs.failures import (
    describe,
    failure_fields,
    giving_up,
    is_transient,
    retry_after,
)
from ai_code_reviewer.api.jobs.pipeline import Pipeline, StageFailed
from ai_code_reviewer.logs import log_context
from ai_code_reviewer.settings import Settings

logger = logging.getLogger(__name__)

LOST_WORKER_STAGE = "worker_lost"


def default_worker_id() -> str:
    """Name this worker uniquely: host, process and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def duration_since(started: float | None) -> dict[str, float]:
    """Return the ``duration_ms`` field of a job's last line, when it is known."""
    if started is None:
        return {}
    return {"duration_ms": round((time.perf_counter() - started) * 1000, 1)}


class Worker:
    """Run claimed jobs through the pipeline, ``concurrency`` at a time."""

    def __init__(
        self,
        database: Database,
        pipeline: Pipeline,
        settings: Settings,
        *,
        clock: Clock | None = None,
        worker_id: str | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.database = database
        self.pipeline = pipeline
        self.concurrency = max(settings.worker_concurrency, 1)
        self.lease = timedelta(seconds=settings.job_lease_seconds)
        self.poll = settings.worker_poll_interval
        self.grace = settings.worker_shutdown_grace
        self.clock = clock or SystemClock()
        self.worker_id = worker_id or default_worker_id()
        self.backoff = backoff or Backoff(
            settings.job_retry_base_seconds, settings.job_retry_max_seconds
        )
        self.running: dict[int, asyncio.Task[None]] = {}
        self._nudge = asyncio.Event()
        self._next_sweep = self.clock.now()

    def wake(self) -> None:
        """Look for jobs now instead of at the next poll (call from the loop)."""
        self._nudge.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Claim and run jobs until ``stop`` is set, then drain and return."""
        logger.info(
            "worker.started",
            extra={"worker_id": self.worker_id, "concurrency": self.concurrency},
        )
        while not stop.is_set():
            await self._sweep_if_due()
            await self._fill()
            await self._idle(stop)
        await self.drain()
        logger.info("worker.stopped", extra={"worker_id": self.worker_id})

    async def _idle(self, stop: asyncio.Event) -> None:
        """Wait for a nudge, a free slot, the stop signal or the poll interval."""
        self._nudge.clear()
        waiters = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._nudge.wait()),
        ]
        busy = (
            list(self.running.values()) if len(self.running) >= self.concurrency else []
        )
        await asyncio.wait(
            [*waiters, *busy], timeout=self.poll, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in waiters:
            waiter.cancel()

    async def _fill(self) -> None:
        """Claim jobs while there are free slots and due jobs."""
        while len(self.running) < self.concurrency:
            job = await self._claim()
            if job is None:
                return
            task = asyncio.create_task(self.process(job), name=f"job-{job.id}")
            self.running[job.id] = task
            task.add_done_callback(self._forget(job.id))

    def _forget(self, job_id: int) -> Callable[[asyncio.Task[None]], None]:
        """Make the callback that frees a job's slot when its task ends."""

        def forget(_task: asyncio.Task[None]) -> None:
            self.running.pop(job_id, None)

        return forget

    async def _claim(self) -> queue.ClaimedJob | None:
        """Claim one due job; a database error is logged and waited out."""
        try:
            async with self.database.session() as session:
                job = await queue.claim(
                    session, self.worker_id, self.lease, self.clock.now()
                )
        except Exception:
            # The loop must outlive a database restart; the next poll tries again.
            logger.exception("worker.claim_failed", extra={"worker_id": self.worker_id})
            return None
        if job is not None:
            logger.info(
                "job.claimed",
                extra={"job_id": job.id, "kind": job.kind, "attempt": job.attempts},
            )
        return job

    async def process(self, job: queue.ClaimedJob) -> None:
        """Run ``job`` with its lease renewed and its id on every line it logs."""
        with log_context(job_id=job.id):
            task = asyncio.current_task()
            assert task is not None  # noqa: S101  # always inside a task here
            heartbeat = asyncio.create_task(self._heartbeat(job, task))
            try:
                await self._run(job)
            finally:
                heartbeat.cancel()

    async def _run(self, job: queue.ClaimedJob) -> None:
        """Run ``job`` through the pipeline and settle how it ended."""
        started = time.perf_counter()
        try:
            await self.pipeline.run(job)
        except queue.LeaseLost:
            logger.warning("job.lease_lost", extra={"job_id": job.id})
        except StageFailed as failed:
            await self._settle_failure(job, failed.stage, failed.cause, started)
        except asyncio.CancelledError:
            await asyncio.shield(self._release(job))
            raise
        except Exception as exc:
            # Not a stage's error: a bug in the pipeline itself; recorded as such.
            logger.exception("job.crashed", extra={"job_id": job.id})
            await self._settle_failure(job, "pipeline", exc, started)
        else:
            await self._succeed(job, started)

    async def _heartbeat(self, job: queue.ClaimedJob, task: asyncio.Task[None]) -> None:
        """Renew the lease every third of it; cancel the job when it is lost."""
        interval = self.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.database.session() as session:
                    held = await queue.renew(session, job, self.lease, self.clock.now())
            except Exception:
                logger.exception("job.renew_failed", extra={"job_id": job.id})
                continue
            if not held:
                logger.warning("job.lease_lost", extra={"job_id": job.id})
                task.cancel()
                return

    async def _succeed(self, job: queue.ClaimedJob, started: float) -> None:
        """Mark ``job`` succeeded."""
        async with self.database.session() as session:
            done = await queue.succeed(session, job, self.clock.now())
        logger.info(
            "job.succeeded",
            extra={"job_id": job.id, "recorded": done, **duration_since(started)},
        )

    async def _settle_failure(
        self, job: queue.ClaimedJob, stage: str, error: BaseException, started: float
    ) -> None:
        """Retry ``job`` later, or give it up with one failure log row."""
        now = self.clock.now()
        if is_transient(error) and job.attempts < job.max_attempts:
            delay = self.backoff.delay(job.attempts, retry_after(error))
            async with self.database.session() as session:
                await queue.retry_later(
                    session,
                    job,
                    stage=stage,
                    error=describe(error),
                    delay=delay,
                    now=now,
                )
            logger.warning(
                "job.retry",
                extra={
                    "job_id": job.id,
                    "stage": stage,
                    "error_type": type(error).__name__,
                    "attempt": job.attempts,
                    "delay_s": round(delay, 2),
                    **duration_since(started),
                },
            )
            return
        await self._give_up(job, stage, error, started)

    async def _give_up(
        self,
        job: queue.ClaimedJob,
        stage: str,
        error: BaseException,
        started: float | None = None,
    ) -> None:
        """Record that ``job`` failed for good."""
        outcome = giving_up(job, stage, error)
        async with self.database.session() as session:
            await queue.give_up(
                session, job, outcome, failure_fields(job.payload), self.clock.now()
            )
        logger.error(
            "job.gave_up",
            extra={
                "job_id": job.id,
                "status": outcome.status,
                "stage": stage,
                "error_type": outcome.error_type,
                "attempts": job.attempts,
                **duration_since(started),
            },
        )

    async def _release(self, job: queue.ClaimedJob) -> None:
        """Hand ``job`` back to the queue (shutdown or cancellation)."""
        try:
            async with self.database.session() as session:
                released = await queue.release(session, job, self.clock.now())
        except Exception:
            # Its lease will lapse and another worker will take it.
            logger.exception("job.release_failed", extra={"job_id": job.id})
            return
        logger.info("job.released", extra={"job_id": job.id, "released": released})

    async def _sweep_if_due(self) -> None:
        """Now and then, return the jobs of dead workers to the queue."""
        now = self.clock.now()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.lease / 4
        try:
            async with self.database.session() as session:
                await queue.requeue_expired(session, now)
                spent = await queue.expired_out_of_tries(session, now)
            for job in spent:
                error = TimeoutError(
                    f"the lease of job {job.id} lapsed on its last try"
                )
                await self._give_up(job, LOST_WORKER_STAGE, error)
        except Exception:
            logger.exception("worker.sweep_failed", extra={"worker_id": self.worker_id})

    async def drain(self) -> None:
        """Give running jobs the grace period, then cancel and hand back the rest."""
        tasks = list(self.running.values())
        if not tasks:
            return
        logger.info(
            "worker.draining", extra={"running": len(tasks), "grace_s": self.grace}
        )
        _done, pending = await asyncio.wait(tasks, timeout=self.grace)
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task

"""Real processes: workers killed with SIGKILL, and a service killed after its 202."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from ai_code_reviewer.api.db.database import Database, run_migrations
from ai_code_reviewer.api.db.models import ReviewJob, ReviewRecord, utcnow
from ai_code_reviewer.api.jobs import queue, specs
from ai_code_reviewer.settings import Settings
from tests.conftest import sqlite_url
from tests.fakes import DIFF
from tests.integration.test_service import free_port, wait_until_up

JOBS = 500
WORKER = str(Path(sys.executable).parent / "ai-code-reviewer")


def worker_env(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """Return the environment of a worker or service process for ``url``."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DATABASE_URL=url,
        WORKER_CONCURRENCY="4",
        WORKER_POLL_INTERVAL="0.05",
        JOB_LEASE_SECONDS="3",
        WORKER_SHUTDOWN_GRACE="5",
        EMAIL_OUTBOX_DIR=str(tmp_path / "outbox"),
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``ai-code-reviewer worker`` with its output in ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen([WORKER, "worker"], env=env, stdout=out, stderr=out)


async def enqueue_many(url: str, count: int) -> None:
    """Enqueue ``count`` diff reviews in one transaction."""
    database = Database(Settings(_env_file=None, database_url=url))
    async with database.session() as session:
        for n in range(count):
            spec = specs.diff_job(
                diff=DIFF, project_key="LOAD", repo_slug=f"r{n % 7}", max_attempts=5
            )
            await queue.enqueue(session, spec, utcnow())
        await session.commit()
    await database.dispose()


async def tally(url: str) -> dict[str, int]:
    """Count jobs by status, reviews, and reviews with distinct jobs."""
    database = Database(Settings(_env_file=None, database_url=url))
    async with database.session() as session:
        rows = await session.execute(
            select(ReviewJob.status, func.count()).group_by(ReviewJob.status)
        )
        counts = {str(row[0]): int(row[1]) for row in rows}
        reviews = select(func.count(), func.count(func.distinct(ReviewRecord.job_id)))
        total, distinct = (await session.execute(reviews)).one()
    await database.dispose()
    return {**counts, "reviews": total, "distinct_jobs": distinct}


def wait_for(url: str, done: int, seconds: float) -> dict[str, int]:
    """Wait until ``done`` jobs succeeded; return the last tally."""
    deadline = time.monotonic() + seconds
    while True:
        counts = asyncio.run(tally(url))
        if counts.get("succeeded", 0) >= done or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Collect worker processes and make sure none outlives the test."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.slow
def test_killed_worker_loses_nothing_and_duplicates_nothing(
    fresh_postgres_url: str,
    tmp_path: Path,
    workers: list[subprocess.Popen[bytes]],
) -> None:
    """500 jobs, 3 workers, one SIGKILLed midway and restarted: 500 reviews, once."""
    run_migrations(Settings(_env_file=None, database_url=fresh_postgres_url))
    asyncio.run(enqueue_many(fresh_postgres_url, JOBS))
    env = worker_env(fresh_postgres_url, tmp_path)
    log = tmp_path / "workers.log"
    workers.extend(start_worker(env, log) for _ in range(3))

    midway = wait_for(fresh_postgres_url, JOBS // 5, 120)
    workers[0].send_signal(signal.SIGKILL)
    workers[0].wait(timeout=10)
    workers.append(start_worker(env, log))
    final = wait_for(fresh_postgres_url, JOBS, 180)
    for process in workers[1:]:
        process.send_signal(signal.SIGTERM)
    codes = [process.wait(timeout=30) for process in workers[1:]]

    assert midway.get("succeeded", 0) < JOBS, "the kill came too late to matter"
    assert final == {
        "succeeded": JOBS,
        "reviews": JOBS,
        "distinct_jobs": JOBS,
    }, log.read_text()[-3000:]
    assert codes == [0, 0, 0]


def test_job_accepted_before_a_kill_runs_after_restart(tmp_path: Path) -> None:
    """The service killed right after a 202 runs the accepted job when restarted."""
    url = sqlite_url(tmp_path / "ai_code_reviewer.db")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = worker_env(url, tmp_path, PORT=str(port))
    command = [sys.executable, "-m", "ai_code_reviewer.api.main"]

    first = subprocess.Popen(
        command, env={**env, "WORKER_CONCURRENCY": "0"}, cwd=tmp_path
    )
    try:
        wait_until_up(base, first)
        accepted = httpx.post(
            f"{base}/api/reviews/diff",
            content=DIFF,
            headers={"Content-Type": "text/x-diff"},
            timeout=10,
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    second = subprocess.Popen(command, env=env, cwd=tmp_path)
    try:
        wait_until_up(base, second)
        job_id = accepted.json()["job_id"]
        job = httpx.get(f"{base}/api/jobs/{job_id}?wait=20", timeout=30).json()
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    assert accepted.status_code == 202
    assert job["status"] == "succeeded"
    assert job["review_id"] is not None

"""/metrics after a small load, over real SQLite and PostgreSQL databases.

The counters and histograms belong to the test process and keep growing from
test to test, so the load's effect is read as the difference of two scrapes.
The job gauges come from the test's own database and are compared with it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import ReviewJob, utcnow
from ai_code_reviewer.api.jobs import queue, specs
from ai_code_reviewer.api.routes.metrics import queue_snapshot
from ai_code_reviewer.metrics import MULTIPROC_ENV, exposition
from ai_code_reviewer.settings import Settings
from tests.conftest import make_settings
from tests.fakes import DIFF
from tests.integration.jobs.test_webhook_intake import deliver, push

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

PREFIX = "ai_code_reviewer_"
DIFFS_WITH_AUTHOR, DIFFS_WITHOUT_AUTHOR = 30, 10
PUSHES, DUPLICATES, IGNORED, REJECTED = 20, 5, 5, 5


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Return settings with the service's own worker running two jobs at once."""
    return make_settings(
        db_url, tmp_path, worker_concurrency=2, worker_poll_interval=0.05
    )


def parse(text: str) -> Samples:
    """Return every sample of a scrape by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """Add up the samples called ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(
        value
        for (sample, have), value in samples.items()
        if sample == PREFIX + name and wanted <= have
    )


async def scrape(client: httpx.AsyncClient) -> Samples:
    """Scrape /metrics and parse it."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


async def upload_diffs(client: httpx.AsyncClient) -> list[int]:
    """Ask for diff reviews, some with an author to email; return the job ids."""
    job_ids = []
    for n in range(DIFFS_WITH_AUTHOR + DIFFS_WITHOUT_AUTHOR):
        params = {"project_key": "LOAD", "title": f"change {n}"}
        if n < DIFFS_WITH_AUTHOR:
            params["author_email"] = f"dev{n}@example.com"
        response = await client.post(
            "/api/reviews/diff",
            content=DIFF.encode(),
            params=params,
            headers={"Content-Type": "text/x-diff"},
        )
        assert response.status_code == 202
        job_ids.append(response.json()["job_id"])
    return job_ids


async def send_deliveries(client: httpx.AsyncClient) -> None:
    """Send pushes (some twice), events asking for nothing, and bodies not JSON."""
    for n in range(PUSHES):
        await deliver(client, push(f"{n + 1:040x}"), delivery_id=f"push-{n}")
    for n in range(DUPLICATES):
        await deliver(client, push(f"{n + 1:040x}"), delivery_id=f"push-{n}")
    for n in range(IGNORED):
        await deliver(client, {}, event_key="repo:modified", delivery_id=f"ign-{n}")
    for n in range(REJECTED):
        await deliver(client, b"{not json", delivery_id=f"bad-{n}")


async def jobs_by_state(database: Database) -> dict[str, int]:
    """Count the database's jobs by status."""
    async with database.session() as session:
        statement = select(ReviewJob.status, func.count()).group_by(ReviewJob.status)
        return {
            str(status): int(count)
            for status, count in await session.execute(statement)
        }


async def wait_for_workers(database: Database, seconds: float = 20) -> dict[str, int]:
    """Wait until no job is queued or running; return the counts by status."""
    deadline = time.monotonic() + seconds
    while True:
        counts = await jobs_by_state(database)
        busy = counts.get(queue.QUEUED, 0) + counts.get(queue.RUNNING, 0)
        if not busy or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(0.05)


async def read_back(client: httpx.AsyncClient, job_ids: list[int]) -> int:
    """Read each job, its review and /health; return how many reviews were read."""
    for job_id in job_ids:
        job = (await client.get(f"/api/jobs/{job_id}")).json()
        await client.get(f"/api/reviews/{job['review_id']}")
        await client.get("/health")
    return len(job_ids)


async def test_metrics_after_a_small_load(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Deliveries, stages, emails and HTTP latencies count the load; gauges the DB."""
    before = await scrape(client)

    job_ids = await upload_diffs(client)
    await send_deliveries(client)
    counts = await wait_for_workers(database)
    reads = await read_back(client, job_ids)
    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    expected = {
        "enqueued": PUSHES,
        "duplicate": DUPLICATES,
        "ignored": IGNORED,
        "rejected": REJECTED,
    }
    deliveries = {o: grew("webhook_deliveries_total", outcome=o) for o in expected}
    assert deliveries == expected
    diffs = DIFFS_WITH_AUTHOR + DIFFS_WITHOUT_AUTHOR
    assert counts == {queue.SUCCEEDED: diffs, queue.FAILED: PUSHES}
    for state in queue.STATUSES:
        assert total(after, "jobs", state=state) == counts.get(state, 0)
    assert total(after, "queue_depth") == 0
    assert total(after, "queue_oldest_age_seconds") == 0
    stage = "stage_duration_seconds_count"
    assert grew(stage, stage="llm_review", outcome="ok") == diffs
    assert grew(stage, stage="email", outcome="ok") == diffs
    assert grew(stage, stage="fetch_diff", outcome="error") == PUSHES
    assert grew("emails_total", status="outbox") == DIFFS_WITH_AUTHOR
    assert grew("emails_total", status="skipped") == DIFFS_WITHOUT_AUTHOR
    latency = "http_request_duration_seconds_count"
    assert grew(latency, method="GET", route="/api/reviews/{review_id}") == reads
    assert grew(latency, route="/api/webhooks/bitbucket", status_class="4xx") == 5
    routes = {
        dict(labels)["route"] for name, labels in after if name == PREFIX + latency
    }
    assert {"/api/jobs/{job_id}", "/api/reviews/diff", "/health"} <= routes
    assert not any(char.isdigit() for route in routes for char in route)


async def test_scrape_without_database_serves_the_process_metrics(
    client: httpx.AsyncClient, unreachable_database: Database
) -> None:
    """When the database does not answer, the job gauges are left out, not zero."""
    samples = await scrape(client)

    assert total(samples, "http_request_duration_seconds_count") > 0
    assert not any(name == PREFIX + "jobs" for name, _ in samples)


async def test_queue_gauges_show_due_jobs_and_their_wait(database: Database) -> None:
    """Due queued jobs make the depth; the oldest one's wait is its age."""
    now = utcnow()
    waits = (30, 5, -60)  # the last is a retry not due for a minute
    async with database.session() as session:
        for n, wait in enumerate(waits):
            spec = specs.diff_job(
                diff=DIFF, project_key="Q", repo_slug=f"r{n}", max_attempts=5
            )
            await queue.enqueue(session, spec, now - timedelta(seconds=wait))
        await session.commit()

        snapshot = await queue_snapshot(session, now)

    assert snapshot.jobs_by_state[queue.QUEUED] == len(waits)
    assert snapshot.due == 2
    assert snapshot.oldest_due_age_seconds == pytest.approx(30, abs=0.01)


MULTIPROCESS_CHILD = """
import sys
from ai_code_reviewer import metrics
assert "fastapi" not in sys.modules, "the metrics module must not need FastAPI"
metrics.WEBHOOK_DELIVERIES.labels("bitbucket", "enqueued").inc(3)
metrics.STAGE_SECONDS.labels("store", "ok").observe(0.2)
"""


def test_processes_sharing_a_directory_are_added_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With PROMETHEUS_MULTIPROC_DIR, a scrape adds up what every process counted."""
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    children = [
        subprocess.Popen([sys.executable, "-c", MULTIPROCESS_CHILD], env=env)
        for _ in range(2)
    ]
    assert [child.wait(timeout=60) for child in children] == [0, 0]
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))

    samples = parse(exposition().decode())

    assert total(samples, "webhook_deliveries_total", outcome="enqueued") == 6
    assert total(samples, "stage_duration_seconds_count", stage="store") == 2
    assert total(samples, "stage_duration_seconds_bucket", le="0.25") == 2

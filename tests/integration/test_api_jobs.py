"""The /api/jobs routes and the failure retry and resolve routes, on both databases."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from ai_code_reviewer.api.app import create_app
from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import ReviewJob, utcnow
from ai_code_reviewer.api.jobs import queue
from ai_code_reviewer.api.jobs.specs import REVIEW_COMMIT, REVIEW_DIFF
from ai_code_reviewer.api.routes import jobs, manual
from ai_code_reviewer.settings import Settings
from tests.conftest import FailureFactory, make_settings
from tests.integration.test_api_reviews import get_json, ids_of

JOB_FIELDS = {
    column.name for column in ReviewJob.__table__.columns if column.name != "dedupe_key"
}
DIFF = "diff --git a/é.py b/é.py\n@@ -1 +1 @@\n-a\n+b\n"

JobFactory = Callable[..., Awaitable[ReviewJob]]


def with_job_routes(app: FastAPI) -> FastAPI:
    """Include the job and manual review routers unless app.py already does."""
    present = {getattr(route, "endpoint", None) for route in app.routes}
    for router in (jobs.router, manual.router):
        if getattr(router.routes[0], "endpoint", None) not in present:
            app.include_router(router)
    return app


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Return settings that run no worker: jobs stay as the tests put them."""
    return make_settings(db_url, tmp_path, worker_concurrency=0)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """Run the application, with the job routes, around the test."""
    application = with_job_routes(create_app(settings))
    async with application.router.lifespan_context(application):
        yield application


async def add_job(database: Database, **overrides: Any) -> ReviewJob:
    """Store a job, a queued commit review unless ``overrides`` say otherwise."""
    now = utcnow()
    values: dict[str, Any] = {
        "kind": REVIEW_COMMIT,
        "status": queue.QUEUED,
        "dedupe_key": f"test:{uuid.uuid4().hex}",
        "payload": {"origin": "manual", "project_key": "PROJ", "repo_slug": "svc"},
        "run_after": now,
        "created_at": now,
        "updated_at": now,
    }
    values.update(overrides)
    job = ReviewJob(**values)
    async with database.session() as session:
        session.add(job)
        await session.commit()
    return job


async def set_status(database: Database, job_id: int, status: str) -> None:
    """Change a job's status behind the API's back."""
    async with database.session() as session:
        statement = update(ReviewJob).where(ReviewJob.id == job_id)
        await session.execute(statement.values(status=status))
        await session.commit()


@pytest.fixture
def make_job(database: Database) -> JobFactory:
    """Return a factory that stores a job; keyword arguments override fields."""

    async def make(**overrides: Any) -> ReviewJob:
        return await add_job(database, **overrides)

    return make


async def post(client: httpx.AsyncClient, url: str, status: int = 200) -> Any:
    """POST to ``url`` and return its JSON body, failing on any other status."""
    response = await client.post(url)
    assert response.status_code == status, response.text
    return response.json()


async def test_list_is_newest_first_with_the_diff_as_its_size(
    client: httpx.AsyncClient, make_job: JobFactory
) -> None:
    """Jobs are listed newest first with every field, an uploaded diff as its size."""
    commit = await make_job()
    upload = await make_job(
        kind=REVIEW_DIFF, payload={"origin": "manual", "diff": DIFF, "title": None}
    )

    body = await get_json(client, "/api/jobs")

    assert ids_of(body) == [upload.id, commit.id]
    newest = body["items"][0]
    assert set(newest) == JOB_FIELDS
    assert newest["payload"] == {
        "origin": "manual",
        "diff": {"bytes": len(DIFF.encode())},
        "title": None,
    }
    assert newest["created_at"].endswith("Z")
    assert body["items"][1]["payload"] == commit.payload


async def test_list_filters_by_status_and_kind(
    client: httpx.AsyncClient, make_job: JobFactory
) -> None:
    """status and kind each keep only the jobs that have that value."""
    dead = await make_job(status=queue.DEAD)
    upload = await make_job(kind=REVIEW_DIFF, payload={"diff": DIFF})
    await make_job()

    by_status = await get_json(client, "/api/jobs", status="dead")
    by_kind = await get_json(client, "/api/jobs", kind=REVIEW_DIFF)
    both = await get_json(client, "/api/jobs", status="queued", kind=REVIEW_DIFF)

    assert ids_of(by_status) == [dead.id]
    assert ids_of(by_kind) == [upload.id]
    assert ids_of(both) == [upload.id]


async def test_list_pages_by_cursor_and_counts(
    client: httpx.AsyncClient, make_job: JobFactory
) -> None:
    """Cursor pages follow each other and include_total counts every job."""
    made = [await make_job() for _ in range(5)]
    newest_first = [job.id for job in reversed(made)]

    first = await get_json(client, "/api/jobs", limit=2, include_total="true")
    second = await get_json(client, "/api/jobs", cursor=first["next_cursor"])

    assert ids_of(first) == newest_first[:2]
    assert first["total"] == 5
    assert ids_of(second) == newest_first[2:]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"status": "done"},
        {"status": ""},
        {"kind": "review_everything"},
        {"limit": "0"},
        {"cursor": "0"},
    ],
)
async def test_list_refuses_unknown_values(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    """An unknown status or kind, or bad paging, is answered 422."""
    response = await client.get("/api/jobs", params=params)

    assert response.status_code == 422, response.text


async def test_stats_count_by_status_and_age_the_oldest_queued(
    client: httpx.AsyncClient, make_job: JobFactory
) -> None:
    """Stats count every status and measure the oldest queued job's age."""
    an_hour_ago = utcnow() - timedelta(hours=1)
    await make_job(created_at=an_hour_ago)
    await make_job()
    await make_job(status=queue.SUCCEEDED, created_at=an_hour_ago - timedelta(days=1))

    body = await get_json(client, "/api/jobs/stats")

    assert body["by_status"] == {
        "queued": 2,
        "running": 0,
        "succeeded": 1,
        "failed": 0,
        "dead": 0,
        "cancelled": 0,
    }
    assert 3600 <= body["oldest_queued_seconds"] < 3660


async def test_stats_of_an_empty_queue(client: httpx.AsyncClient) -> None:
    """With no job, every count is zero and there is no oldest age."""
    body = await get_json(client, "/api/jobs/stats")

    assert set(body["by_status"].values()) == {0}
    assert body["oldest_queued_seconds"] is None


async def test_get_job_hides_the_diff(
    client: httpx.AsyncClient, make_job: JobFactory
) -> None:
    """One job is answered with every field and its diff as a size."""
    job = await make_job(kind=REVIEW_DIFF, payload={"diff": DIFF}, review_id=4)

    body = await get_json(client, f"/api/jobs/{job.id}")

    assert set(body) == JOB_FIELDS
    assert (body["id"], body["review_id"]) == (job.id, 4)
    assert body["payload"] == {"diff": {"bytes": len(DIFF.encode())}}


async def test_get_missing_job_is_404(client: httpx.AsyncClient) -> None:
    """An id with no job is answered 404 naming it, waiting or not."""
    plain = await client.get("/api/jobs/77")
    waiting = await client.get("/api/jobs/77", params={"wait": 5})

    assert plain.status_code == waiting.status_code == 404
    assert plain.json() == {"detail": "job 77 not found"}


async def test_wait_answers_as_soon_as_the_job_finishes(
    client: httpx.AsyncClient, make_job: JobFactory, database: Database
) -> None:
    """wait= answers early, with the finished job, when another task finishes it."""
    job = await make_job(status=queue.RUNNING)
    started = time.monotonic()

    answer = asyncio.create_task(client.get(f"/api/jobs/{job.id}", params={"wait": 20}))
    await asyncio.sleep(0.5)
    await set_status(database, job.id, queue.SUCCEEDED)
    response = await answer

    assert response.status_code == 200
    assert response.json()["status"] == queue.SUCCEEDED
    assert time.monotonic() - started < 5


async def test_wait_answers_the_unfinished_job_when_time_is_up(
    client: httpx.AsyncClient, make_job: JobFactory
) -> None:
    """wait= answers the job as it is once the time is up."""
    job = await make_job()
    started = time.monotonic()

    body = await get_json(client, f"/api/jobs/{job.id}", wait=0.6)

    assert body["status"] == queue.QUEUED
    assert 0.6 <= time.monotonic() - started < 5


@pytest.mark.parametrize("wait", ["-1", "60.5", "soon"])
async def test_wait_out_of_range_is_422(
    client: httpx.AsyncClient, make_job: JobFactory, wait: str
) -> None:
    """A wait below 0, above 60 or not a number is answered 422."""
    job = await make_job()

    response = await client.get(f"/api/jobs/{job.id}", params={"wait": wait})

    assert response.status_code == 422


async def test_retry_queues_a_finished_job_afresh(
    client: httpx.AsyncClient, make_job: JobFactory
) -> None:
    """A failed, dead or cancelled job is queued with no tries and its review kept."""
    made = [
        await make_job(
            status=status,
            attempts=5,
            finished_at=utcnow(),
            locked_by="w1",
            review_id=9,
            last_error="boom",
        )
        for status in (queue.FAILED, queue.DEAD, queue.CANCELLED)
    ]

    bodies = [await post(client, f"/api/jobs/{job.id}/retry") for job in made]

    for body in bodies:
        assert body["status"] == queue.QUEUED
        assert (body["attempts"], body["finished_at"], body["locked_by"]) == (
            0,
            None,
            None,
        )
        assert body["review_id"] == 9
    listed = await get_json(client, "/api/jobs", status="queued")
    assert len(listed["items"]) == 3


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (queue.QUEUED, "is queued"),
        (queue.RUNNING, "is running"),
        (queue.SUCCEEDED, "has succeeded"),
    ],
)
async def test_retry_of_a_live_or_succeeded_job_is_409(
    client: httpx.AsyncClient, make_job: JobFactory, status: str, state: str
) -> None:
    """Only failed, dead or cancelled jobs can be retried; others answer 409."""
    job = await make_job(status=status, attempts=1)

    body = await post(client, f"/api/jobs/{job.id}/retry", 409)

    assert body == {
        "detail": f"job {job.id} {state}; "
        "only failed, dead or cancelled jobs can be retried"
    }
    assert (await get_json(client, f"/api/jobs/{job.id}"))["attempts"] == 1


async def test_retry_and_cancel_of_a_missing_job_are_404(
    client: httpx.AsyncClient,
) -> None:
    """Retrying or cancelling an id with no job answers 404."""
    retried = await client.post("/api/jobs/5/retry")
    cancelled = await client.post("/api/jobs/5/cancel")

    assert retried.status_code == cancelled.status_code == 404
    assert retried.json() == {"detail": "job 5 not found"}


async def test_two_retries_at_once_queue_the_job_once(
    client: httpx.AsyncClient, make_job: JobFactory
) -> None:
    """Of two simultaneous retries of one job, one succeeds and one answers 409."""
    job = await make_job(status=queue.DEAD)

    answers = await asyncio.gather(
        client.post(f"/api/jobs/{job.id}/retry"),
        client.post(f"/api/jobs/{job.id}/retry"),
    )

    assert sorted(answer.status_code for answer in answers) == [200, 409]


async def test_cancel_stops_a_queued_job(
    client: httpx.AsyncClient, make_job: JobFactory
) -> None:
    """A queued job is cancelled with its finish time set."""
    job = await make_job()

    body = await post(client, f"/api/jobs/{job.id}/cancel")

    assert body["status"] == queue.CANCELLED
    assert body["finished_at"] is not None


async def test_cancel_takes_a_running_job_from_its_worker(
    client: httpx.AsyncClient, make_job: JobFactory, database: Database
) -> None:
    """A cancelled running job is no longer its worker's: the lease renewal fails."""
    await make_job()
    async with database.session() as session:
        claimed = await queue.claim(session, "w1", timedelta(minutes=1), utcnow())
    assert claimed is not None

    body = await post(client, f"/api/jobs/{claimed.id}/cancel")
    async with database.session() as session:
        renewed = await queue.renew(session, claimed, timedelta(minutes=1), utcnow())

    assert (body["status"], body["locked_by"], body["locked_until"]) == (
        queue.CANCELLED,
        None,
        None,
    )
    assert renewed is False


@pytest.mark.parametrize("status", [queue.SUCCEEDED, queue.DEAD, queue.CANCELLED])
async def test_cancel_of_a_finished_job_is_409(
    client: httpx.AsyncClient, make_job: JobFactory, status: str
) -> None:
    """A finished job cannot be cancelled: 409 with a sentence."""
    job = await make_job(status=status)

    body = await post(client, f"/api/jobs/{job.id}/cancel", 409)

    assert "only queued or running jobs can be cancelled" in body["detail"]


async def test_resolve_failure_adds_notes(
    client: httpx.AsyncClient, make_failure: FailureFactory
) -> None:
    """Resolving a failure marks it resolved and keeps the notes given."""
    failure = await make_failure(resolution_notes="looked at it")

    response = await client.post(
        f"/api/failures/{failure.id}/resolve", json={"notes": "model was down"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["resolved"] is True
    assert body["resolution_notes"] == "looked at it\nmodel was down"


async def test_resolve_failure_without_a_body(
    client: httpx.AsyncClient, make_failure: FailureFactory
) -> None:
    """A resolve with no body marks the failure resolved without notes."""
    failure = await make_failure()

    body = await post(client, f"/api/failures/{failure.id}/resolve")

    assert (body["resolved"], body["resolution_notes"]) == (True, None)


@pytest.mark.parametrize(
    "payload",
    [{"notes": "x" * 10_001}, {"notes": "a\x00b"}, {"note": "typo"}, ["notes"]],
)
async def test_resolve_refuses_bad_notes(
    client: httpx.AsyncClient, make_failure: FailureFactory, payload: Any
) -> None:
    """Notes too long, with NUL, misnamed or not an object are answered 422."""
    failure = await make_failure()

    response = await client.post(f"/api/failures/{failure.id}/resolve", json=payload)

    assert response.status_code == 422


async def test_resolve_missing_failure_is_404(client: httpx.AsyncClient) -> None:
    """Resolving an id with no failure log answers 404."""
    response = await client.post("/api/failures/8/resolve", json={"notes": "x"})

    assert response.status_code == 404


async def test_retry_failure_queues_its_job_and_counts(
    client: httpx.AsyncClient, make_job: JobFactory, make_failure: FailureFactory
) -> None:
    """Retrying a failure queues its job again and adds one to its retry count."""
    job = await make_job(status=queue.DEAD, attempts=5, finished_at=utcnow())
    failure = await make_failure(job_id=job.id, retry_count=4)

    body = await post(client, f"/api/failures/{failure.id}/retry", 202)
    again = await post(client, f"/api/failures/{failure.id}/retry", 409)

    assert body == {
        "job_id": job.id,
        "status": "queued",
        "failure_id": failure.id,
        "retry_count": 5,
    }
    assert again["detail"].startswith(f"job {job.id} is queued;")
    stored = await get_json(client, f"/api/failures/{failure.id}")
    assert (stored["retry_count"], stored["resolved"]) == (5, False)
    assert (await get_json(client, f"/api/jobs/{job.id}"))["attempts"] == 0


async def test_retry_reopens_a_failure_resolved_by_hand(
    client: httpx.AsyncClient, make_job: JobFactory, make_failure: FailureFactory
) -> None:
    """A failure resolved by hand and then retried is open again until its job works."""
    job = await make_job(status=queue.FAILED)
    failure = await make_failure(job_id=job.id, resolved=True)

    await post(client, f"/api/failures/{failure.id}/retry", 202)

    assert (await get_json(client, f"/api/failures/{failure.id}"))["resolved"] is False


async def test_retry_failure_without_a_job_is_409(
    client: httpx.AsyncClient, make_failure: FailureFactory
) -> None:
    """A failure from before jobs existed, or whose job is gone, cannot be retried."""
    old = await make_failure()
    orphan = await make_failure(job_id=404)

    old_body = await post(client, f"/api/failures/{old.id}/retry", 409)
    orphan_body = await post(client, f"/api/failures/{orphan.id}/retry", 409)

    assert old_body == {
        "detail": f"failure {old.id} has no job to retry (it predates jobs)"
    }
    assert orphan_body == {
        "detail": f"failure {orphan.id} names job 404, which is gone"
    }
    assert (await get_json(client, f"/api/failures/{old.id}"))["retry_count"] == 0


async def test_retry_missing_failure_is_404(client: httpx.AsyncClient) -> None:
    """Retrying an id with no failure log answers 404."""
    response = await client.post("/api/failures/12/retry")

    assert response.status_code == 404
    assert response.json() == {"detail": "failure log 12 not found"}

"""POST /api/reviews and /api/reviews/diff: reviews asked for by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from ai_code_reviewer.api.app import create_app
from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import ReviewJob
from ai_code_reviewer.api.jobs.specs import (
    REVIEW_COMMIT,
    REVIEW_DIFF,
    REVIEW_PULL_REQUEST,
)
from ai_code_reviewer.settings import Settings
from tests.conftest import make_settings
from tests.integration.test_api_jobs import with_job_routes

LIMIT = 2048
COMMIT = "0123456789abcdef0123456789abcdef01234567"
DIFF = "diff --git a/app.py b/app.py\n@@ -1 +1 @@\n-print('a')\n+print('é')\n"
ASK = {"project_key": "PROJ", "repo_slug": "service", "commit_id": COMMIT}


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Return settings with a small diff limit, three tries a job and no worker."""
    return make_settings(
        db_url, tmp_path, max_diff_bytes=LIMIT, job_max_attempts=3, worker_concurrency=0
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """Run the application, with the manual review routes, around the test."""
    application = with_job_routes(create_app(settings))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def wakes(app: FastAPI) -> list[int]:
    """Give the app a Bitbucket host and a worker nudge; return the nudges."""
    nudges: list[int] = []
    app.state.githosts = {"bitbucket": object()}
    app.state.wake_worker = lambda: nudges.append(1)
    return nudges


async def stored_jobs(database: Database) -> list[ReviewJob]:
    """Return every job, oldest first."""
    async with database.session() as session:
        return list((await session.scalars(select(ReviewJob).order_by("id"))).all())


async def count_jobs(database: Database) -> int:
    """Count the jobs."""
    async with database.session() as session:
        return int(await session.scalar(select(func.count(ReviewJob.id))) or 0)


def assert_queued(response: httpx.Response, created: bool = True) -> int:
    """Check a 202 answer with its Location; return the job id."""
    assert response.status_code == 202, response.text
    body = response.json()
    assert body == {"job_id": body["job_id"], "status": "queued", "created": created}
    assert response.headers["location"] == f"/api/jobs/{body['job_id']}"
    job_id: int = body["job_id"]
    return job_id


async def test_commit_review_is_queued(
    client: httpx.AsyncClient, database: Database, wakes: list[int]
) -> None:
    """A commit review request makes one manual job and nudges the worker."""
    response = await client.post("/api/reviews", json=ASK)

    job_id = assert_queued(response)
    (job,) = await stored_jobs(database)
    assert (job.id, job.kind, job.max_attempts) == (job_id, REVIEW_COMMIT, 3)
    assert job.payload["origin"] == "manual"
    assert job.payload["host"] == "bitbucket"
    assert job.payload["commit_id"] == COMMIT
    assert wakes == [1]


async def test_pull_request_review_is_queued(
    client: httpx.AsyncClient, database: Database, wakes: list[int]
) -> None:
    """A pull request review request makes a job with no source commit yet."""
    ask = {"project_key": "PROJ", "repo_slug": "service", "pr_id": 42}

    response = await client.post("/api/reviews", json=ask)

    assert_queued(response)
    (job,) = await stored_jobs(database)
    assert job.kind == REVIEW_PULL_REQUEST
    assert (job.payload["pr_id"], job.payload["commit_id"]) == (42, None)


async def test_each_request_without_a_key_is_a_new_job(
    client: httpx.AsyncClient, database: Database, wakes: list[int]
) -> None:
    """Two identical requests without an Idempotency-Key make two jobs."""
    first = assert_queued(await client.post("/api/reviews", json=ASK))
    second = assert_queued(await client.post("/api/reviews", json=ASK))

    assert first != second
    assert await count_jobs(database) == 2


async def test_idempotency_key_answers_the_first_job(
    client: httpx.AsyncClient, database: Database, wakes: list[int]
) -> None:
    """A request sent again with the same Idempotency-Key answers the same job."""
    headers = {"Idempotency-Key": "deploy-7"}

    first = assert_queued(await client.post("/api/reviews", json=ASK, headers=headers))
    again = await client.post("/api/reviews", json=ASK, headers=headers)
    other = await client.post(
        "/api/reviews", json=ASK, headers={"Idempotency-Key": "deploy-8"}
    )

    assert assert_queued(again, created=False) == first
    assert assert_queued(other) != first
    assert await count_jobs(database) == 2


async def test_idempotency_key_with_another_request_is_422(
    client: httpx.AsyncClient, database: Database, wakes: list[int]
) -> None:
    """An Idempotency-Key sent again with a different request is refused."""
    headers = {"Idempotency-Key": "k1"}
    assert_queued(await client.post("/api/reviews", json=ASK, headers=headers))

    other_commit = await client.post(
        "/api/reviews", json={**ASK, "commit_id": "abcdef0"}, headers=headers
    )
    other_route = await client.post(
        "/api/reviews/diff",
        content=DIFF,
        headers={**headers, "Content-Type": "text/x-diff"},
    )

    assert other_commit.status_code == other_route.status_code == 422
    assert "Idempotency-Key" in other_commit.json()["detail"]
    assert await count_jobs(database) == 1


async def test_unknown_host_is_422_and_queues_nothing(
    client: httpx.AsyncClient, app: FastAPI, database: Database
) -> None:
    """A host with no configured Git host is refused with a sentence naming it."""
    app.state.githosts = {}
    unconfigured = await client.post("/api/reviews", json=ASK)
    app.state.githosts = {"github": object()}
    other = await client.post("/api/reviews", json=ASK)

    assert unconfigured.status_code == other.status_code == 422
    assert unconfigured.json()["detail"].startswith(
        "no Git host named 'bitbucket' is configured;"
    )
    assert "github" in other.json()["detail"]
    assert await count_jobs(database) == 0


BAD_ASKS: list[Any] = [
    {**ASK, "pr_id": 3},
    {"project_key": "PROJ", "repo_slug": "service"},
    {**ASK, "extra": 1},
    {**ASK, "commit_id": "abc12"},
    {**ASK, "commit_id": "g" * 40},
    {**ASK, "commit_id": "a" * 65},
    {"project_key": "PROJ", "repo_slug": "service", "pr_id": 0},
    {"project_key": "PROJ", "repo_slug": "service", "pr_id": 2**31},
    {"project_key": "PROJ", "repo_slug": "service", "pr_id": "seven"},
    {**ASK, "project_key": ""},
    {**ASK, "repo_slug": "x" * 256},
    {**ASK, "project_key": "A\x00"},
    {**ASK, "host": ""},
    {**ASK, "host": None},
    [ASK],
    "PROJ",
    None,
]


async def test_bad_requests_are_422(
    client: httpx.AsyncClient, database: Database, wakes: list[int]
) -> None:
    """Both ids, neither, extra fields, bad ids or names, or not an object: 422."""
    answers = [
        (ask, (await client.post("/api/reviews", json=ask)).status_code)
        for ask in BAD_ASKS
    ]
    broken = await client.post(
        "/api/reviews",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    long_key = await client.post(
        "/api/reviews", json=ASK, headers={"Idempotency-Key": "k" * 256}
    )

    assert [ask for ask, status in answers if status != 422] == []
    assert broken.status_code == long_key.status_code == 422
    assert await count_jobs(database) == 0


@pytest.mark.parametrize(
    "content_type", ["text/x-diff", "text/x-patch", "text/plain; charset=utf-8"]
)
async def test_diff_body_is_queued_with_its_context(
    client: httpx.AsyncClient, database: Database, wakes: list[int], content_type: str
) -> None:
    """A diff sent as the body is queued with the context of the query."""
    params = {
        "project_key": "WEB",
        "title": "Fix it",
        "author_email": "ada@example.com",
    }

    response = await client.post(
        "/api/reviews/diff",
        content=DIFF.encode(),
        params=params,
        headers={"Content-Type": content_type},
    )

    assert_queued(response)
    (job,) = await stored_jobs(database)
    assert job.kind == REVIEW_DIFF
    assert job.payload["diff"] == DIFF
    assert (job.payload["project_key"], job.payload["repo_slug"]) == ("WEB", "upload")
    assert job.payload["title"] == "Fix it"
    assert job.payload["author_email"] == "ada@example.com"
    assert wakes == [1]


async def test_diff_with_invalid_utf8_is_decoded_with_replacements(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Bytes that are not UTF-8 are replaced, not refused."""
    raw = DIFF.encode() + b"+caf\xe9\n"

    response = await client.post(
        "/api/reviews/diff",
        content=raw,
        headers={"Content-Type": "application/octet-stream"},
    )

    assert_queued(response)
    (job,) = await stored_jobs(database)
    assert job.payload["diff"].endswith("+caf\ufffd\n")


async def test_diff_upload_form_is_queued_with_its_fields(
    client: httpx.AsyncClient, database: Database
) -> None:
    """A diff sent as the form's file field is queued with the form's fields."""
    response = await client.post(
        "/api/reviews/diff",
        params={"repo_slug": "from-query"},
        files={"file": ("change.diff", DIFF.encode(), "text/x-diff")},
        data={"project_key": "OPS", "author_name": "Ada"},
    )

    assert_queued(response)
    (job,) = await stored_jobs(database)
    assert job.payload["diff"] == DIFF
    assert (job.payload["project_key"], job.payload["repo_slug"]) == (
        "OPS",
        "from-query",
    )
    assert job.payload["author_name"] == "Ada"


async def test_diff_idempotency_key_answers_the_first_job(
    client: httpx.AsyncClient, database: Database
) -> None:
    """The same diff sent twice with one Idempotency-Key is one job."""
    headers = {"Content-Type": "text/x-diff", "Idempotency-Key": "upload-1"}

    first = await client.post("/api/reviews/diff", content=DIFF, headers=headers)
    again = await client.post("/api/reviews/diff", content=DIFF, headers=headers)

    assert assert_queued(again, created=False) == assert_queued(first)
    assert await count_jobs(database) == 1


async def chunks(data: bytes, size: int = 512) -> AsyncIterator[bytes]:
    """Yield ``data`` in pieces, as a chunked upload without Content-Length."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_diff_over_the_limit_is_413(
    client: httpx.AsyncClient, database: Database
) -> None:
    """A diff over MAX_DIFF_BYTES is refused, declared, chunked or in a form."""
    big = (DIFF + "+" + "x" * LIMIT + "\n").encode()
    raw_type = {"Content-Type": "text/x-diff"}

    declared = await client.post("/api/reviews/diff", content=big, headers=raw_type)
    chunked = await client.post(
        "/api/reviews/diff", content=chunks(big), headers=raw_type
    )
    form = await client.post(
        "/api/reviews/diff", files={"file": ("big.diff", big, "text/x-diff")}
    )

    for response in (declared, chunked, form):
        assert response.status_code == 413, response.text
        assert response.json() == {
            "detail": f"the diff is larger than MAX_DIFF_BYTES ({LIMIT} bytes)"
        }
    assert "content-length" not in chunked.request.headers
    assert await count_jobs(database) == 0


async def test_diff_at_the_limit_is_accepted(
    client: httpx.AsyncClient, database: Database
) -> None:
    """A diff of exactly MAX_DIFF_BYTES bytes, as body or form, is queued."""
    head = DIFF.encode() + b"+"
    exact = head + b"x" * (LIMIT - len(head) - 1) + b"\n"

    raw = await client.post(
        "/api/reviews/diff", content=exact, headers={"Content-Type": "text/x-diff"}
    )
    form = await client.post(
        "/api/reviews/diff", files={"file": ("d.diff", exact, "text/x-diff")}
    )

    assert len(exact) == LIMIT
    assert_queued(raw)
    assert_queued(form)


BAD_DIFFS: list[tuple[bytes, str]] = [
    (b"", "the diff is empty"),
    (b"  \n\n", "the diff is empty"),
    (b"hello, please review my code\n", "this is not a unified diff"),
    (b"--- a/x\n+++ b/x\n", "this is not a unified diff"),
    (DIFF.encode() + b"\x00\x01", "the diff holds NUL bytes"),
]


async def test_empty_or_non_diff_bodies_are_422(
    client: httpx.AsyncClient, database: Database
) -> None:
    """An empty body, text that is not a diff, or binary content is refused."""
    answers = []
    for raw, _ in BAD_DIFFS:
        response = await client.post(
            "/api/reviews/diff", content=raw, headers={"Content-Type": "text/plain"}
        )
        answers.append((response.status_code, response.json()["detail"]))

    for (status, detail), (_, expected) in zip(answers, BAD_DIFFS, strict=True):
        assert status == 422
        assert detail.startswith(expected)
    assert await count_jobs(database) == 0


RAW = {"Content-Type": "text/x-diff"}
BAD_UPLOADS: list[dict[str, Any]] = [
    {"content": DIFF, "headers": {"Content-Type": "application/json"}},
    {"content": DIFF, "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    {"content": DIFF},
    {"data": {"project_key": "P"}, "files": {"other": ("a.diff", DIFF.encode())}},
    {"files": {"file": ("a.diff", b"")}},
    {"files": {"file": ("a.diff", b"not a diff")}},
    {"files": {"file": ("a.diff", DIFF.encode())}, "data": {"author_email": "nope"}},
    {"files": {"file": ("a.diff", DIFF.encode())}, "data": {"colour": "red"}},
    {
        "files": [
            ("file", ("a.diff", DIFF.encode())),
            ("file", ("b.diff", DIFF.encode())),
        ]
    },
    {"content": b"garbage", "headers": {"Content-Type": "multipart/form-data"}},
    {
        "content": b"--xyz\r\nbroken",
        "headers": {"Content-Type": "multipart/form-data; boundary=xyz"},
    },
    {"content": DIFF, "headers": RAW, "params": {"author_email": "not-an-address"}},
    {"content": DIFF, "headers": RAW, "params": {"project_key": ""}},
    {"content": DIFF, "headers": RAW, "params": {"unknown": "1"}},
]


async def test_bad_uploads_are_422(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Wrong content types, broken forms and bad context fields are refused with 422."""
    statuses = [
        (await client.post("/api/reviews/diff", **upload)).status_code
        for upload in BAD_UPLOADS
    ]

    assert statuses == [422] * len(BAD_UPLOADS)
    assert await count_jobs(database) == 0

"""Bitbucket deliveries become recorded deliveries and deduplicated jobs."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from ai_code_reviewer.api.app import create_app
from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import ReviewJob, WebhookDelivery
from tests.conftest import make_settings

URL = "/api/webhooks/bitbucket"
SECRET = "hook-secret-for-tests"
SHA = "9f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c"
REPOSITORY = {"slug": "service", "id": 1, "project": {"key": "PROJ", "id": 1}}


def push(to_hash: str = SHA, **change: Any) -> dict[str, Any]:
    """Build a repo:refs_changed body as Bitbucket Data Center sends it."""
    item = {
        "ref": {"id": "refs/heads/main", "displayId": "main", "type": "BRANCH"},
        "refId": "refs/heads/main",
        "fromHash": "1" * 40,
        "toHash": to_hash,
        "type": "UPDATE",
    }
    item.update(change)
    return {
        "eventKey": "repo:refs_changed",
        "date": "2026-12-03T10:00:00+0000",
        "actor": {"name": "ada", "emailAddress": "ada@example.com"},
        "repository": REPOSITORY,
        "changes": [item],
    }


def pull_request(event_key: str = "pr:opened", **extra: Any) -> dict[str, Any]:
    """Build a pull request event body."""
    ref = {"displayId": "feature", "latestCommit": SHA, "repository": REPOSITORY}
    body = {
        "eventKey": event_key,
        "pullRequest": {
            "id": 7,
            "fromRef": {"id": "refs/heads/feature", **ref},
            "toRef": {"id": "refs/heads/main", **ref, "latestCommit": "2" * 40},
        },
    }
    body.update(extra)
    return body


def signed(body: bytes, secret: str = SECRET) -> str:
    """Return the X-Hub-Signature value Bitbucket would send."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def deliver(
    client: httpx.AsyncClient,
    body: dict[str, Any] | bytes,
    event_key: str = "repo:refs_changed",
    delivery_id: str | None = "d-1",
    signature: str | None = None,
) -> httpx.Response:
    """POST a delivery with Bitbucket's headers."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"X-Event-Key": event_key, "Content-Type": "application/json"}
    if delivery_id:
        headers["X-Request-Id"] = delivery_id
    if signature:
        headers["X-Hub-Signature"] = signature
    return await client.post(URL, content=raw, headers=headers)


async def counts(database: Database) -> tuple[int, int]:
    """Return the numbers of jobs and of recorded deliveries."""
    async with database.session() as session:
        jobs = (
            await session.execute(select(func.count()).select_from(ReviewJob))
        ).scalar()
        rows = select(func.count()).select_from(WebhookDelivery)
        deliveries = (await session.execute(rows)).scalar()
    return int(jobs or 0), int(deliveries or 0)


@pytest.fixture
async def secured(db_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client of an app with WEBHOOK_SECRET set."""
    settings = make_settings(
        db_url, tmp_path, webhook_secret=SECRET, worker_concurrency=0
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c


async def test_push_enqueues_the_expansion_of_the_branch(
    client: httpx.AsyncClient, database: Database
) -> None:
    """A push answers 202 with one expand_push job from the old to the new head."""
    response = await deliver(client, push())

    assert response.status_code == 202
    body = response.json()
    assert body["outcome"] == "enqueued" and len(body["job_ids"]) == 1
    async with database.session() as session:
        job = await session.get(ReviewJob, body["job_ids"][0])
    assert job is not None
    assert (job.kind, job.status) == ("expand_push", "queued")
    assert (
        job.payload["ref"],
        job.payload["since_commit"],
        job.payload["commit_id"],
    ) == ("refs/heads/main", "1" * 40, SHA)


async def test_redelivery_answers_the_same_job(
    client: httpx.AsyncClient, database: Database
) -> None:
    """The same delivery id five times: one delivery row, one job, same answer."""
    answers = [(await deliver(client, push())).json()["job_ids"] for _ in range(5)]

    assert all(answer == answers[0] for answer in answers)
    assert await counts(database) == (1, 1)


async def test_many_deliveries_of_one_commit_make_one_job(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Five deliveries announcing the same commit share one job."""
    answers = [
        (await deliver(client, push(), delivery_id=f"d-{n}")).json()["job_ids"]
        for n in range(5)
    ]

    assert len({tuple(answer) for answer in answers}) == 1
    assert await counts(database) == (1, 5)


async def test_pull_request_events_make_pull_request_jobs(
    client: httpx.AsyncClient, database: Database
) -> None:
    """pr:opened and pr:from_ref_updated enqueue the PR at its source commit."""
    opened = await deliver(client, pull_request(), "pr:opened", "p-1")
    body = pull_request("pr:from_ref_updated", previousFromHash="3" * 40)
    body["pullRequest"]["fromRef"]["latestCommit"] = "4" * 40
    updated = await deliver(client, body, "pr:from_ref_updated", "p-2")

    async with database.session() as session:
        jobs = (await session.scalars(select(ReviewJob).order_by(ReviewJob.id))).all()
    assert (opened.status_code, updated.status_code) == (202, 202)
    assert [(j.payload["pr_id"], j.payload["since_commit"]) for j in jobs] == [
        (7, None),
        (7, "3" * 40),
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"type": "DELETE", "toHash": "0" * 40},
        {"ref": {"id": "refs/tags/v1", "type": "TAG"}},
    ],
)
async def test_deletions_and_tags_are_recorded_and_ignored(
    client: httpx.AsyncClient, database: Database, change: dict[str, Any]
) -> None:
    """A branch deletion or a tag push answers 202 'ignored' with no job."""
    response = await deliver(client, push(**change))

    assert response.status_code == 202
    assert response.json()["outcome"] == "ignored"
    assert await counts(database) == (0, 1)


async def test_unknown_event_is_recorded_and_ignored(
    client: httpx.AsyncClient, database: Database
) -> None:
    """An event we do not review answers 202 with the reason."""
    response = await deliver(client, {"eventKey": "pr:declined"}, "pr:declined")

    assert response.status_code == 202
    assert "asks for no review" in response.json()["reason"]
    assert await counts(database) == (0, 1)


async def test_test_connection_ping_is_answered_unsigned(
    secured: httpx.AsyncClient,
) -> None:
    """Bitbucket's unsigned Test connection ping answers 200 even with a secret set."""
    response = await deliver(secured, b'{"test": true}', "diagnostics:ping")

    assert response.status_code == 200


async def test_signature_is_required_when_a_secret_is_set(
    secured: httpx.AsyncClient, db_url: str, tmp_path: Path
) -> None:
    """Unsigned or wrongly signed deliveries get 401; a good one 202."""
    raw = json.dumps(push()).encode()

    unsigned = await deliver(secured, raw, delivery_id="s-1")
    wrong = await deliver(
        secured, raw, delivery_id="s-2", signature=signed(raw, "other")
    )
    good = await deliver(secured, raw, delivery_id="s-3", signature=signed(raw))

    assert (unsigned.status_code, wrong.status_code, good.status_code) == (
        401,
        401,
        202,
    )
    assert "X-Hub-Signature" in unsigned.json()["detail"]


async def test_refused_delivery_is_accepted_when_redelivered_signed(
    secured: httpx.AsyncClient,
) -> None:
    """A delivery refused for its signature is taken when redelivered correctly."""
    raw = json.dumps(push()).encode()

    refused = await deliver(secured, raw, delivery_id="r-1", signature="sha256=00")
    again = await deliver(secured, raw, delivery_id="r-1", signature=signed(raw))

    assert refused.status_code == 401
    assert again.status_code == 202
    assert again.json()["outcome"] == "enqueued"


@pytest.mark.parametrize(
    ("raw", "event_key"),
    [
        (b'{"eventKey": "repo:refs_changed", "changes": [', "repo:refs_changed"),
        (b"[1, 2]", "repo:refs_changed"),
        (json.dumps({**push(), "changes": "main"}).encode(), "repo:refs_changed"),
        (
            json.dumps({**pull_request(), "pullRequest": {"id": "7"}}).encode(),
            "pr:opened",
        ),
        (b"{}", ""),
    ],
)
async def test_bad_deliveries_are_refused_and_recorded(
    client: httpx.AsyncClient, database: Database, raw: bytes, event_key: str
) -> None:
    """Truncated JSON, wrong types and a missing event key: 4xx, no job, recorded."""
    response = await deliver(client, raw, event_key)

    assert 400 <= response.status_code < 500
    assert response.json()["detail"]
    assert await counts(database) == (0, 1)


async def test_oversized_delivery_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    """A 10 MB body answers 413 before it is read, and makes no job."""
    response = await deliver(client, b"x" * (10 * 1024 * 1024))

    assert response.status_code == 413
    assert await counts(database) == (0, 1)


async def test_old_path_is_still_served(client: httpx.AsyncClient) -> None:
    """/webhook/code-review, the path of older set-ups, accepts deliveries too."""
    raw = json.dumps(push()).encode()

    response = await client.post(
        "/webhook/code-review",
        content=raw,
        headers={"X-Event-Key": "repo:refs_changed", "X-Request-Id": "old-1"},
    )

    assert response.status_code == 202

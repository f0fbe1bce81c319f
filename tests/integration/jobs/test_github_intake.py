"""GitHub deliveries become recorded deliveries and deduplicated review jobs."""

from __future__ import annotations

import contextlib
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

URL = "/api/webhooks/github"
SECRET = "github-hook-secret"
WHERE = (
    "host",
    "project_key",
    "repo_slug",
    "ref",
    "since_commit",
    "commit_id",
    "event_key",
)
REPOSITORY = {
    "id": 1,
    "name": "app",
    "full_name": "acme/app",
    "owner": {"login": "acme", "name": "acme", "type": "Organization"},
}


@contextlib.asynccontextmanager
async def app_client(
    db_url: str, tmp_path: Path, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app with ``overrides`` and yield an in-process client of it."""
    app = create_app(make_settings(db_url, tmp_path, **overrides))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c


@pytest.fixture
async def client(db_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client of an app with no webhook secret."""
    async with app_client(db_url, tmp_path) as c:
        yield c


def sha(n: int) -> str:
    """Return a made-up commit id."""
    return hashlib.sha1(str(n).encode()).hexdigest()  # noqa: S324  # not for security


def push(
    *commit_ids: str, ref: str = "refs/heads/main", **extra: Any
) -> dict[str, Any]:
    """Build a push body as GitHub sends it, commits oldest first."""
    commits = [
        {
            "id": cid,
            "distinct": True,
            "message": f"Change {n}",
            "author": {"name": "Octo Cat", "email": "octo@example.com"},
        }
        for n, cid in enumerate(commit_ids)
    ]
    body = {
        "ref": ref,
        "before": sha(1),
        "after": commit_ids[-1] if commit_ids else sha(2),
        "created": False,
        "deleted": False,
        "forced": False,
        "commits": commits,
        "repository": REPOSITORY,
        "pusher": {"name": "octo", "email": "octo@example.com"},
    }
    body.update(extra)
    return body


def pull_request(action: str = "opened", **extra: Any) -> dict[str, Any]:
    """Build a pull_request body."""
    body: dict[str, Any] = {
        "action": action,
        "number": 7,
        "pull_request": {
            "number": 7,
            "draft": False,
            "head": {"ref": "feature", "sha": sha(4)},
            "base": {"ref": "main", "sha": sha(5)},
            "user": {"login": "octo"},
        },
        "repository": REPOSITORY,
    }
    body.update(extra)
    return body


def signed(raw: bytes, secret: str = SECRET) -> str:
    """Return the X-Hub-Signature-256 value GitHub would send."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


async def deliver(
    client: httpx.AsyncClient,
    body: dict[str, Any] | bytes,
    event: str | None = "push",
    delivery_id: str = "g-1",
    signature: str | None = None,
) -> httpx.Response:
    """POST a delivery with GitHub's headers."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"X-GitHub-Delivery": delivery_id, "Content-Type": "application/json"}
    if event:
        headers["X-GitHub-Event"] = event
    if signature:
        headers["X-Hub-Signature-256"] = signature
    return await client.post(URL, content=raw, headers=headers)


async def counts(database: Database) -> tuple[int, int]:
    """Return the numbers of jobs and of recorded deliveries."""
    async with database.session() as session:
        jobs = await session.scalar(select(func.count()).select_from(ReviewJob))
        rows = select(func.count()).select_from(WebhookDelivery)
        deliveries = await session.scalar(rows)
    return int(jobs or 0), int(deliveries or 0)


async def jobs_of(database: Database) -> list[ReviewJob]:
    """Return every job, oldest first."""
    async with database.session() as session:
        return list(await session.scalars(select(ReviewJob).order_by(ReviewJob.id)))


async def test_push_enqueues_one_expand_job(
    client: httpx.AsyncClient, database: Database
) -> None:
    """A branch push is one expand_push job from ``before`` to ``after``."""
    response = await deliver(client, push(sha(6), sha(7), sha(8)))

    assert response.status_code == 202
    [job] = await jobs_of(database)
    assert response.json()["job_ids"] == [job.id]
    assert job.kind == "expand_push"
    assert {key: job.payload[key] for key in WHERE} == {
        "host": "github",
        "project_key": "acme",
        "repo_slug": "app",
        "ref": "refs/heads/main",
        "since_commit": sha(1),
        "commit_id": sha(8),
        "event_key": "push",
    }
    assert job.dedupe_key == f"push:github:acme/app:refs/heads/main:{sha(1)}..{sha(8)}"


async def test_push_of_many_commits_is_still_one_job(
    db_url: str, tmp_path: Path, database: Database
) -> None:
    """Past MAX_COMMITS_PER_PUSH nothing is dropped here: the job lists them all."""
    async with app_client(db_url, tmp_path, max_commits_per_push=2) as client:
        response = await deliver(client, push(*(sha(n) for n in range(10, 15))))

    [job] = await jobs_of(database)
    assert response.json()["outcome"] == "enqueued"
    assert (job.kind, job.payload["commit_id"]) == ("expand_push", sha(14))


async def test_new_branch_is_expanded_even_when_it_lists_no_commit(
    client: httpx.AsyncClient, database: Database
) -> None:
    """A new branch (``before`` of zeros) is expanded by the host, listed or not."""
    body = push(before="0" * 40, after=sha(6), created=True)

    response = await deliver(client, body)

    [job] = await jobs_of(database)
    assert response.json()["outcome"] == "enqueued"
    assert (job.payload["since_commit"], job.payload["commit_id"]) == ("0" * 40, sha(6))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (push(sha(6), ref="refs/tags/v1.0"), "is not a branch"),
        (push(after="0" * 40, deleted=True), "was deleted"),
        (push(), "adds no new commit"),
    ],
)
async def test_tags_deletions_and_empty_pushes_are_ignored(
    client: httpx.AsyncClient, database: Database, body: dict[str, Any], reason: str
) -> None:
    """A tag push, a deletion or a push of no new commit: 202 'ignored' with why."""
    response = await deliver(client, body)

    assert response.status_code == 202
    assert response.json()["outcome"] == "ignored"
    assert reason in response.json()["reason"]
    assert await counts(database) == (0, 1)


async def test_pull_request_actions(
    client: httpx.AsyncClient, database: Database
) -> None:
    """opened reviews it whole, synchronize after ``before``, closed not at all."""
    opened = await deliver(client, pull_request(), "pull_request", "p-1")
    synced = pull_request("synchronize", before=sha(4), after=sha(9))
    synced["pull_request"]["head"]["sha"] = sha(9)
    await deliver(client, synced, "pull_request", "p-2")
    closed = await deliver(client, pull_request("closed"), "pull_request", "p-3")

    jobs = await jobs_of(database)
    assert opened.json()["outcome"] == "enqueued"
    assert [(j.payload["pr_id"], j.payload["since_commit"]) for j in jobs] == [
        (7, None),
        (7, sha(4)),
    ]
    assert "action closed" in closed.json()["reason"]


async def test_drafts_are_skipped_unless_configured(
    db_url: str, tmp_path: Path, database: Database
) -> None:
    """A draft pull request is ignored; with REVIEW_DRAFTS it is reviewed."""
    body = pull_request()
    body["pull_request"]["draft"] = True
    async with app_client(db_url, tmp_path) as client:
        skipped = await deliver(client, body, "pull_request", "d-1")
    async with app_client(db_url, tmp_path, review_drafts=True) as client:
        taken = await deliver(client, body, "pull_request", "d-2")

    assert "draft" in skipped.json()["reason"]
    assert taken.json()["outcome"] == "enqueued"


@pytest.mark.parametrize(
    ("setting", "reason"),
    [
        ({"review_branches": "release/*"}, "REVIEW_BRANCHES"),
        ({"review_projects": "other-org"}, "REVIEW_PROJECTS"),
    ],
)
async def test_branch_and_project_filters(
    db_url: str,
    tmp_path: Path,
    database: Database,
    setting: dict[str, str],
    reason: str,
) -> None:
    """A push outside REVIEW_BRANCHES or REVIEW_PROJECTS is recorded and ignored."""
    async with app_client(db_url, tmp_path, **setting) as client:
        response = await deliver(client, push(sha(6)))

    assert reason in response.json()["reason"]
    assert await counts(database) == (0, 1)


@pytest.mark.parametrize("setting", ["github_webhook_secret", "webhook_secret"])
async def test_signature_is_required_when_a_secret_is_set(
    db_url: str, tmp_path: Path, database: Database, setting: str
) -> None:
    """Unsigned or wrongly signed: 401 and no job; signed: 202 (either secret)."""
    raw = json.dumps(push(sha(6))).encode()
    async with app_client(db_url, tmp_path, **{setting: SECRET}) as client:
        unsigned = await deliver(client, raw, delivery_id="s-1")
        wrong = await deliver(
            client, raw, delivery_id="s-2", signature=signed(raw, "x")
        )
        good = await deliver(client, raw, delivery_id="s-3", signature=signed(raw))

    assert (unsigned.status_code, wrong.status_code, good.status_code) == (
        401,
        401,
        202,
    )
    assert "X-Hub-Signature-256" in unsigned.json()["detail"]
    assert await counts(database) == (1, 3)


async def test_ping_is_answered_200(
    db_url: str, tmp_path: Path, database: Database
) -> None:
    """GitHub's signed ping answers 200 and is recorded."""
    raw = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    async with app_client(db_url, tmp_path, github_webhook_secret=SECRET) as client:
        response = await deliver(client, raw, "ping", signature=signed(raw))

    assert response.status_code == 200
    async with database.session() as session:
        row = (await session.scalars(select(WebhookDelivery))).one()
    assert (row.host, row.event_key, row.delivery_id) == ("github", "ping", "g-1")


async def test_redelivery_answers_the_same_jobs(
    client: httpx.AsyncClient, database: Database
) -> None:
    """The same X-GitHub-Delivery three times: one row, the same job each time."""
    answers = [
        (await deliver(client, push(sha(6), sha(7)))).json()["job_ids"]
        for _ in range(3)
    ]

    assert answers[0] == answers[1] == answers[2]
    assert len(answers[0]) == 1
    assert await counts(database) == (1, 1)


async def test_same_push_under_a_new_delivery_id_is_the_same_job(
    client: httpx.AsyncClient, database: Database
) -> None:
    """A push delivered again under another id is a new row but no new job."""
    first = await deliver(client, push(sha(6), sha(7)), delivery_id="g-1")
    again = await deliver(client, push(sha(6), sha(7)), delivery_id="g-2")

    assert again.json()["job_ids"] == first.json()["job_ids"]
    assert await counts(database) == (1, 2)


@pytest.mark.parametrize(
    ("raw", "event"),
    [
        (b'{"ref": "refs/heads/main", "commits": [', "push"),
        (b"[1, 2]", "push"),
        (json.dumps({**push(sha(6)), "commits": "many"}).encode(), "push"),
        (json.dumps({**pull_request(), "number": "7"}).encode(), "pull_request"),
        (json.dumps({**push(sha(6)), "repository": {"name": 5}}).encode(), "push"),
        (json.dumps(push(sha(6))).encode(), None),
    ],
)
async def test_bad_deliveries_are_refused_and_recorded(
    client: httpx.AsyncClient, database: Database, raw: bytes, event: str | None
) -> None:
    """Truncated JSON, wrong types, no event header: 4xx with a reason, no job."""
    response = await deliver(client, raw, event)

    assert 400 <= response.status_code < 500
    assert response.json()["detail"]
    assert await counts(database) == (0, 1)


async def test_oversized_delivery_is_refused(
    client: httpx.AsyncClient, database: Database
) -> None:
    """A 10 MB body answers 413 and is recorded with no job."""
    response = await deliver(client, b"x" * (10 * 1024 * 1024))

    assert response.status_code == 413
    assert await counts(database) == (0, 1)

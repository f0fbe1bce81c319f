"""GitLab deliveries become recorded deliveries and deduplicated review jobs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ai_code_reviewer.api.db.database import Database
from tests.integration.jobs.test_github_intake import app_client, counts, jobs_of, sha

URL = "/api/webhooks/gitlab"
TOKEN = "gitlab-hook-token"
PROJECT = {
    "id": 42,
    "name": "App",
    "namespace": "Sub Group",
    "path_with_namespace": "group/sub/app",
    "default_branch": "main",
}


@pytest.fixture
async def client(db_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client of an app with no webhook token."""
    async with app_client(db_url, tmp_path) as c:
        yield c


def push(
    *commit_ids: str, ref: str = "refs/heads/main", **extra: Any
) -> dict[str, Any]:
    """Build a Push Hook body as GitLab sends it, commits oldest first."""
    commits = [
        {
            "id": cid,
            "message": f"Change {n}",
            "author": {"name": "Alice", "email": "alice@example.com"},
        }
        for n, cid in enumerate(commit_ids)
    ]
    body = {
        "object_kind": "push",
        "ref": ref,
        "before": sha(1),
        "after": commit_ids[-1] if commit_ids else sha(2),
        "user_email": "[REDACTED]",
        "project_id": PROJECT["id"],
        "project": PROJECT,
        "commits": commits,
        "total_commits_count": len(commits),
    }
    body.update(extra)
    return body


def merge_request(action: str = "open", **attributes: Any) -> dict[str, Any]:
    """Build a Merge Request Hook body."""
    values: dict[str, Any] = {
        "iid": 3,
        "action": action,
        "source_branch": "feature",
        "target_branch": "main",
        "draft": False,
        "work_in_progress": False,
        "last_commit": {"id": sha(4)},
        "target_project_id": PROJECT["id"],
    }
    values.update(attributes)
    return {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "project": PROJECT,
        "object_attributes": values,
    }


async def deliver(
    client: httpx.AsyncClient,
    body: dict[str, Any] | bytes,
    event: str | None = "Push Hook",
    delivery_id: str = "l-1",
    token: str | None = None,
) -> httpx.Response:
    """POST a delivery with GitLab's headers."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Idempotency-Key": delivery_id, "Content-Type": "application/json"}
    if event:
        headers["X-Gitlab-Event"] = event
    if token:
        headers["X-Gitlab-Token"] = token
    return await client.post(URL, content=raw, headers=headers)


async def test_push_enqueues_one_expand_job_with_the_project_id(
    client: httpx.AsyncClient, database: Database
) -> None:
    """A push is one expand_push job: namespace, project path, id, old and new head."""
    response = await deliver(client, push(sha(6), sha(7)))

    assert response.status_code == 202
    [job] = await jobs_of(database)
    assert job.kind == "expand_push"
    payload = job.payload
    assert (payload["host"], payload["project_key"], payload["repo_slug"]) == (
        "gitlab",
        "group/sub",
        "app",
    )
    assert (payload["ref"], payload["since_commit"], payload["commit_id"]) == (
        "refs/heads/main",
        sha(1),
        sha(7),
    )
    assert payload["project_id"] == 42
    assert job.dedupe_key == (
        f"push:gitlab:group/sub/app:refs/heads/main:{sha(1)}..{sha(7)}"
    )


async def test_push_past_the_listed_twenty_is_still_one_job(
    db_url: str, tmp_path: Path, database: Database
) -> None:
    """GitLab lists 20 of total_commits_count; the job lists them all from the API."""
    body = push(*(sha(n) for n in range(10, 30)), total_commits_count=45)
    async with app_client(db_url, tmp_path, max_commits_per_push=3) as client:
        response = await deliver(client, body)

    [job] = await jobs_of(database)
    assert response.json()["outcome"] == "enqueued"
    assert (job.kind, job.payload["commit_id"]) == ("expand_push", sha(29))


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        (push(before="0" * 40, after=sha(6)), "enqueued"),
        (push(after=sha(6), total_commits_count=0), "ignored"),
    ],
)
async def test_push_without_listed_commits(
    client: httpx.AsyncClient, database: Database, body: dict[str, Any], outcome: str
) -> None:
    """A new branch is expanded even unlisted; an old one moved to no new commit not."""
    response = await deliver(client, body)

    assert response.json()["outcome"] == outcome
    assert await counts(database) == (int(outcome == "enqueued"), 1)


@pytest.mark.parametrize(
    ("body", "event", "reason"),
    [
        (push(after="0" * 40), "Push Hook", "was deleted"),
        (push(sha(6), ref="refs/tags/v1"), "Push Hook", "is not a branch"),
        (push(sha(6), ref="refs/tags/v1"), "Tag Push Hook", "asks for no review"),
        (merge_request("close"), "Merge Request Hook", "action close"),
        (merge_request("update"), "Merge Request Hook", "no new commit"),
        (merge_request(draft=True), "Merge Request Hook", "draft"),
        (merge_request(work_in_progress=True), "Merge Request Hook", "draft"),
    ],
)
async def test_events_that_ask_for_nothing_are_ignored(
    client: httpx.AsyncClient,
    database: Database,
    body: dict[str, Any],
    event: str,
    reason: str,
) -> None:
    """Deletions, tags, closes, updates without commits and drafts: 202 'ignored'."""
    response = await deliver(client, body, event)

    assert response.status_code == 202
    assert reason in response.json()["reason"]
    assert await counts(database) == (0, 1)


async def test_merge_request_open_and_update(
    client: httpx.AsyncClient, database: Database
) -> None:
    """open reviews the whole merge request; update with oldrev only what is new."""
    await deliver(client, merge_request(), "Merge Request Hook", "m-1")
    updated = merge_request("update", oldrev=sha(4), last_commit={"id": sha(9)})
    await deliver(client, updated, "Merge Request Hook", "m-2")

    jobs = await jobs_of(database)
    assert [
        (j.payload["pr_id"], j.payload["commit_id"], j.payload["since_commit"])
        for j in jobs
    ] == [(3, sha(4), None), (3, sha(9), sha(4))]
    assert jobs[1].payload["project_id"] == 42


async def test_drafts_are_reviewed_when_configured(
    db_url: str, tmp_path: Path, database: Database
) -> None:
    """With REVIEW_DRAFTS a draft merge request is reviewed."""
    async with app_client(db_url, tmp_path, review_drafts=True) as client:
        response = await deliver(
            client, merge_request(draft=True), "Merge Request Hook"
        )

    assert response.json()["outcome"] == "enqueued"


async def test_project_filter_matches_the_namespace(
    db_url: str, tmp_path: Path, database: Database
) -> None:
    """REVIEW_PROJECTS names namespaces: group/sub passes, others are ignored."""
    async with app_client(db_url, tmp_path, review_projects="group/sub") as client:
        taken = await deliver(client, push(sha(6)), delivery_id="f-1")
    async with app_client(db_url, tmp_path, review_projects="other") as client:
        skipped = await deliver(client, push(sha(7)), delivery_id="f-2")

    assert taken.json()["outcome"] == "enqueued"
    assert "REVIEW_PROJECTS" in skipped.json()["reason"]


@pytest.mark.parametrize("setting", ["gitlab_webhook_token", "webhook_secret"])
async def test_token_is_required_when_set(
    db_url: str, tmp_path: Path, database: Database, setting: str
) -> None:
    """No token or a wrong one: 401 and no job; the right one: 202."""
    raw = json.dumps(push(sha(6))).encode()
    async with app_client(db_url, tmp_path, **{setting: TOKEN}) as client:
        missing = await deliver(client, raw, delivery_id="t-1")
        wrong = await deliver(client, raw, delivery_id="t-2", token="guess")
        good = await deliver(client, raw, delivery_id="t-3", token=TOKEN)

    assert (missing.status_code, wrong.status_code, good.status_code) == (401, 401, 202)
    assert "X-Gitlab-Token" in wrong.json()["detail"]
    assert TOKEN not in wrong.text
    assert await counts(database) == (1, 3)


async def test_redelivery_with_the_same_key_is_one_delivery(
    client: httpx.AsyncClient, database: Database
) -> None:
    """The same Idempotency-Key three times: one row and the same job."""
    answers = [
        (await deliver(client, push(sha(6)))).json()["job_ids"] for _ in range(3)
    ]

    assert answers[0] == answers[1] == answers[2]
    assert await counts(database) == (1, 1)


async def test_same_push_under_a_new_key_is_the_same_job(
    client: httpx.AsyncClient, database: Database
) -> None:
    """A push delivered again under another key is a new row but no new job."""
    first = await deliver(client, push(sha(6), sha(7)), delivery_id="l-1")
    again = await deliver(client, push(sha(6), sha(7)), delivery_id="l-2")

    assert again.json()["job_ids"] == first.json()["job_ids"]
    assert await counts(database) == (1, 2)


async def test_event_uuid_names_the_delivery_without_idempotency_key(
    client: httpx.AsyncClient, database: Database
) -> None:
    """Older GitLab sends only X-Gitlab-Event-UUID; it dedupes deliveries too."""
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "u-1"}
    raw = json.dumps(push(sha(6))).encode()

    for _ in range(2):
        await client.post(URL, content=raw, headers=headers)

    assert await counts(database) == (1, 1)


@pytest.mark.parametrize(
    ("raw", "event"),
    [
        (b'{"object_kind": "push", "commits": [', "Push Hook"),
        (b'"push"', "Push Hook"),
        (json.dumps({**push(sha(6)), "commits": {"id": 1}}).encode(), "Push Hook"),
        (json.dumps(merge_request(iid="3")).encode(), "Merge Request Hook"),
        (
            json.dumps(
                {**push(sha(6)), "project": {"path_with_namespace": "app"}}
            ).encode(),
            "Push Hook",
        ),
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

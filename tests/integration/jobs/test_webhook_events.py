"""Each Bitbucket event key asks for the reviews its rules say, or says why not."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ai_code_reviewer.api.app import create_app
from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import ReviewJob, WebhookDelivery
from tests.bitbucketserver import (
    FakePullRequest,
    FakeRepository,
    comment_event,
    pull_request_event,
    push_event,
    ref_change,
)
from tests.conftest import make_settings
from tests.integration.jobs.test_webhook_intake import SECRET, counts, deliver, signed

ZERO = "0" * 40
ClientFactory = Callable[..., Any]


@pytest.fixture
def repo() -> FakeRepository:
    """Return a repository with main, a feature branch and a pull request of it."""
    repository = FakeRepository("PROJ", "service")
    repository.add_commit("Initial commit", "")
    repository.add_commit("Add a", "", branch="feature")
    repository.add_pull_request("Add the feature", "feature", "")
    return repository


@pytest.fixture
def pr(repo: FakeRepository) -> FakePullRequest:
    """Return the repository's pull request."""
    return repo.pull_requests[1]


@pytest.fixture
def app_client(db_url: str, tmp_path: Path) -> ClientFactory:
    """Return a factory of clients of an app with the given settings."""

    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = make_settings(db_url, tmp_path, **overrides)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://t"
            ) as client:
                yield client

    return make


async def jobs(database: Database) -> list[ReviewJob]:
    """Read every job, oldest first."""
    async with database.session() as session:
        found = await session.scalars(select(ReviewJob).order_by(ReviewJob.id))
        return list(found.all())


async def delivery(database: Database, delivery_id: str) -> WebhookDelivery:
    """Read the recorded delivery with this X-Request-Id."""
    async with database.session() as session:
        query = select(WebhookDelivery).where(
            WebhookDelivery.delivery_id == delivery_id
        )
        return (await session.scalars(query)).one()


async def test_push_makes_one_expansion_per_branch_and_skips_tags_and_deletions(
    client: httpx.AsyncClient, database: Database, repo: FakeRepository
) -> None:
    """Two branches, a tag and a deletion in one push: two expand_push jobs."""
    head = repo.branches["feature"]
    tag = {**ref_change("v1", ZERO, head, "ADD")}
    tag["ref"] = {"id": "refs/tags/v1", "displayId": "v1", "type": "TAG"}
    body = push_event(
        repo,
        ref_change("main", "1" * 40, repo.branches["main"]),
        ref_change("feature", ZERO, head, "ADD"),
        tag,
        ref_change("old", "2" * 40, ZERO, "DELETE"),
    )

    response = await deliver(client, body)

    assert response.status_code == 202
    found = await jobs(database)
    assert [(j.kind, j.payload["ref"], j.payload["since_commit"]) for j in found] == [
        ("expand_push", "refs/heads/main", "1" * 40),
        ("expand_push", "refs/heads/feature", ZERO),
    ]
    assert response.json()["job_ids"] == [j.id for j in found]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (ref_change("gone", "2" * 40, ZERO, "DELETE"), "branch deleted"),
        (
            {**ref_change("v2", ZERO, "3" * 40, "ADD"), "ref": {"id": "refs/tags/v2"}},
            "tag push",
        ),
        (ref_change("wip/x", "2" * 40, "3" * 40), "not in REVIEW_BRANCHES"),
    ],
)
async def test_push_that_asks_for_nothing_says_why(
    app_client: ClientFactory,
    database: Database,
    repo: FakeRepository,
    change: dict[str, Any],
    reason: str,
) -> None:
    """A deletion, a tag or a filtered branch: 202 'ignored', the reason, no job."""
    async with app_client(review_branches="main,release/*") as client:
        response = await deliver(client, push_event(repo, change))

    assert response.status_code == 202
    assert response.json()["outcome"] == "ignored"
    assert reason in response.json()["reason"]
    assert await counts(database) == (0, 1)
    assert reason in ((await delivery(database, "d-1")).reason or "")


async def test_branch_filter_takes_matching_branches(
    app_client: ClientFactory, database: Database, repo: FakeRepository
) -> None:
    """REVIEW_BRANCHES globs: release/2.0 matches release/*, main matches main."""
    body = push_event(
        repo,
        ref_change("release/2.0", "2" * 40, "3" * 40),
        ref_change("main", "4" * 40, "5" * 40),
        ref_change("topic", "6" * 40, "7" * 40),
    )

    async with app_client(review_branches="main, release/*") as client:
        response = await deliver(client, body)

    assert response.json()["outcome"] == "enqueued"
    assert [j.payload["ref"] for j in await jobs(database)] == [
        "refs/heads/release/2.0",
        "refs/heads/main",
    ]


async def test_project_filter_ignores_other_projects(
    app_client: ClientFactory,
    database: Database,
    repo: FakeRepository,
    pr: FakePullRequest,
) -> None:
    """REVIEW_PROJECTS (any case) leaves pushes and PRs of other projects alone."""
    push = push_event(repo, ref_change("main", "1" * 40, "2" * 40))
    opened = pull_request_event(repo, pr, "pr:opened")

    async with app_client(review_projects="core") as client:
        pushed = await deliver(client, push, delivery_id="a")
        asked = await deliver(client, opened, "pr:opened", delivery_id="b")
    async with app_client(review_projects="CORE,proj") as client:
        taken = await deliver(client, opened, "pr:opened", delivery_id="c")

    assert [r.json()["outcome"] for r in (pushed, asked, taken)] == [
        "ignored",
        "ignored",
        "enqueued",
    ]
    assert "project PROJ is not in REVIEW_PROJECTS" in pushed.json()["reason"]
    assert len(await jobs(database)) == 1


@pytest.mark.parametrize("event_key", ["pr:opened", "pr:reopened"])
async def test_opened_pull_request_is_reviewed_whole(
    client: httpx.AsyncClient,
    database: Database,
    repo: FakeRepository,
    pr: FakePullRequest,
    event_key: str,
) -> None:
    """pr:opened and pr:reopened enqueue the whole PR at its source commit."""
    response = await deliver(client, pull_request_event(repo, pr, event_key), event_key)

    [job] = await jobs(database)
    assert response.json()["outcome"] == "enqueued"
    assert (job.kind, job.payload["pr_id"], job.payload["since_commit"]) == (
        "review_pull_request",
        1,
        None,
    )
    assert job.payload["commit_id"] == repo.branches["feature"]


async def test_source_update_is_reviewed_since_the_previous_head(
    client: httpx.AsyncClient,
    database: Database,
    repo: FakeRepository,
    pr: FakePullRequest,
) -> None:
    """pr:from_ref_updated enqueues only what came after previousFromHash."""
    before = repo.branches["feature"]
    repo.add_commit("Add b", "", branch="feature")
    body = pull_request_event(repo, pr, "pr:from_ref_updated", previousFromHash=before)

    await deliver(client, body, "pr:from_ref_updated")

    [job] = await jobs(database)
    assert (job.payload["since_commit"], job.payload["commit_id"]) == (
        before,
        repo.branches["feature"],
    )


async def test_drafts_are_skipped_unless_configured(
    app_client: ClientFactory,
    database: Database,
    repo: FakeRepository,
    pr: FakePullRequest,
) -> None:
    """A draft PR is ignored with a reason; with REVIEW_DRAFTS it is reviewed."""
    pr.draft = True
    body = pull_request_event(repo, pr, "pr:opened")

    async with app_client() as client:
        skipped = await deliver(client, body, "pr:opened", delivery_id="a")
    async with app_client(review_drafts=True) as client:
        taken = await deliver(client, body, "pr:opened", delivery_id="b")

    assert skipped.json()["outcome"] == "ignored"
    assert "draft" in skipped.json()["reason"]
    assert taken.json()["outcome"] == "enqueued"


async def test_pull_request_into_a_filtered_branch_is_ignored(
    app_client: ClientFactory,
    database: Database,
    repo: FakeRepository,
    pr: FakePullRequest,
) -> None:
    """The branch filter applies to the PR's target, not to its source."""
    body = pull_request_event(repo, pr, "pr:opened")

    async with app_client(review_branches="release/*") as client:
        skipped = await deliver(client, body, "pr:opened", delivery_id="a")
    async with app_client(review_branches="main") as client:
        taken = await deliver(client, body, "pr:opened", delivery_id="b")

    assert "target branch main is not in REVIEW_BRANCHES" in skipped.json()["reason"]
    assert taken.json()["outcome"] == "enqueued"


async def test_modified_pull_request_is_reviewed_only_when_retargeted(
    client: httpx.AsyncClient,
    database: Database,
    repo: FakeRepository,
    pr: FakePullRequest,
) -> None:
    """pr:modified: a new title is ignored; a new target is a review of its own."""
    await deliver(client, pull_request_event(repo, pr, "pr:opened"), "pr:opened", "a")
    main = pull_request_event(repo, pr, "pr:opened")["pullRequest"]["toRef"]
    develop = {**main, "id": "refs/heads/develop", "displayId": "develop"}
    retitled = pull_request_event(
        repo, pr, "pr:modified", previousTitle="Old", previousTarget=main
    )
    retargeted = pull_request_event(
        repo, pr, "pr:modified", previousTitle="Old", previousTarget=develop
    )

    same = await deliver(client, retitled, "pr:modified", "b")
    moved = await deliver(client, retargeted, "pr:modified", "c")

    assert same.json()["outcome"] == "ignored"
    assert "did not change the target branch" in same.json()["reason"]
    assert moved.json()["outcome"] == "enqueued"
    assert [j.payload["since_commit"] for j in await jobs(database)] == [None, None]


async def test_review_command_in_a_comment_asks_for_a_new_review(
    client: httpx.AsyncClient,
    database: Database,
    repo: FakeRepository,
    pr: FakePullRequest,
) -> None:
    """A comment opening with a command (any case) re-reviews; redelivered, once."""
    await deliver(client, pull_request_event(repo, pr, "pr:opened"), "pr:opened", "a")
    command = comment_event(repo, pr, "@AI-Review please, after the fix", 501)

    first = await deliver(client, command, "pr:comment:added", "b")
    again = await deliver(client, command, "pr:comment:added", "c")
    other = await deliver(
        client, comment_event(repo, pr, "/review", 502), "pr:comment:added", "d"
    )

    found = await jobs(database)
    assert len(found) == 3
    assert first.json()["job_ids"] == again.json()["job_ids"]
    assert first.json()["job_ids"] != other.json()["job_ids"]
    assert {j.payload["since_commit"] for j in found} == {None}


@pytest.mark.parametrize(
    "text", ["Looks good to me", "/reviewer, could you look?", "please /review"]
)
async def test_comment_without_a_command_is_ignored(
    client: httpx.AsyncClient,
    database: Database,
    repo: FakeRepository,
    pr: FakePullRequest,
    text: str,
) -> None:
    """A comment that does not open with a review command asks for nothing."""
    response = await deliver(client, comment_event(repo, pr, text), "pr:comment:added")

    assert response.status_code == 202
    assert response.json()["outcome"] == "ignored"
    assert "no review command" in response.json()["reason"]
    assert await counts(database) == (0, 1)


async def test_custom_review_commands(
    app_client: ClientFactory,
    database: Database,
    repo: FakeRepository,
    pr: FakePullRequest,
) -> None:
    """REVIEW_COMMANDS replaces the default words."""
    async with app_client(review_commands="/ai-review") as client:
        old = await deliver(
            client, comment_event(repo, pr, "/review"), "pr:comment:added", "a"
        )
        new = await deliver(
            client, comment_event(repo, pr, "/AI-review"), "pr:comment:added", "b"
        )

    assert (old.json()["outcome"], new.json()["outcome"]) == ("ignored", "enqueued")


@pytest.mark.parametrize(
    "event_key",
    [
        "pr:merged",
        "pr:declined",
        "pr:deleted",
        "pr:reviewer:needs_work",
        "pr:reviewer:changes_requested",
        "repo:modified",
        "repo:comment:added",
    ],
)
async def test_other_events_are_recorded_and_ignored(
    client: httpx.AsyncClient,
    database: Database,
    repo: FakeRepository,
    pr: FakePullRequest,
    event_key: str,
) -> None:
    """Every other event key answers 202 'ignored' with the reason, and no job."""
    body = pull_request_event(repo, pr, event_key)

    response = await deliver(client, body, event_key)

    assert response.status_code == 202
    assert response.json()["outcome"] == "ignored"
    assert f"event {event_key} asks for no review" == response.json()["reason"]
    assert (await delivery(database, "d-1")).event_key == event_key


def malformed(repo: FakeRepository, pr: FakePullRequest, case: str) -> Any:
    """Return an event body broken in the way ``case`` names."""
    if case == "pullRequest.id":
        return {"eventKey": "pr:comment:added", "pullRequest": {}, "comment": {}}
    if case == "changes[0].ref":
        return push_event(repo, {"fromHash": ZERO, "toHash": ZERO})
    if case == "fromRef.latestCommit":
        body = pull_request_event(repo, pr, "pr:from_ref_updated")
        body["pullRequest"]["fromRef"]["latestCommit"] = None
        return body
    body = comment_event(repo, pr, "/review")
    if case == "comment.id":
        del body["comment"]["id"]
    else:
        body["comment"]["text"] = 7
    return body


@pytest.mark.parametrize(
    ("case", "event_key"),
    [
        ("pullRequest.id", "pr:comment:added"),
        ("comment.id", "pr:comment:added"),
        ("comment.text", "pr:comment:added"),
        ("changes[0].ref", "repo:refs_changed"),
        ("fromRef.latestCommit", "pr:from_ref_updated"),
    ],
)
async def test_malformed_events_are_refused_with_the_field(
    client: httpx.AsyncClient,
    database: Database,
    repo: FakeRepository,
    pr: FakePullRequest,
    case: str,
    event_key: str,
) -> None:
    """A body lacking a field its event needs: 422 naming it, recorded, no job."""
    response = await deliver(client, malformed(repo, pr, case), event_key)

    assert response.status_code == 422
    assert case in response.json()["detail"]
    assert await counts(database) == (0, 1)
    assert (await delivery(database, "d-1")).outcome == "rejected"


async def test_signed_comment_command_is_taken_and_unsigned_refused(
    app_client: ClientFactory,
    database: Database,
    repo: FakeRepository,
    pr: FakePullRequest,
) -> None:
    """With WEBHOOK_SECRET, a signed command enqueues; the same unsigned gets 401."""
    raw = json.dumps(comment_event(repo, pr, "/review")).encode()

    async with app_client(webhook_secret=SECRET) as client:
        unsigned = await deliver(client, raw, "pr:comment:added", "u-1")
        good = await deliver(client, raw, "pr:comment:added", "u-2", signed(raw))

    assert (unsigned.status_code, good.status_code) == (401, 202)
    assert good.json()["outcome"] == "enqueued"
    assert await counts(database) == (1, 2)


async def test_event_key_read_from_the_body_when_the_header_is_missing(
    client: httpx.AsyncClient, database: Database, repo: FakeRepository
) -> None:
    """A delivery without X-Event-Key is read by the body's eventKey."""
    raw = json.dumps(push_event(repo, ref_change("main", "1" * 40, "2" * 40)))

    response = await client.post(
        "/api/webhooks/bitbucket", content=raw, headers={"X-Request-Id": "h-1"}
    )

    assert response.json()["outcome"] == "enqueued"
    assert [j.kind for j in await jobs(database)] == ["expand_push"]

"""Bitbucket end to end: signed deliveries, worker, real client, fake server.

The app receives Atlassian-shaped deliveries; a worker runs the jobs with the
real BitbucketClient against the fake Bitbucket Data Center server on
loopback, a fake reviewer (one finding on the first added line) and a fake
notifier that records whom it told. What the fake server was sent shows that
comments and Code Insights reports are posted once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from ai_code_reviewer.api.app import create_app
from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import ReviewJob, ReviewRecord
from ai_code_reviewer.api.jobs.clock import SystemClock
from ai_code_reviewer.api.jobs.pipeline import Pipeline, Services
from ai_code_reviewer.api.jobs.queue import FINISHED
from ai_code_reviewer.api.jobs.worker import Worker
from ai_code_reviewer.githost.bitbucket import build_bitbucket_client
from tests.bitbucketserver import (
    ADA,
    GRACE,
    TOKEN,
    FakeBitbucketServer,
    FakePullRequest,
    FakeRepository,
    FakeUser,
    comment_event,
    pull_request_event,
    push_event,
    ref_change,
    serving,
)
from tests.conftest import make_settings
from tests.fakes import FakeNotifier, FakeReviewer
from tests.integration.githost.conftest import new_file
from tests.integration.jobs.test_webhook_intake import SECRET, signed

URL = "/api/webhooks/bitbucket"
MAX_COMMITS = 3
ZERO = "0" * 40
LINUS = FakeUser("linus", "Linus T", "linus@example.com", mapped=False)
WAIT_SECONDS = 20


@dataclass
class Service:
    """The running service: its HTTP client, database, worker fakes and the host."""

    client: httpx.AsyncClient
    database: Database
    bitbucket: FakeBitbucketServer
    repo: FakeRepository
    reviewer: FakeReviewer
    notifier: FakeNotifier

    async def deliver(
        self, body: dict[str, Any], event_key: str, delivery_id: str
    ) -> httpx.Response:
        """POST a signed delivery as Bitbucket sends it."""
        raw = json.dumps(body).encode()
        headers = {
            "X-Event-Key": event_key,
            "X-Request-Id": delivery_id,
            "X-Hub-Signature": signed(raw),
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Atlassian HttpClient 4.0.0 / Bitbucket-9.2.0 / Default",
        }
        response = await self.client.post(URL, content=raw, headers=headers)
        assert response.status_code == 202, response.text
        return response

    async def settle(self) -> list[ReviewJob]:
        """Wait until every job has finished; return the jobs, oldest first."""
        for _ in range(WAIT_SECONDS * 20):
            async with self.database.session() as session:
                query = select(ReviewJob).order_by(ReviewJob.id)
                jobs = list((await session.scalars(query)).all())
            if jobs and all(job.status in FINISHED for job in jobs):
                return jobs
            await asyncio.sleep(0.05)
        raise AssertionError(f"jobs did not finish: {[j.status for j in jobs]}")

    async def reviews(self) -> list[ReviewRecord]:
        """Read every stored review, oldest first."""
        async with self.database.session() as session:
            query = select(ReviewRecord).order_by(ReviewRecord.id)
            return list((await session.scalars(query)).all())

    def edits(self) -> list[Any]:
        """Return the comment edits (PUT .../comments/{id}) the server received."""
        return [
            r
            for r in self.bitbucket.requests
            if r.method == "PUT" and "/comments/" in r.path
        ]

    def commit_ids(self, reviews: list[ReviewRecord]) -> list[str | None]:
        """Return the commits the reviews are of."""
        return [review.commit_id for review in reviews]


@pytest.fixture
async def service(db_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    """Run the app, a worker with the real client, and the fake Bitbucket server."""
    with serving() as bitbucket:
        repo = bitbucket.add_repository("PROJ", "app")
        repo.add_commit("Initial commit", new_file("README.md", "# app"))
        settings = make_settings(
            db_url,
            tmp_path,
            webhook_secret=SECRET,
            bitbucket_url=bitbucket.base_url,
            bitbucket_token=TOKEN,
            githost_timeout=5.0,
            worker_poll_interval=0.02,
        )
        host = build_bitbucket_client(settings)
        assert host is not None
        database = Database(settings)
        reviewer, notifier = FakeReviewer(), FakeNotifier()
        services = Services(reviewer, notifier, {"bitbucket": host})
        pipeline = Pipeline(
            database, services, SystemClock(), max_commits_per_push=MAX_COMMITS
        )
        worker = Worker(database, pipeline, settings)
        app = create_app(settings)
        stop = asyncio.Event()
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                task = asyncio.create_task(worker.run(stop))
                try:
                    yield Service(c, database, bitbucket, repo, reviewer, notifier)
                finally:
                    stop.set()
                    await asyncio.wait_for(task, WAIT_SECONDS)
        await host.aclose()
        await database.dispose()


def add_commits(
    repo: FakeRepository, branch: str, count: int, authors: list[FakeUser]
) -> list[str]:
    """Add ``count`` commits on ``branch``, each adding its own file."""
    ids = []
    for number in range(count):
        author = authors[number % len(authors)]
        path = f"{branch.replace('/', '_')}_{number}.py"
        diff = new_file(path, f"value = eval('{number}')", "other = 1")
        ids.append(repo.add_commit(f"Add {path}", diff, branch=branch, author=author))
    return ids


async def test_push_of_three_commits_reviews_each_once(service: Service) -> None:
    """Three pushed commits: three reviews, each author told, one report each."""
    repo = service.repo
    before = repo.branches["main"]
    commits = add_commits(repo, "main", 3, [ADA, GRACE, LINUS])
    body = push_event(repo, ref_change("main", before, commits[-1]))

    await service.deliver(body, "repo:refs_changed", "push-1")
    await service.settle()

    reviews = await service.reviews()
    assert service.commit_ids(reviews) == commits
    assert [r.trigger_type for r in reviews] == ["commit"] * 3
    assert [list(m.recipients) for m in service.notifier.delivered] == [
        ["ada@example.com"],
        ["grace@example.com"],
        ["linus@example.com"],
    ]
    assert len(service.bitbucket.sent("PUT", "/reports/ai-code-reviewer")) == 3
    assert len(service.bitbucket.sent("POST", "/annotations")) == 3
    assert {key[0] for key in repo.reports} == set(commits)


async def test_redelivered_push_adds_nothing(service: Service) -> None:
    """The same push redelivered, or delivered again under a new id: no new review."""
    repo = service.repo
    before = repo.branches["main"]
    commits = add_commits(repo, "main", 2, [ADA])
    body = push_event(repo, ref_change("main", before, commits[-1]))
    await service.deliver(body, "repo:refs_changed", "push-1")
    await service.settle()
    sent = len(service.bitbucket.requests)

    again = await service.deliver(body, "repo:refs_changed", "push-1")
    other = await service.deliver(body, "repo:refs_changed", "push-2")
    jobs = await service.settle()

    assert again.json()["outcome"] == "duplicate"
    assert other.json()["job_ids"] == again.json()["job_ids"]
    assert len(jobs) == 3
    assert service.commit_ids(await service.reviews()) == commits
    assert len(service.bitbucket.requests) == sent
    assert service.reviewer.calls == 2


async def test_commit_pushed_to_two_branches_is_reviewed_once(
    service: Service,
) -> None:
    """A hotfix pushed, then a new branch made from it: the hotfix reviewed once."""
    repo = service.repo
    base = repo.branches["main"]
    repo.branches["hotfix"] = base
    [fix] = add_commits(repo, "hotfix", 1, [GRACE])
    repo.branches["release/1.0"] = fix

    await service.deliver(
        push_event(repo, ref_change("hotfix", base, fix)), "repo:refs_changed", "h-1"
    )
    await service.settle()
    await service.deliver(
        push_event(repo, ref_change("release/1.0", ZERO, fix, "ADD")),
        "repo:refs_changed",
        "h-2",
    )
    await service.settle()

    assert service.commit_ids(await service.reviews()) == [fix]


async def test_push_beyond_the_cap_reviews_the_rest_as_one_range(
    service: Service,
) -> None:
    """Five commits with a cap of three: three reviews, then one of the last two."""
    repo = service.repo
    before = repo.branches["main"]
    commits = add_commits(repo, "main", 5, [ADA, ADA, ADA, ADA, GRACE])

    await service.deliver(
        push_event(repo, ref_change("main", before, commits[-1])),
        "repo:refs_changed",
        "big-1",
    )
    await service.settle()

    reviews = await service.reviews()
    assert service.commit_ids(reviews) == [*commits[:3], commits[-1]]
    whole = reviews[-1]
    assert whole.trigger_type == "commit_range"
    assert "main_3.py" in whole.diff_content and "main_4.py" in whole.diff_content
    assert "main_2.py" not in whole.diff_content
    assert "2 commits since" in whole.review_feedback
    assert whole.email_recipients == ["grace@example.com"]
    assert (commits[-1], "ai-code-reviewer") in repo.reports
    [range_diff] = service.bitbucket.sent("GET", f"/commits/{commits[-1]}/diff")
    assert range_diff.query["since"] == commits[2]


async def open_pull_request(service: Service) -> tuple[FakePullRequest, str]:
    """Push a feature branch of one commit and open a pull request of it."""
    repo = service.repo
    repo.branches["feature"] = repo.branches["main"]
    first = repo.add_commit(
        "Add a", new_file("a.py", "x = eval(input())"), branch="feature"
    )
    pull_request = repo.add_pull_request(
        "Add the feature", "feature", new_file("a.py", "x = eval(input())")
    )
    return pull_request, first


async def test_pull_request_is_reviewed_then_reviewed_incrementally(
    service: Service,
) -> None:
    """pr:opened reviews the PR; pr:from_ref_updated only the new commit's change."""
    repo = service.repo
    pull_request, first = await open_pull_request(service)
    opened = pull_request_event(repo, pull_request, "pr:opened")
    await service.deliver(opened, "pr:opened", "pr-1")
    await service.settle()
    repo.add_commit("Add b", new_file("b.py", "y = eval(input())"), branch="feature")
    pull_request.diff = new_file("a.py", "x = eval(input())") + new_file(
        "b.py", "y = eval(input())"
    )
    updated = pull_request_event(
        repo, pull_request, "pr:from_ref_updated", previousFromHash=first
    )

    await service.deliver(updated, "pr:from_ref_updated", "pr-2")
    await service.deliver(opened, "pr:opened", "pr-3")
    await service.settle()

    whole, increment = await service.reviews()
    assert "a.py" in whole.diff_content
    assert "b.py" in increment.diff_content and "a.py" not in increment.diff_content
    assert [r.pr_id for r in (whole, increment)] == [1, 1]
    assert whole.email_recipients == ["ada@example.com", "grace@example.com"]
    posted = service.bitbucket.sent("POST", "/pull-requests/1/comments")
    assert [bool(r.body.get("anchor")) for r in posted] == [False, True, True]
    assert len(service.edits()) == 1


async def test_comment_command_re_reviews_once(service: Service) -> None:
    """A /review comment re-reviews the whole PR; redelivered, it adds nothing."""
    repo = service.repo
    pull_request, _first = await open_pull_request(service)
    await service.deliver(
        pull_request_event(repo, pull_request, "pr:opened"), "pr:opened", "c-1"
    )
    await service.settle()
    command = comment_event(repo, pull_request, "/review please", comment_id=9001)
    chatter = comment_event(repo, pull_request, "Nice work")

    await service.deliver(command, "pr:comment:added", "c-2")
    await service.deliver(command, "pr:comment:added", "c-3")
    ignored = await service.deliver(chatter, "pr:comment:added", "c-4")
    await service.settle()

    first, again = await service.reviews()
    assert ignored.json()["outcome"] == "ignored"
    assert again.diff_content == first.diff_content
    assert service.reviewer.calls == 2
    posted = service.bitbucket.sent("POST", "/pull-requests/1/comments")
    assert [bool(r.body.get("anchor")) for r in posted] == [False, True]
    # The re-review says the same, so the summary already reads right.
    assert service.edits() == []
    assert len(service.bitbucket.sent("GET", "/pull-requests/1/activities")) >= 2

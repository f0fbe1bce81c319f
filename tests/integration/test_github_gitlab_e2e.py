"""GitHub and GitLab end to end: signed deliveries, worker, real clients, fake hosts.

The app receives GitHub- and GitLab-shaped deliveries; a worker runs the jobs
with the real GitHubClient and GitLabClient against the fake servers on
loopback, a fake reviewer (one finding on the first added line) and a fake
notifier that records whom it told. A push is one ``expand_push`` job that
lists the pushed commits through the REST API; what the fake servers were
sent shows that each summary comment is posted once and then edited.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

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
from ai_code_reviewer.githost.base import GitHost
from ai_code_reviewer.githost.github import build_github_client
from ai_code_reviewer.githost.gitlab import build_gitlab_client
from tests import githubserver, gitlabserver
from tests.conftest import make_settings
from tests.fakes import FakeNotifier, FakeReviewer
from tests.integration.githost.conftest import new_file

MAX_COMMITS = 3
ZERO = "0" * 40
WAIT_SECONDS = 20
GITHUB_SECRET = "github-e2e-secret"
GITLAB_TOKEN = "gitlab-e2e-token"
LINUS = githubserver.FakeGitHubUser("linus", "Linus T", "linus@example.com")
CAROL = gitlabserver.FakeGitLabUser("carol", "Carol C", "carol@example.com")


class Side(Protocol):
    """One Git host as the tests drive it: its repository, events and comments."""

    host: str
    url: str
    push_event: str

    def head(self, branch: str) -> str:
        """Return the commit ``branch`` points at."""
        ...

    def branch_from(self, branch: str, commit_id: str) -> None:
        """Make ``branch`` point at ``commit_id``."""
        ...

    def add_commit(self, message: str, diff: str, branch: str, second: bool) -> str:
        """Add a commit by the first author (or the second); return its id."""
        ...

    def merge(self, branch: str, other: str) -> str:
        """Add a merge of ``other`` into ``branch``; return its id."""
        ...

    def email(self, second: bool) -> str:
        """Return the commit email of the first author (or the second)."""
        ...

    def push(self, branch: str, before: str, after: str) -> dict[str, Any]:
        """Return the push body of ``branch`` moved from ``before`` to ``after``."""
        ...

    def headers(self, raw: bytes, event: str, delivery_id: str) -> dict[str, str]:
        """Return the headers the host sends with a delivery, secret included."""
        ...


@dataclass
class GitHubSide:
    """The fake GitHub server and its repository acme/app."""

    server: githubserver.FakeGitHubServer
    repo: githubserver.FakeGitHubRepo
    host: str = "github"
    url: str = "/api/webhooks/github"
    push_event: str = "push"

    def head(self, branch: str) -> str:
        """Return the commit ``branch`` points at."""
        return self.repo.branches[branch]

    def branch_from(self, branch: str, commit_id: str) -> None:
        """Make ``branch`` point at ``commit_id``."""
        self.repo.branches[branch] = commit_id

    def add_commit(self, message: str, diff: str, branch: str, second: bool) -> str:
        """Add a commit by Octo (or Linus); return its sha."""
        author = LINUS if second else githubserver.OCTO
        return self.repo.add_commit(message, diff, branch=branch, author=author)

    def merge(self, branch: str, other: str) -> str:
        """Add a merge of ``other`` into ``branch``; return its sha."""
        parents = [self.repo.branches[branch], other]
        return self.repo.add_commit(
            f"Merge {other[:7]}", "", branch=branch, parents=parents
        )

    def email(self, second: bool) -> str:
        """Return Octo's (or Linus's) commit email."""
        return "linus@example.com" if second else "octo@example.com"

    def push(self, branch: str, before: str, after: str) -> dict[str, Any]:
        """Return the ``push`` body of the move."""
        return githubserver.push_event(self.repo, branch, before, after)

    def headers(self, raw: bytes, event: str, delivery_id: str) -> dict[str, str]:
        """Return GitHub's headers, signed with the webhook secret."""
        digest = hmac.new(GITHUB_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        return {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id,
            "X-Hub-Signature-256": f"sha256={digest}",
            "User-Agent": "GitHub-Hookshot/abc123",
        }


@dataclass
class GitLabSide:
    """The fake GitLab server and its project group/sub/app."""

    server: gitlabserver.FakeGitLabServer
    project: gitlabserver.FakeProject
    host: str = "gitlab"
    url: str = "/api/webhooks/gitlab"
    push_event: str = "Push Hook"

    def head(self, branch: str) -> str:
        """Return the commit ``branch`` points at."""
        return self.project.branches[branch]

    def branch_from(self, branch: str, commit_id: str) -> None:
        """Make ``branch`` point at ``commit_id``."""
        self.project.branches[branch] = commit_id

    def add_commit(self, message: str, diff: str, branch: str, second: bool) -> str:
        """Add a commit by Alice (or Carol); return its id."""
        author = CAROL if second else gitlabserver.ALICE
        return self.project.add_commit(message, diff, branch=branch, author=author)

    def merge(self, branch: str, other: str) -> str:
        """Add a merge of ``other`` into ``branch``; return its id."""
        parents = [self.project.branches[branch], other]
        return self.project.add_commit(
            f"Merge {other[:7]}", "", branch=branch, parents=parents
        )

    def email(self, second: bool) -> str:
        """Return Alice's (or Carol's) commit email."""
        return "carol@example.com" if second else "alice@example.com"

    def push(self, branch: str, before: str, after: str) -> dict[str, Any]:
        """Return the ``Push Hook`` body of the move."""
        return gitlabserver.push_hook(self.server, self.project, branch, before, after)

    def headers(self, raw: bytes, event: str, delivery_id: str) -> dict[str, str]:
        """Return GitLab's headers with the webhook's secret token."""
        return {
            "X-Gitlab-Event": event,
            "Idempotency-Key": delivery_id,
            "X-Gitlab-Event-UUID": f"uuid-{delivery_id}",
            "X-Gitlab-Token": GITLAB_TOKEN,
            "User-Agent": "GitLab/17.5.0",
        }


@dataclass
class Service:
    """The running service: its HTTP client, database, worker fakes and hosts."""

    client: httpx.AsyncClient
    database: Database
    github: GitHubSide
    gitlab: GitLabSide
    reviewer: FakeReviewer
    notifier: FakeNotifier
    sides: dict[str, Side] = field(init=False)

    def __post_init__(self) -> None:
        self.sides = {"github": self.github, "gitlab": self.gitlab}

    async def deliver(
        self, side: Side, body: dict[str, Any], event: str, delivery_id: str
    ) -> httpx.Response:
        """POST a delivery as the host sends it; it must be accepted."""
        raw = json.dumps(body).encode()
        headers = {
            **side.headers(raw, event, delivery_id),
            "Content-Type": "application/json",
        }
        response = await self.client.post(side.url, content=raw, headers=headers)
        assert response.status_code == 202, response.text
        return response

    async def settle(self) -> list[ReviewJob]:
        """Wait until every job has finished; return the jobs, oldest first."""
        for _ in range(WAIT_SECONDS * 20):
            async with self.database.session() as session:
                query = select(ReviewJob).order_by(ReviewJob.id)
                jobs = list((await session.scalars(query)).all())
            if jobs and all(job.status in FINISHED for job in jobs):
                assert {job.status for job in jobs} == {"succeeded"}
                return jobs
            await asyncio.sleep(0.05)
        raise AssertionError(f"jobs did not finish: {[j.status for j in jobs]}")

    async def reviews(self) -> list[ReviewRecord]:
        """Read every stored review, oldest first."""
        async with self.database.session() as session:
            query = select(ReviewRecord).order_by(ReviewRecord.id)
            return list((await session.scalars(query)).all())


@pytest.fixture
async def service(db_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    """Run the app, a worker with both real clients, and both fake servers."""
    with githubserver.serving() as github, gitlabserver.serving() as gitlab:
        repo = github.add_repo("acme", "app")
        repo.add_commit("Initial commit", new_file("README.md", "# app"))
        project = gitlab.add_project("group/sub", "app")
        project.add_commit("Initial commit", new_file("README.md", "# app"))
        settings = make_settings(
            db_url,
            tmp_path,
            github_webhook_secret=GITHUB_SECRET,
            gitlab_webhook_token=GITLAB_TOKEN,
            github_url=github.base_url,
            github_token=githubserver.TOKEN,
            gitlab_url=gitlab.base_url,
            gitlab_token=gitlabserver.TOKEN,
            githost_timeout=5.0,
            worker_poll_interval=0.02,
        )
        github_client = build_github_client(settings)
        gitlab_client = build_gitlab_client(settings)
        assert github_client is not None and gitlab_client is not None
        database = Database(settings)
        reviewer, notifier = FakeReviewer(), FakeNotifier()
        hosts: dict[str, GitHost] = {"github": github_client, "gitlab": gitlab_client}
        services = Services(reviewer, notifier, hosts)
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
                    yield Service(
                        c,
                        database,
                        GitHubSide(github, repo),
                        GitLabSide(gitlab, project),
                        reviewer,
                        notifier,
                    )
                finally:
                    stop.set()
                    await asyncio.wait_for(task, WAIT_SECONDS)
        await github_client.aclose()
        await gitlab_client.aclose()
        await database.dispose()


def add_commits(side: Side, branch: str, count: int) -> list[str]:
    """Add ``count`` commits on ``branch``, each adding its own file.

    Authors alternate between the host's two users, the first one first.
    """
    ids = []
    for number in range(count):
        path = f"{branch.replace('/', '_')}_{number}.py"
        diff = new_file(path, f"value = eval('{number}')", "other = 1")
        ids.append(side.add_commit(f"Add {path}", diff, branch, number % 2 == 1))
    return ids


HOSTS = pytest.mark.parametrize("host", ["github", "gitlab"])


@HOSTS
async def test_push_of_three_commits_reviews_each_once(
    service: Service, host: str
) -> None:
    """Three pushed commits: one expand job, three reviews, each author told."""
    side = service.sides[host]
    before = side.head("main")
    commits = add_commits(side, "main", 3)

    response = await service.deliver(
        side, side.push("main", before, commits[-1]), side.push_event, "push-1"
    )
    jobs = await service.settle()

    reviews = await service.reviews()
    assert [r.commit_id for r in reviews] == commits
    assert [r.trigger_type for r in reviews] == ["commit"] * 3
    assert [j.kind for j in jobs] == ["expand_push", *["review_commit"] * 3]
    assert response.json()["job_ids"] == [jobs[0].id]
    assert [list(m.recipients) for m in service.notifier.delivered] == [
        [side.email(second=False)],
        [side.email(second=True)],
        [side.email(second=False)],
    ]
    assert {r.publish_status for r in reviews} == {"skipped"}


@HOSTS
async def test_redelivered_push_adds_nothing(service: Service, host: str) -> None:
    """The same push redelivered, or delivered under a new id: no new review."""
    side = service.sides[host]
    before = side.head("main")
    commits = add_commits(side, "main", 2)
    body = side.push("main", before, commits[-1])
    first = await service.deliver(side, body, side.push_event, "push-1")
    await service.settle()

    again = await service.deliver(side, body, side.push_event, "push-1")
    other = await service.deliver(side, body, side.push_event, "push-2")
    jobs = await service.settle()

    assert again.json()["outcome"] == "duplicate"
    assert first.json()["job_ids"] == again.json()["job_ids"] == other.json()["job_ids"]
    assert len(jobs) == 3
    assert [r.commit_id for r in await service.reviews()] == commits
    assert service.reviewer.calls == 2


@HOSTS
async def test_push_beyond_the_cap_reviews_the_rest_as_one_range(
    service: Service, host: str
) -> None:
    """Five commits with a cap of three: three reviews, then one of the last two."""
    side = service.sides[host]
    before = side.head("main")
    commits = add_commits(side, "main", 5)

    await service.deliver(
        side, side.push("main", before, commits[-1]), side.push_event, "big-1"
    )
    await service.settle()

    reviews = await service.reviews()
    assert [r.commit_id for r in reviews] == [*commits[:3], commits[-1]]
    rest = reviews[-1]
    assert rest.trigger_type == "commit_range"
    assert "main_3.py" in rest.diff_content and "main_4.py" in rest.diff_content
    assert "main_2.py" not in rest.diff_content
    assert rest.email_recipients == [side.email(second=False)]


@HOSTS
async def test_new_branch_beyond_the_cap_leaves_nothing_unreviewed(
    service: Service, host: str
) -> None:
    """A new branch of five commits and a merge: three reviews and one range."""
    side = service.sides[host]
    main = side.head("main")
    side.branch_from("feature", main)
    commits = add_commits(side, "feature", 5)
    hotfix = side.add_commit("Fix main", new_file("fix.py", "x = 1"), "main", False)
    side.merge("feature", hotfix)
    tip = side.add_commit("Add last", new_file("last.py", "y = 2"), "feature", True)

    await service.deliver(
        side, side.push("feature", ZERO, tip), side.push_event, "new-1"
    )
    await service.settle()

    reviews = await service.reviews()
    assert [r.commit_id for r in reviews] == [*commits[:3], tip]
    rest = reviews[-1]
    assert rest.trigger_type == "commit_range"
    for path in ("feature_3.py", "feature_4.py", "last.py"):
        assert path in rest.diff_content
    assert "feature_2.py" not in rest.diff_content


async def test_github_pull_request_is_reviewed_then_reviewed_incrementally(
    service: Service,
) -> None:
    """opened reviews the PR; synchronize only the new commit; one comment, edited."""
    side, repo, server = service.github, service.github.repo, service.github.server
    side.branch_from("feature", side.head("main"))
    first = side.add_commit(
        "Add a", new_file("a.py", "x = eval(input())"), "feature", False
    )
    pull = repo.add_pull(
        "Add the feature", "feature", new_file("a.py", "x = eval(input())")
    )
    opened = githubserver.pull_request_event(server, repo, pull, "opened")
    await service.deliver(side, opened, "pull_request", "pr-1")
    await service.settle()
    second = side.add_commit(
        "Add b", new_file("b.py", "y = eval(input())"), "feature", True
    )
    pull.diff += new_file("b.py", "y = eval(input())")
    synced = githubserver.pull_request_event(
        server, repo, pull, "synchronize", before=first, after=second
    )

    await service.deliver(side, synced, "pull_request", "pr-2")
    await service.deliver(side, opened, "pull_request", "pr-3")
    await service.settle()

    whole, increment = await service.reviews()
    assert "a.py" in whole.diff_content
    assert "b.py" in increment.diff_content and "a.py" not in increment.diff_content
    assert [(r.pr_id, r.commit_id) for r in (whole, increment)] == [
        (1, first),
        (1, second),
    ]
    assert whole.email_recipients == ["octo@example.com"]
    assert len(server.sent("POST", "/issues/1/comments")) == 1
    [comment] = pull.comments
    assert len(server.sent("PATCH", f"/issues/comments/{comment['id']}")) == 1
    assert "b.py" in comment["body"] and "a.py" not in comment["body"]
    assert comment["body"].endswith("<!-- ai-code-reviewer:summary -->")


async def test_gitlab_merge_request_is_reviewed_then_reviewed_incrementally(
    service: Service,
) -> None:
    """open reviews the MR; update with oldrev only the new commit; one note, edited."""
    side, project, server = (
        service.gitlab,
        service.gitlab.project,
        service.gitlab.server,
    )
    side.branch_from("feature", side.head("main"))
    first = side.add_commit(
        "Add a", new_file("a.py", "x = eval(input())"), "feature", False
    )
    merge_request = project.add_merge_request(
        "Add the feature", "feature", new_file("a.py", "x = eval(input())")
    )
    opened = gitlabserver.merge_request_hook(server, project, merge_request, "open")
    await service.deliver(side, opened, "Merge Request Hook", "mr-1")
    await service.settle()
    second = side.add_commit(
        "Add b", new_file("b.py", "y = eval(input())"), "feature", True
    )
    merge_request.diff += new_file("b.py", "y = eval(input())")
    updated = gitlabserver.merge_request_hook(
        server, project, merge_request, "update", oldrev=first
    )

    await service.deliver(side, updated, "Merge Request Hook", "mr-2")
    await service.deliver(side, opened, "Merge Request Hook", "mr-3")
    await service.settle()

    whole, increment = await service.reviews()
    assert "a.py" in whole.diff_content
    assert "b.py" in increment.diff_content and "a.py" not in increment.diff_content
    assert [(r.pr_id, r.commit_id) for r in (whole, increment)] == [
        (1, first),
        (1, second),
    ]
    assert whole.email_recipients == ["alice@example.com"]
    assert len(server.sent("POST", "/merge_requests/1/notes")) == 1
    [note] = merge_request.notes
    assert len(server.sent("PUT", f"/merge_requests/1/notes/{note['id']}")) == 1
    assert "b.py" in note["body"] and "a.py" not in note["body"]

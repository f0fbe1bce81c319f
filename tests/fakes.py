"""In-memory fakes of the pipeline's interfaces, with failures on command.

Each fake takes a script: a list whose items are used one per call, an
exception item being raised instead of answering; past the end of the
script, the fake answers normally.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ai_code_reviewer.api.db.models import utcnow
from ai_code_reviewer.githost.base import (
    Change,
    Commit,
    Person,
    Publication,
    PushedCommits,
    Target,
)
from ai_code_reviewer.notify.base import Delivery, Message
from ai_code_reviewer.review.model import Diff, Finding, ReviewResult

DIFF = """diff --git a/app.py b/app.py
index 1111111..2222222 100644
--- a/app.py
+++ b/app.py
@@ -1,2 +1,3 @@
 import os
-x = 1
+x = eval(os.environ["X"])
+y = 2
"""


def next_failure(script: list[BaseException | None]) -> BaseException | None:
    """Pop the next scripted outcome: an exception to raise, or None."""
    return script.pop(0) if script else None


@dataclass
class FakeReviewer:
    """A reviewer that finds one issue per diff, or fails as scripted."""

    script: list[BaseException | None] = field(default_factory=list)
    delay: float = 0.0
    calls: int = 0
    titles: list[str | None] = field(default_factory=list)
    provider: str = "fake"
    model: str = "fake-1"

    async def review(self, diff: Diff, *, title: str | None = None) -> ReviewResult:
        """Return one finding on the first added line, after the scripted delay."""
        self.calls += 1
        self.titles.append(title)
        if self.delay:
            await asyncio.sleep(self.delay)
        if (failure := next_failure(self.script)) is not None:
            raise failure
        first = diff.files[0]
        line = first.added_lines()[0].new_number
        finding = Finding(first.path, line, "major", "security", "eval", "Do not eval.")
        return ReviewResult("One problem.", (finding,), self.provider, self.model)


@dataclass
class FakeNotifier:
    """A notifier that records what it delivered, or fails as scripted."""

    script: list[BaseException | None] = field(default_factory=list)
    delivered: list[Message] = field(default_factory=list)

    async def deliver(self, message: Message) -> Delivery:
        """Record ``message`` as sent."""
        if (failure := next_failure(self.script)) is not None:
            raise failure
        self.delivered.append(message)
        return Delivery("sent", message.recipients, "250 accepted")


@dataclass
class FakeGitHost:
    """A Git host holding one diff for every commit and pull request."""

    name: str = "bitbucket"
    script: list[BaseException | None] = field(default_factory=list)
    published: list[Target] = field(default_factory=list)
    publications: list[Publication] = field(default_factory=list)
    diff: str = DIFF
    truncated: tuple[str, ...] = ()

    async def fetch_commit(self, target: Target) -> Change:
        """Return the commit's diff with its author."""
        if (failure := next_failure(self.script)) is not None:
            raise failure
        author = Person("Ada Lovelace", "ada@example.com")
        title = f"commit {target.commit_id}"
        return Change(self.diff, author, title=title, truncated=self.truncated)

    async def fetch_pull_request(self, target: Target, since: str | None) -> Change:
        """Return the pull request's diff with its author and a reviewer."""
        change = await self.fetch_commit(target)
        reviewer = Person("Grace Hopper", "grace@example.com")
        return Change(
            change.diff, change.author, f"PR {target.pr_id}", reviewers=(reviewer,)
        )

    async def list_pushed_commits(
        self, project: str, repo: str, since: str | None, until: str, limit: int
    ) -> PushedCommits:
        """Return the pushed head as the only commit of the push."""
        author = Person("Ada Lovelace", "ada@example.com")
        return PushedCommits((Commit(until, author, f"commit {until}"),), more=False)

    async def fetch_range(
        self, project: str, repo: str, since: str, until: str
    ) -> Change:
        """Return the range's diff, the same as every commit's."""
        return await self.fetch_commit(Target(project, repo, commit_id=until))

    async def publish(self, target: Target, publication: Publication) -> str:
        """Record the publication."""
        self.published.append(target)
        self.publications.append(publication)
        return "published"


@dataclass
class ManualClock:
    """A clock that moves only when told to; sleeping yields to the loop."""

    current: datetime = field(default_factory=utcnow)

    def now(self) -> datetime:
        """Return the clock's time."""
        return self.current

    async def sleep(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` and let other tasks run."""
        self.current += timedelta(seconds=seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds``."""
        self.current += timedelta(seconds=seconds)

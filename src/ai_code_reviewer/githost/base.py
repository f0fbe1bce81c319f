"""The interface every Git host client implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ai_code_reviewer.review.model import Finding

# The "commit" Git names for the side of a ref that does not exist: a push that
# creates a branch comes from it, one that deletes a branch goes to it.
ZERO_HASH = "0" * 40


@dataclass(frozen=True)
class Person:
    """Someone on the Git host: a commit's author, a pull request's reviewer."""

    name: str | None
    email: str | None


@dataclass(frozen=True)
class Change:
    """A commit or pull request as fetched: its diff and who made it.

    ``truncated`` names what the host left out of the diff it sent: the paths
    of files it cut, or "the diff" when it left out whole files.
    """

    diff: str
    author: Person
    title: str | None = None
    url: str | None = None
    reviewers: tuple[Person, ...] = field(default_factory=tuple)
    truncated: tuple[str, ...] = ()


@dataclass(frozen=True)
class Commit:
    """A commit's metadata: who wrote it and what it says."""

    id: str
    author: Person
    message: str
    parents: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """Return the first line of the message."""
        return self.message.split("\n", 1)[0].strip()


@dataclass(frozen=True)
class PushedCommits:
    """The commits a push added, oldest first, and whether more were left out."""

    commits: tuple[Commit, ...]
    more: bool


@dataclass(frozen=True)
class Target:
    """Where a review belongs on the Git host."""

    project_key: str
    repo_slug: str
    commit_id: str | None = None
    pr_id: int | None = None


@dataclass(frozen=True)
class Publication:
    """A stored review as the Git host is to show it.

    ``markdown`` is the whole review (the summary comment); ``findings`` are
    the structured findings, those with a line being on lines the change added.
    """

    review_id: int
    markdown: str
    summary: str
    findings: tuple[Finding, ...] = ()


class GitHost(Protocol):
    """Fetch changes from a Git host and publish reviews back to it."""

    name: str

    async def fetch_commit(self, target: Target) -> Change:
        """Return the commit at ``target.commit_id`` with its unified diff.

        Raises:
            NotFound: no such repository or commit.
            RateLimited: the host asked to slow down.
            GitHostError: any other refusal.
        """
        ...

    async def fetch_pull_request(self, target: Target, since: str | None) -> Change:
        """Return the pull request's diff (only what came after ``since`` if set)."""
        ...

    async def list_pushed_commits(
        self, project: str, repo: str, since: str | None, until: str, limit: int
    ) -> PushedCommits:
        """Return the commits a push added (merges left out), oldest first.

        ``since`` is the branch's old head; None or forty zeros (a new branch)
        means the commits not on the default branch. At most ``limit`` are
        returned; ``more`` says that others were left out.
        """
        ...

    async def fetch_range(
        self, project: str, repo: str, since: str, until: str
    ) -> Change:
        """Return the combined diff of the commits after ``since`` up to ``until``."""
        ...

    async def publish(self, target: Target, publication: Publication) -> str:
        """Post the review where developers look; return what was done.

        Publishing is idempotent: a second call for the same review or a later
        review of the same pull request edits or skips what is already there.
        """
        ...

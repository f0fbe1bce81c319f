"""Client of GitHub's REST API: read changes, publish review summaries.

Paths and shapes follow GitHub's REST reference (API version 2022-11-28):
``GET /repos/{owner}/{repo}/commits/{sha}``, ``/pulls/{number}`` and
``/compare/{base}...{head}``, each also answering a unified diff to
``Accept: application/vnd.github.diff``; lists paged with ``per_page`` and
the ``Link`` header. A pull request gets one summary comment (the issue
comments API) edited in place on every later review; it is found by a hidden
marker. Commits get nothing published on GitHub: commit comments notify
everyone watching and cannot be replaced cleanly, so a commit's review
reaches its author by email only.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from ai_code_reviewer.errors import GitHostError, NotFound, RateLimited
from ai_code_reviewer.githost.base import (
    ZERO_HASH,
    Change,
    Commit,
    Person,
    Publication,
    PushedCommits,
    Target,
)
from ai_code_reviewer.githost.fields import object_or_empty, required, text_or_none
from ai_code_reviewer.githost.http import (
    USER_AGENT,
    HostHttp,
    HostIdentity,
    check_http_url,
    linked_pages,
    quota_wait,
    server_message,
    tls_verify,
)
from ai_code_reviewer.githost.summary import CommentThread, put_summary
from ai_code_reviewer.settings import Settings

logger = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
_DIFF = {"Accept": "application/vnd.github.diff"}


@dataclass(frozen=True)
class PullRequest:
    """A GitHub pull request's metadata as the reviews need it."""

    number: int
    title: str
    author_login: str | None
    reviewer_logins: tuple[str, ...]
    draft: bool
    head_sha: str
    url: str | None


class GitHubClient:
    """Read commits and pull requests from GitHub, publish review summaries."""

    name = "github"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        verify: ssl.SSLContext | bool = True,
        timeout: float = 30.0,
        pr_comment: bool = True,
    ) -> None:
        """Prepare one connection pool to the API at ``base_url``."""
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": USER_AGENT,
        }
        self.identity = HostIdentity("GitHub", "GITHUB_TOKEN", token)
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            verify=verify,
            timeout=timeout,
            event_hooks={"response": [self._refuse_over_quota]},
        )
        self.http = HostHttp(self.client, self.identity)
        self.pr_comment = pr_comment
        self._people: dict[str, Person] = {}

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()

    async def check(self) -> str:
        """Return the token's remaining request quota, proving URL and token work.

        ``GET /rate_limit`` answers any kind of token and costs no quota.
        """
        data = await self.http.json("GET", "/rate_limit", what="GitHub's rate limit")
        core = (
            data.get("resources", {}).get("core", {}) if isinstance(data, dict) else {}
        )
        left = core.get("remaining") if isinstance(core, dict) else None
        return f"GitHub accepted the token; {left} requests left this hour"

    async def _refuse_over_quota(self, response: httpx.Response) -> None:
        """Raise RateLimited for a 403 or 429 that says a rate limit is spent.

        GitHub answers 403, not 429, to most requests over a limit; without
        this hook they would read as a refused token.
        """
        if response.status_code not in (403, 429):
            return
        wait = quota_wait(response.headers)
        if wait is None:
            return
        await response.aread()
        message = server_message(response.text, self.identity.secret)
        path = response.request.url.path
        raise RateLimited(
            f"GitHub is rate limiting (HTTP {response.status_code}) on {path}: "
            f"{message}",
            wait,
        )

    async def fetch_commit(self, target: Target) -> Change:
        """Return the commit at ``target.commit_id`` with its unified diff."""
        commit_id = required(target.commit_id, "a commit id")
        repo = _repo(target.project_key, target.repo_slug)
        url = f"{repo}/commits/{quote(commit_id, safe='')}"
        what = f"commit {commit_id} in {target.project_key}/{target.repo_slug}"
        data = await self.http.json("GET", url, what=what)
        commit = _commit(data)
        diff = await self._text(url, f"the diff of {what}")
        return Change(diff, commit.author, commit.title, _html_url(data))

    async def commit(self, owner: str, repo: str, commit_id: str) -> Commit:
        """Return a commit's author, message and parents."""
        url = _repo(owner, repo) + f"/commits/{quote(commit_id, safe='')}"
        what = f"commit {commit_id} in {owner}/{repo}"
        return _commit(await self.http.json("GET", url, what=what))

    async def _text(self, url: str, what: str) -> str:
        """Return the unified diff GitHub answers at ``url``."""
        response = await self.http.request("GET", url, what=what, headers=_DIFF)
        return response.text

    async def pull_request(self, target: Target) -> PullRequest:
        """Return a pull request's title, author, reviewers, draft flag and head."""
        pr_id = required(target.pr_id, "a pull request id")
        url = _repo(target.project_key, target.repo_slug) + f"/pulls/{pr_id}"
        return _pull_request(await self.http.json("GET", url, what=_pr_what(target)))

    async def fetch_pull_request(self, target: Target, since: str | None) -> Change:
        """Return the pull request's diff, only what came after ``since`` if set."""
        pull_request = await self.pull_request(target)
        repo = _repo(target.project_key, target.repo_slug)
        what = f"the diff of {_pr_what(target)}"
        if since:
            url = f"{repo}/compare/{since}...{pull_request.head_sha}"
        else:
            url = f"{repo}/pulls/{pull_request.number}"
        diff = await self._text(url, what)
        reviewers = [await self.person(login) for login in pull_request.reviewer_logins]
        return Change(
            diff,
            await self.person(pull_request.author_login),
            pull_request.title,
            pull_request.url,
            tuple(reviewers),
        )

    async def person(self, login: str | None) -> Person:
        """Return a user's name and public email (``GET /users/{login}``).

        A user who cannot be read is named by the login, with no email.
        """
        if not login:
            return Person(None, None)
        if login not in self._people:
            what = f"the user {login}"
            try:
                data = await self.http.json("GET", f"/users/{quote(login)}", what=what)
            except NotFound:
                data = {}
            self._people[login] = Person(
                text_or_none(data.get("name")) or login, text_or_none(data.get("email"))
            )
        return self._people[login]

    async def list_pushed_commits(
        self, project: str, repo: str, since: str | None, until: str, limit: int
    ) -> PushedCommits:
        """Return the commits a push added, merges left out, oldest first.

        ``since`` None or forty zeros (a new branch) means the commits not on
        the default branch. The compare endpoint lists them oldest first; at
        most ``limit`` are returned, the oldest, as Bitbucket's client does,
        so that what is left out is always the range from the last one listed
        to the push's head, new branch or not; ``more`` says that later
        commits were left out (also when the pages read did not reach the end).
        """
        if not since or since == ZERO_HASH:
            since = await self.default_branch(project, repo)
        url = _repo(project, repo) + f"/compare/{since}...{until}"
        what = f"the commits pushed to {project}/{repo}"
        found: list[Commit] = []
        complete = True
        async for page in linked_pages(self.http, url, what=what, key="commits"):
            found.extend(_commit(item) for item in page.values)
            complete = page.last
        commits = [c for c in found if len(c.parents) < 2]
        more = len(commits) > limit or not complete
        return PushedCommits(tuple(commits[:limit]), more)

    async def default_branch(self, owner: str, repo: str) -> str:
        """Return the name of the repository's default branch."""
        what = f"the repository {owner}/{repo}"
        data = await self.http.json("GET", _repo(owner, repo), what=what)
        branch = data.get("default_branch") if isinstance(data, dict) else None
        if not isinstance(branch, str) or not branch:
            raise GitHostError(f"GitHub named no default branch for {owner}/{repo}.")
        return branch

    async def fetch_range(
        self, project: str, repo: str, since: str, until: str
    ) -> Change:
        """Return the combined diff of the commits after ``since`` up to ``until``."""
        head = await self.commit(project, repo, until)
        url = _repo(project, repo) + f"/compare/{since}...{until}"
        diff = await self._text(url, f"the diff of {since}...{until} in {repo}")
        title = f"Commits {since[:12]}..{until[:12]}"
        return Change(diff, head.author, title)

    async def publish(self, target: Target, publication: Publication) -> str:
        """Put the review summary on the pull request; commits get nothing.

        Return "published", or "skipped" for a commit or when
        PUBLISH_PR_COMMENT is off.
        """
        if target.pr_id is None or not self.pr_comment:
            return "skipped"
        repo = _repo(target.project_key, target.repo_slug)
        thread = CommentThread(
            list_url=f"{repo}/issues/{target.pr_id}/comments",
            edit_url=f"{repo}/issues/comments/{{id}}",
            edit_method="PATCH",
            noun=f"comment on {_pr_what(target)}",
        )
        return await put_summary(self.http, thread, publication.markdown)


def build_github_client(settings: Settings) -> GitHubClient | None:
    """Return the GitHub client GITHUB_TOKEN enables, or None when it is unset.

    Raises:
        ConfigError: GITHUB_URL is not an http(s) address, or the CA bundle
            cannot be read.
    """
    token = settings.github_token
    if token is None or not token.get_secret_value():
        return None
    check_http_url(settings.github_url, "GITHUB_URL")
    verify = tls_verify(
        settings.github_verify_tls, settings.github_ca_bundle, "GITHUB_CA_BUNDLE"
    )
    return GitHubClient(
        settings.github_url,
        token.get_secret_value(),
        verify=verify,
        timeout=settings.githost_timeout,
        pr_comment=settings.publish_pr_comment,
    )


def _repo(owner: str, repo: str) -> str:
    return f"/repos/{quote(owner, safe='')}/{quote(repo, safe='')}"


def _pr_what(target: Target) -> str:
    return f"pull request {target.pr_id} in {target.project_key}/{target.repo_slug}"


def _html_url(data: Any) -> str | None:
    return text_or_none(data.get("html_url")) if isinstance(data, dict) else None


def _commit(data: Any) -> Commit:
    """Read a commit object (``GET commits/{sha}`` or an item of a compare)."""
    if not isinstance(data, dict) or not isinstance(data.get("sha"), str):
        raise GitHostError("GitHub answered with a commit that has no sha.")
    inner = object_or_empty(data.get("commit"))
    author = object_or_empty(inner.get("author"))
    parents = data.get("parents") or []
    return Commit(
        id=data["sha"],
        author=Person(
            text_or_none(author.get("name")), text_or_none(author.get("email"))
        ),
        message=str(inner.get("message") or ""),
        parents=tuple(p["sha"] for p in parents if isinstance(p, dict) and "sha" in p),
    )


def _login(user: Any) -> str | None:
    return text_or_none(user.get("login")) if isinstance(user, dict) else None


def _pull_request(data: Any) -> PullRequest:
    """Read a pull request object (``GET /repos/{o}/{r}/pulls/{n}``)."""
    if not isinstance(data, dict) or not isinstance(data.get("number"), int):
        raise GitHostError("GitHub answered with a pull request that has no number.")
    head = object_or_empty(data.get("head"))
    reviewers = [_login(u) for u in data.get("requested_reviewers") or []]
    return PullRequest(
        number=data["number"],
        title=str(data.get("title") or ""),
        author_login=_login(data.get("user")),
        reviewer_logins=tuple(r for r in reviewers if r),
        draft=data.get("draft") is True,
        head_sha=str(head.get("sha") or ""),
        url=_html_url(data),
    )

"""Client of Bitbucket Data Center's REST API: read changes, publish reviews.

Paths and shapes follow Atlassian's Bitbucket Data Center REST reference
(``/rest/api/1.0``, 9.x): commits and their diffs, pull requests and their
diffs, paged lists with ``start``, ``limit``, ``isLastPage`` and
``nextPageStart``, and the ``{"errors": [{"message"}]}`` error envelope. One
``httpx.AsyncClient`` carries the Bearer token, the TLS settings and the
timeout; :mod:`ai_code_reviewer.githost.http` maps every failure to the
project's exceptions, and :mod:`ai_code_reviewer.githost.bitbucket_publish`
posts the reviews back.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from ai_code_reviewer.errors import ConfigError, GitHostError, NotFound
from ai_code_reviewer.githost.base import (
    ZERO_HASH,
    Change,
    Commit,
    Person,
    Publication,
    PushedCommits,
    Target,
)
from ai_code_reviewer.githost.bitbucket_publish import (
    BitbucketPublisher,
    PublishOptions,
    RepoPaths,
)
from ai_code_reviewer.githost.fields import required
from ai_code_reviewer.githost.http import (
    USER_AGENT,
    HostHttp,
    HostIdentity,
    check_http_url,
    tls_verify,
)
from ai_code_reviewer.review.bitbucket_diff import (
    parse_bitbucket_diff,
    to_unified_diff,
)
from ai_code_reviewer.settings import Settings

logger = logging.getLogger(__name__)

_TEXT = {"Accept": "text/plain"}


@dataclass(frozen=True)
class Branch:
    """A branch: its full ref id, its short name and the commit it points at."""

    id: str
    display_id: str
    latest_commit: str | None


@dataclass(frozen=True)
class PullRequest:
    """A pull request's metadata as the reviews need it."""

    id: int
    title: str
    author: Person
    reviewers: tuple[Person, ...]
    draft: bool
    state: str
    source_commit: str
    source_branch: str
    target_branch: str


class BitbucketClient:
    """Read commits and pull requests from Bitbucket Data Center, publish reviews."""

    name = "bitbucket"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        verify: ssl.SSLContext | bool = True,
        timeout: float = 30.0,
        options: PublishOptions | None = None,
    ) -> None:
        """Prepare one connection pool to the server at ``base_url``."""
        self.base_url = base_url.rstrip("/")
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        self.client = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, verify=verify, timeout=timeout
        )
        identity = HostIdentity("Bitbucket", "BITBUCKET_TOKEN", token)
        self.http = HostHttp(self.client, identity)
        self.publisher = BitbucketPublisher(self.http, options or PublishOptions())

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()

    def paths(self, project: str, repo: str) -> RepoPaths:
        """Return the REST and web addresses of a repository."""
        return RepoPaths.of(self.base_url, project, repo)

    async def fetch_commit(self, target: Target) -> Change:
        """Return the commit at ``target.commit_id`` with its unified diff."""
        commit_id = required(target.commit_id, "a commit id")
        paths = self.paths(target.project_key, target.repo_slug)
        commit = await self.commit(target.project_key, target.repo_slug, commit_id)
        diff = await self._commit_diff(paths, commit_id, _commit_what(target))
        url = f"{paths.web}/commits/{quote(commit_id, safe='')}"
        return Change(
            diff.text, commit.author, commit.title, url, truncated=diff.truncated
        )

    async def commit(self, project: str, repo: str, commit_id: str) -> Commit:
        """Return a commit's author, message and parents."""
        paths = self.paths(project, repo)
        url = f"{paths.api}/commits/{quote(commit_id, safe='')}"
        what = f"commit {commit_id} in {project}/{repo}"
        return _commit(await self.http.json("GET", url, what=what))

    async def _commit_diff(
        self, paths: RepoPaths, commit_id: str, what: str
    ) -> DiffText:
        """Return a commit's diff as unified text."""
        url = f"{paths.api}/commits/{quote(commit_id, safe='')}/diff"
        return await self._diff_text(url, f"the diff of {what}")

    async def _diff_text(self, url: str, what: str) -> DiffText:
        """Return the diff at ``url`` as unified text.

        ``Accept: text/plain`` asks for git's unified diff; a server that
        answers with the JSON diff model anyway is read and written back.
        """
        response = await self.http.request("GET", url, what=what, headers=_TEXT)
        return _diff_answer(response, what)

    async def pull_request(self, target: Target) -> PullRequest:
        """Return a pull request's author, reviewers, title, draft flag and refs."""
        pr_id = required(target.pr_id, "a pull request id")
        paths = self.paths(target.project_key, target.repo_slug)
        url = f"{paths.api}/pull-requests/{pr_id}"
        return _pull_request(await self.http.json("GET", url, what=_pr_what(target)))

    async def fetch_pull_request(self, target: Target, since: str | None) -> Change:
        """Return the pull request's diff, only what came after ``since`` if set."""
        pull_request = await self.pull_request(target)
        paths = self.paths(target.project_key, target.repo_slug)
        url = f"{paths.api}/pull-requests/{pull_request.id}"
        what = f"the diff of {_pr_what(target)}"
        if since:
            diff = await self._range_diff(url, since, pull_request.source_commit, what)
        else:
            diff = await self._diff_text(f"{url}.diff", what)
        return Change(
            diff.text,
            pull_request.author,
            pull_request.title,
            f"{paths.web}/pull-requests/{pull_request.id}",
            pull_request.reviewers,
            diff.truncated,
        )

    async def _range_diff(
        self, url: str, since: str, until: str, what: str
    ) -> DiffText:
        """Return what the pull request's source gained from ``since`` to ``until``.

        ``GET pull-requests/{id}/diff?sinceId=&untilId=`` (Atlassian REST
        reference, "Stream a diff within a pull request") rather than
        ``compare/diff``: it is asked of the pull request, so it also finds
        the commits of a pull request opened from a fork, which the target
        repository's compare endpoint does not hold. It answers JSON only.
        """
        params = {"sinceId": since, "untilId": until}
        answer = await self.http.json("GET", f"{url}/diff", what=what, params=params)
        return _unified(answer, what)

    async def check(self) -> str:
        """Return Bitbucket's version, proving that the URL and the token work.

        Bitbucket answers 401 to a wrong token on any endpoint, even on this
        one, which it otherwise serves to anonymous users too.
        """
        url = f"{self.base_url}/rest/api/1.0/application-properties"
        data = await self.http.json("GET", url, what="Bitbucket's version")
        version = data.get("version") if isinstance(data, dict) else None
        return f"Bitbucket {version or 'of unknown version'} accepted the token"

    async def default_branch(self, project: str, repo: str) -> Branch:
        """Return the repository's default branch and the commit it points at.

        Raises:
            NotFound: no such repository, or it has no default branch yet.
        """
        url = f"{self.paths(project, repo).api}/branches/default"
        what = f"the default branch of {project}/{repo}"
        data = await self.http.json("GET", url, what=what)
        latest = data.get("latestCommit")
        return Branch(
            str(data.get("id", "")),
            str(data.get("displayId", "")),
            latest if isinstance(latest, str) else None,
        )

    async def list_pushed_commits(
        self, project: str, repo: str, since: str | None, until: str, limit: int
    ) -> PushedCommits:
        """Return the commits a push added, merges left out, oldest first.

        ``since`` is the branch's old head; None or forty zeros (a new branch)
        means the commits not on the default branch. At most ``limit`` are
        returned, the oldest; ``more`` says that later ones were left out (also
        when the list was longer than the pages read, the oldest being unseen).
        """
        if not since or since == ZERO_HASH:
            since = await self._default_head(project, repo)
        params = {"until": until, "merges": "exclude"}
        if since:
            params["since"] = since
        url = f"{self.paths(project, repo).api}/commits"
        what = f"the commits pushed to {project}/{repo}"
        newest_first: list[Any] = []
        complete = True
        async for page in self.http.pages(url, what=what, params=params):
            newest_first.extend(page.values)
            complete = page.last
        commits = [_commit(item) for item in reversed(newest_first)]
        more = len(commits) > limit or not complete
        return PushedCommits(tuple(commits[:limit]), more)

    async def fetch_range(
        self, project: str, repo: str, since: str, until: str
    ) -> Change:
        """Return the combined diff of the commits after ``since`` up to ``until``.

        ``GET commits/{until}/diff?since={since}`` with ``Accept: text/plain``
        (Atlassian REST reference, "Get diff between revisions") gives one
        unified diff of the whole range. The author is the newest listed
        commit's; the title counts the commits (merges left out).
        """
        paths = self.paths(project, repo)
        url = f"{paths.api}/commits/{quote(until, safe='')}/diff"
        what = f"the commits after {since[:12]} up to {until[:12]} in {project}/{repo}"
        response = await self.http.request(
            "GET",
            url,
            what=f"the diff of {what}",
            headers=_TEXT,
            params={"since": since},
        )
        diff = _diff_answer(response, f"the diff of {what}")
        count, newest = await self._range_commits(project, repo, since, until, what)
        noun = "commit" if count == "1" else "commits"
        title = f"{count} {noun} since {since[:11]}"
        web = f"{paths.web}/commits/{quote(until, safe='')}"
        author = newest.author if newest else Person(None, None)
        return Change(diff.text, author, title, web, truncated=diff.truncated)

    async def _range_commits(
        self, project: str, repo: str, since: str, until: str, what: str
    ) -> tuple[str, Commit | None]:
        """Return how many commits a range holds (``N+`` when cut) and its newest."""
        params = {"since": since, "until": until, "merges": "exclude"}
        url = f"{self.paths(project, repo).api}/commits"
        count, newest, complete = 0, None, True
        async for page in self.http.pages(url, what=what, params=params):
            if newest is None and page.values:
                newest = _commit(page.values[0])
            count += len(page.values)
            complete = page.last
        return (str(count) if complete else f"{count}+"), newest

    async def _default_head(self, project: str, repo: str) -> str | None:
        """Return the default branch's head, or None when the repository has none."""
        try:
            branch = await self.default_branch(project, repo)
        except NotFound:
            return None
        return branch.latest_commit

    async def publish(self, target: Target, publication: Publication) -> str:
        """Publish the review as the PUBLISH_* settings ask; see bitbucket_publish.

        A target with a pull request id gets comments; a commit target gets a
        Code Insights report and the build status.
        """
        paths = self.paths(target.project_key, target.repo_slug)
        return await self.publisher.publish(paths, target, publication)


def build_bitbucket_client(settings: Settings) -> BitbucketClient | None:
    """Return the client BITBUCKET_URL names, or None when it is unset.

    Raises:
        ConfigError: the URL is not http(s), the token is missing, or the CA
            bundle cannot be read.
    """
    if not settings.bitbucket_url:
        return None
    check_http_url(settings.bitbucket_url, "BITBUCKET_URL")
    token = settings.bitbucket_token
    if token is None or not token.get_secret_value():
        raise ConfigError(
            "BITBUCKET_URL is set but BITBUCKET_TOKEN is not: Bitbucket needs an "
            "HTTP access token with repository read (and write to publish)."
        )
    verify = tls_verify(
        settings.bitbucket_verify_tls,
        settings.bitbucket_ca_bundle,
        "BITBUCKET_CA_BUNDLE",
    )
    return BitbucketClient(
        settings.bitbucket_url,
        token.get_secret_value(),
        verify=verify,
        timeout=settings.githost_timeout,
        options=PublishOptions.from_settings(settings),
    )


def _commit_what(target: Target) -> str:
    return f"commit {target.commit_id} in {target.project_key}/{target.repo_slug}"


def _pr_what(target: Target) -> str:
    return f"pull request {target.pr_id} in {target.project_key}/{target.repo_slug}"


@dataclass(frozen=True)
class DiffText:
    """A diff as unified text, and what Bitbucket left out of it (JSON answers)."""

    text: str
    truncated: tuple[str, ...] = ()


def _diff_answer(response: httpx.Response, what: str) -> DiffText:
    """Return a diff answer as unified text, whether it came as text or JSON."""
    if "json" not in response.headers.get("content-type", ""):
        return DiffText(response.text)
    try:
        payload = response.json()
    except ValueError:
        raise GitHostError(f"Bitbucket answered {what} with broken JSON.") from None
    return _unified(payload, what)


def _unified(payload: Any, what: str) -> DiffText:
    """Write a JSON diff answer as unified text; an empty diff is empty text."""
    if isinstance(payload, dict) and payload.get("diffs") == []:
        return DiffText("")
    parsed = parse_bitbucket_diff(payload)
    if parsed.truncated:
        logger.warning(
            "githost.diff_truncated",
            extra={"what": what, "files": list(parsed.truncated)},
        )
    return DiffText(to_unified_diff(parsed.diff), parsed.truncated)


def _person(user: Any) -> Person:
    """Return the person of a Bitbucket user or commit author object."""
    if not isinstance(user, dict):
        return Person(None, None)
    name = user.get("displayName") or user.get("name")
    email = user.get("emailAddress")
    return Person(
        name if isinstance(name, str) else None,
        email if isinstance(email, str) and email else None,
    )


def _commit(data: Any) -> Commit:
    """Read a commit object (``GET commits/{id}`` or an item of ``GET commits``)."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise GitHostError("Bitbucket answered with a commit that has no id.")
    parents = data.get("parents") or []
    return Commit(
        id=data["id"],
        author=_person(data.get("author")),
        message=str(data.get("message") or ""),
        parents=tuple(p["id"] for p in parents if isinstance(p, dict) and "id" in p),
    )


def _pull_request(data: Any) -> PullRequest:
    """Read a pull request object (``GET pull-requests/{id}``)."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise GitHostError("Bitbucket answered with a pull request that has no id.")
    source, target = _ref(data.get("fromRef")), _ref(data.get("toRef"))
    reviewers = data.get("reviewers") or []
    return PullRequest(
        id=data["id"],
        title=str(data.get("title") or ""),
        author=_person(_user_of(data.get("author"))),
        reviewers=tuple(_person(_user_of(r)) for r in reviewers),
        draft=data.get("draft") is True,
        state=str(data.get("state") or ""),
        source_commit=str(source.get("latestCommit") or ""),
        source_branch=str(source.get("displayId") or source.get("id") or ""),
        target_branch=str(target.get("displayId") or target.get("id") or ""),
    )


def _ref(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _user_of(participant: Any) -> Any:
    """Return the user of a pull request participant ``{user, role, ...}``."""
    return participant.get("user") if isinstance(participant, dict) else None

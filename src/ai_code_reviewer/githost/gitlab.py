"""Client of GitLab's REST API (v4): read changes, publish review summaries.

Paths and shapes follow GitLab's REST reference: a project is named by its
URL-encoded ``namespace/project`` path; commits (``repository/commits/{sha}``
and its ``/diff``), merge requests (``merge_requests/{iid}`` and its
``/diffs``, or ``/changes`` before GitLab 15.7) and ``repository/compare``.
GitLab answers diffs as JSON lists of files, each with the hunks of one file
and its new, deleted and renamed flags; :func:`unified_diff` writes them as
git's unified text. Lists are paged with ``per_page`` and ``X-Next-Page``
or ``Link``. A merge request gets one summary note, edited in place on every
later review and found by a hidden marker; commits get nothing published.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Sequence
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
from ai_code_reviewer.githost.fields import required, text_or_none
from ai_code_reviewer.githost.http import (
    USER_AGENT,
    HostHttp,
    HostIdentity,
    check_http_url,
    linked_pages,
    tls_verify,
)
from ai_code_reviewer.githost.summary import CommentThread, put_summary
from ai_code_reviewer.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MergeRequest:
    """A GitLab merge request's metadata as the reviews need it."""

    iid: int
    title: str
    author: dict[str, Any]
    reviewers: tuple[dict[str, Any], ...]
    draft: bool
    head_sha: str
    url: str | None


class GitLabClient:
    """Read commits and merge requests from GitLab, publish review summaries."""

    name = "gitlab"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        verify: ssl.SSLContext | bool = True,
        timeout: float = 30.0,
        pr_comment: bool = True,
    ) -> None:
        """Prepare one connection pool to the GitLab server at ``base_url``."""
        headers = {
            "PRIVATE-TOKEN": token,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        self.client = httpx.AsyncClient(
            base_url=f"{base_url.rstrip('/')}/api/v4",
            headers=headers,
            verify=verify,
            timeout=timeout,
        )
        identity = HostIdentity("GitLab", "GITLAB_TOKEN", token)
        self.http = HostHttp(self.client, identity)
        self.pr_comment = pr_comment
        self._people: dict[int, Person] = {}

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()

    async def check(self) -> str:
        """Return GitLab's version; the endpoint needs a valid token."""
        data = await self.http.json("GET", "/version", what="GitLab's version")
        version = data.get("version") if isinstance(data, dict) else None
        return f"GitLab {version or 'of unknown version'} accepted the token"

    async def fetch_commit(self, target: Target) -> Change:
        """Return the commit at ``target.commit_id`` with its unified diff."""
        commit_id = required(target.commit_id, "a commit id")
        url = f"{_project(target.project_key, target.repo_slug)}/repository/commits/"
        url += quote(commit_id, safe="")
        what = f"commit {commit_id} in {target.project_key}/{target.repo_slug}"
        data = await self.http.json("GET", url, what=what)
        commit = _commit(data)
        files = await self._file_diffs(f"{url}/diff", f"the diff of {what}")
        return Change(
            unified_diff(files, what), commit.author, commit.title, _web(data)
        )

    async def commit(self, project: str, repo: str, commit_id: str) -> Commit:
        """Return a commit's author, message and parents."""
        url = (
            f"{_project(project, repo)}/repository/commits/{quote(commit_id, safe='')}"
        )
        what = f"commit {commit_id} in {project}/{repo}"
        return _commit(await self.http.json("GET", url, what=what))

    async def _file_diffs(self, url: str, what: str) -> list[Any]:
        """Return every file diff of a paged diff list."""
        files: list[Any] = []
        async for page in linked_pages(self.http, url, what=what):
            files.extend(page.values)
        return files

    async def merge_request(self, target: Target) -> MergeRequest:
        """Return a merge request's title, author, reviewers, draft flag and head."""
        iid = required(target.pr_id, "a merge request iid")
        url = f"{_project(target.project_key, target.repo_slug)}/merge_requests/{iid}"
        return _merge_request(await self.http.json("GET", url, what=_mr_what(target)))

    async def fetch_pull_request(self, target: Target, since: str | None) -> Change:
        """Return the merge request's diff, only what came after ``since`` if set."""
        merge_request = await self.merge_request(target)
        project = _project(target.project_key, target.repo_slug)
        what = f"the diff of {_mr_what(target)}"
        if since:
            files = await self._compare_files(project, since, merge_request.head_sha)
        else:
            files = await self._merge_request_files(project, merge_request.iid, what)
        reviewers = [await self.person(user) for user in merge_request.reviewers]
        return Change(
            unified_diff(files, what),
            await self.person(merge_request.author),
            merge_request.title,
            merge_request.url,
            tuple(reviewers),
        )

    async def _merge_request_files(
        self, project: str, iid: int, what: str
    ) -> list[Any]:
        """Return the merge request's file diffs: ``/diffs``, else ``/changes``."""
        url = f"{project}/merge_requests/{iid}"
        try:
            return await self._file_diffs(f"{url}/diffs", what)
        except NotFound:
            logger.info("githost.gitlab_changes_fallback", extra={"iid": iid})
        data = await self.http.json("GET", f"{url}/changes", what=what)
        changes = data.get("changes") if isinstance(data, dict) else None
        if not isinstance(changes, list):
            raise GitHostError(f"GitLab answered {what} without its changes.")
        return changes

    async def _compare(self, project: str, since: str, until: str) -> dict[str, Any]:
        """Return ``repository/compare`` from ``since`` to ``until``."""
        what = f"the comparison {since}..{until}"
        params = {"from": since, "to": until}
        url = f"{project}/repository/compare"
        data = await self.http.json("GET", url, what=what, params=params)
        if not isinstance(data, dict):
            raise GitHostError(f"GitLab answered {what} with something else.")
        return data

    async def _compare_files(self, project: str, since: str, until: str) -> list[Any]:
        diffs = (await self._compare(project, since, until)).get("diffs")
        return diffs if isinstance(diffs, list) else []

    async def person(self, user: dict[str, Any]) -> Person:
        """Return a user's name and public email (``GET /users/{id}``).

        A user who cannot be read is named as the merge request shows them.
        """
        name = text_or_none(user.get("name")) or text_or_none(user.get("username"))
        user_id = user.get("id")
        if not isinstance(user_id, int):
            return Person(name, None)
        if user_id not in self._people:
            try:
                data = await self.http.json(
                    "GET", f"/users/{user_id}", what=f"the user {user_id}"
                )
            except NotFound:
                data = {}
            email = (
                text_or_none(data.get("public_email"))
                if isinstance(data, dict)
                else None
            )
            self._people[user_id] = Person(name, email)
        return self._people[user_id]

    async def list_pushed_commits(
        self, project: str, repo: str, since: str | None, until: str, limit: int
    ) -> PushedCommits:
        """Return the commits a push added, merges left out, oldest first.

        ``since`` None or forty zeros (a new branch) means the commits not on
        the default branch. At most ``limit`` are returned, the oldest, as
        Bitbucket's client does, so that what is left out is always the range
        from the last one listed to the push's head, new branch or not.
        """
        path = _project(project, repo)
        if not since or since == ZERO_HASH:
            since = await self.default_branch(project, repo)
        listed = (await self._compare(path, since, until)).get("commits") or []
        commits = [c for c in (_commit(item) for item in listed) if len(c.parents) < 2]
        return PushedCommits(tuple(commits[:limit]), len(commits) > limit)

    async def default_branch(self, project: str, repo: str) -> str:
        """Return the name of the project's default branch."""
        what = f"the project {project}/{repo}"
        data = await self.http.json("GET", _project(project, repo), what=what)
        branch = data.get("default_branch") if isinstance(data, dict) else None
        if not isinstance(branch, str) or not branch:
            raise GitHostError(f"GitLab named no default branch for {project}/{repo}.")
        return branch

    async def fetch_range(
        self, project: str, repo: str, since: str, until: str
    ) -> Change:
        """Return the combined diff of the commits after ``since`` up to ``until``."""
        head = await self.commit(project, repo, until)
        files = await self._compare_files(_project(project, repo), since, until)
        what = f"the diff of {since}..{until} in {project}/{repo}"
        title = f"Commits {since[:12]}..{until[:12]}"
        return Change(unified_diff(files, what), head.author, title)

    async def publish(self, target: Target, publication: Publication) -> str:
        """Put the review summary on the merge request; commits get nothing.

        Return "published", or "skipped" for a commit or when
        PUBLISH_PR_COMMENT is off.
        """
        if target.pr_id is None or not self.pr_comment:
            return "skipped"
        project = _project(target.project_key, target.repo_slug)
        notes = f"{project}/merge_requests/{target.pr_id}/notes"
        thread = CommentThread(
            list_url=notes,
            edit_url=f"{notes}/{{id}}",
            edit_method="PUT",
            noun=f"note on {_mr_what(target)}",
        )
        return await put_summary(self.http, thread, publication.markdown)


def build_gitlab_client(settings: Settings) -> GitLabClient | None:
    """Return the client GITLAB_URL names, or None when it is unset.

    Raises:
        ConfigError: the URL is not http(s), GITLAB_TOKEN is missing, or the CA
            bundle cannot be read.
    """
    if not settings.gitlab_url:
        return None
    check_http_url(settings.gitlab_url, "GITLAB_URL")
    token = settings.gitlab_token
    if token is None or not token.get_secret_value():
        raise ConfigError(
            "GITLAB_URL is set but GITLAB_TOKEN is not: GitLab needs an access "
            "token with the api scope (read_api to review without publishing)."
        )
    verify = tls_verify(
        settings.gitlab_verify_tls, settings.gitlab_ca_bundle, "GITLAB_CA_BUNDLE"
    )
    return GitLabClient(
        settings.gitlab_url,
        token.get_secret_value(),
        verify=verify,
        timeout=settings.githost_timeout,
        pr_comment=settings.publish_pr_comment,
    )


def unified_diff(files: Sequence[Any], what: str = "a diff") -> str:
    """Write GitLab's file diffs (``diff``, paths, flags) as git's unified text."""
    parts = [_file_text(item) for item in files if isinstance(item, dict)]
    cut = [
        str(item.get("new_path"))
        for item in files
        if isinstance(item, dict) and (item.get("too_large") or item.get("collapsed"))
    ]
    if cut:
        logger.warning("githost.diff_truncated", extra={"what": what, "files": cut})
    return "".join(parts)


def _file_text(item: dict[str, Any]) -> str:
    """Write one file of a GitLab diff with the headers git would write."""
    old = str(item.get("old_path") or item.get("new_path") or "")
    new = str(item.get("new_path") or old)
    lines = [f"diff --git a/{old} b/{new}"]
    before, after = f"a/{old}", f"b/{new}"
    if item.get("new_file"):
        lines.append(f"new file mode {item.get('b_mode') or '100644'}")
        before = "/dev/null"
    elif item.get("deleted_file"):
        lines.append(f"deleted file mode {item.get('a_mode') or '100644'}")
        after = "/dev/null"
    elif item.get("renamed_file"):
        lines.extend([f"rename from {old}", f"rename to {new}"])
    hunks = str(item.get("diff") or "")
    if hunks.startswith("@@"):
        lines.extend([f"--- {before}", f"+++ {after}"])
    text = "\n".join(lines) + "\n"
    if hunks:
        text += hunks if hunks.endswith("\n") else hunks + "\n"
    return text


def _project(project: str, repo: str) -> str:
    """Return the API path of a project, its full path URL-encoded as one segment."""
    return f"/projects/{quote(f'{project}/{repo}', safe='')}"


def _mr_what(target: Target) -> str:
    return f"merge request !{target.pr_id} in {target.project_key}/{target.repo_slug}"


def _web(data: Any) -> str | None:
    return text_or_none(data.get("web_url")) if isinstance(data, dict) else None


def _commit(data: Any) -> Commit:
    """Read a commit object (``GET repository/commits/{sha}`` or a compare item)."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise GitHostError("GitLab answered with a commit that has no id.")
    parents = data.get("parent_ids") or []
    return Commit(
        id=data["id"],
        author=Person(
            text_or_none(data.get("author_name")),
            text_or_none(data.get("author_email")),
        ),
        message=str(data.get("message") or data.get("title") or ""),
        parents=tuple(p for p in parents if isinstance(p, str)),
    )


def _user(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _merge_request(data: Any) -> MergeRequest:
    """Read a merge request object (``GET merge_requests/{iid}``)."""
    if not isinstance(data, dict) or not isinstance(data.get("iid"), int):
        raise GitHostError("GitLab answered with a merge request that has no iid.")
    draft = data.get("draft") is True or data.get("work_in_progress") is True
    return MergeRequest(
        iid=data["iid"],
        title=str(data.get("title") or ""),
        author=_user(data.get("author")),
        reviewers=tuple(_user(r) for r in data.get("reviewers") or []),
        draft=draft,
        head_sha=str(data.get("sha") or ""),
        url=_web(data),
    )

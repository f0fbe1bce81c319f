"""A fake GitLab REST API (v4) on loopback, built on tests.githubserver's server.

Like every :class:`tests.githubserver.LoopbackServer`, it speaks HTTPS when
given a certificate and its key.

It holds projects with commits (author, message, parents, unified diff),
branches, merge requests with their notes, and users, and answers the paths
the client uses in GitLab's documented shapes: a project named by its id or
its URL-encoded ``namespace/project`` path (an unencoded path is a 404, as on
GitLab); diffs as JSON lists of files (``diff``, ``old_path``, ``new_path``,
``new_file``, ``deleted_file``, ``renamed_file``); lists paged with
``page``/``per_page`` and the ``X-Next-Page``, ``X-Page``, ``X-Total`` and
``Link`` headers; ``{"message": "404 ... Not Found"}`` errors and 401 for a
wrong ``PRIVATE-TOKEN``. ``legacy`` True answers as GitLab before 15.7, which
had no ``merge_requests/{iid}/diffs``. :func:`push_hook` and
:func:`merge_request_hook` build the webhook bodies GitLab sends for what the
fake holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ai_code_reviewer.review.diff import parse_unified_diff
from tests.githubserver import (
    ALL_METHODS,
    Endpoint,
    LoopbackServer,
    Refusal,
    link_header,
    page_of,
)

TOKEN = "glpat-fakeGitLabToken-0123456789"
API = "/api/v4"
PROJECT = API + "/projects/{pid:path}"
_NUMBERS = itertools.count(1)
_EPOCH = 1_736_000_000


@dataclass(frozen=True)
class FakeGitLabUser:
    """A GitLab account; ``public_email`` empty when the user shows none."""

    username: str
    name: str
    public_email: str
    id: int = field(default_factory=lambda: next(_NUMBERS))

    def brief(self) -> dict[str, Any]:
        """Return the user as it appears inside other objects."""
        return {"id": self.id, "username": self.username, "name": self.name}


ALICE = FakeGitLabUser("alice", "Alice Liddell", "alice@example.com")
BOB = FakeGitLabUser("bob", "Bob Builder", "")


@dataclass
class FakeGitLabCommit:
    """A commit, its author's commit identity, and its unified diff."""

    id: str
    author_name: str
    author_email: str
    message: str
    parents: list[str]
    diff: str
    timestamp: int

    def json(self, web: str) -> dict[str, Any]:
        """Return the commit as ``GET repository/commits/{sha}`` answers it."""
        when = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(self.timestamp))
        return {
            "id": self.id,
            "short_id": self.id[:8],
            "title": self.message.split("\n", 1)[0],
            "message": self.message,
            "author_name": self.author_name,
            "author_email": self.author_email,
            "authored_date": when,
            "committer_name": self.author_name,
            "committer_email": self.author_email,
            "committed_date": when,
            "parent_ids": list(self.parents),
            "web_url": f"{web}/-/commit/{self.id}",
        }


@dataclass
class FakeMergeRequest:
    """A merge request, its diff, and its notes in posting order."""

    iid: int
    title: str
    author: FakeGitLabUser
    reviewers: list[FakeGitLabUser]
    source: str
    target: str
    diff: str
    draft: bool = False
    notes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeProject:
    """One project: commits, branches and merge requests."""

    namespace: str
    path: str
    id: int = field(default_factory=lambda: next(_NUMBERS))
    default_branch: str = "main"
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, FakeGitLabCommit] = field(default_factory=dict)
    merge_requests: dict[int, FakeMergeRequest] = field(default_factory=dict)

    @property
    def full_path(self) -> str:
        """Return ``namespace/path``."""
        return f"{self.namespace}/{self.path}"

    def add_commit(
        self,
        message: str,
        diff: str,
        *,
        branch: str = "main",
        author: FakeGitLabUser = ALICE,
        parents: list[str] | None = None,
    ) -> str:
        """Add a commit on top of ``branch`` (or of ``parents``); return its id."""
        if parents is None:
            parents = [self.branches[branch]] if branch in self.branches else []
        number = next(_NUMBERS)
        sha = hashlib.sha1(f"{number}:{message}".encode()).hexdigest()  # noqa: S324
        email = author.public_email or f"{author.username}@users.example"
        self.commits[sha] = FakeGitLabCommit(
            sha, author.name, email, message, parents, diff, _EPOCH + number
        )
        self.branches[branch] = sha
        return sha

    def add_merge_request(
        self,
        title: str,
        source: str,
        diff: str,
        *,
        author: FakeGitLabUser = ALICE,
        reviewers: tuple[FakeGitLabUser, ...] = (BOB,),
        draft: bool = False,
    ) -> FakeMergeRequest:
        """Open a merge request from ``source`` into the default branch."""
        iid = len(self.merge_requests) + 1
        merge_request = FakeMergeRequest(
            iid,
            title,
            author,
            list(reviewers),
            source,
            self.default_branch,
            diff,
            draft,
        )
        self.merge_requests[iid] = merge_request
        return merge_request

    def resolve(self, name: str) -> str:
        """Return the commit a sha or branch name names; 404 when none."""
        if name in self.branches:
            return self.branches[name]
        if name in self.commits:
            return name
        raise Refusal(404, "404 Commit Not Found")

    def between(self, since: str, until: str) -> list[FakeGitLabCommit]:
        """Return the commits after ``since`` up to ``until``, oldest first."""
        added = self._ancestors(self.resolve(until)) - self._ancestors(
            self.resolve(since)
        )
        return sorted((self.commits[c] for c in added), key=lambda c: c.timestamp)

    def _ancestors(self, sha: str) -> set[str]:
        seen, todo = set(), [sha]
        while todo:
            current = todo.pop()
            if current not in seen and current in self.commits:
                seen.add(current)
                todo.extend(self.commits[current].parents)
        return seen


class FakeGitLabServer(LoopbackServer):
    """Serve GitLab's REST API v4 on 127.0.0.1 from in-memory state."""

    label = "GitLab"

    def __init__(
        self,
        token: str = TOKEN,
        page_size: int = 2,
        tls: tuple[str, str] | None = None,
    ) -> None:
        """Prepare the server; pages hold at most ``page_size`` items."""
        self.token = token
        self.page_size = page_size
        self.projects: dict[str, FakeProject] = {}
        self.users: dict[int, FakeGitLabUser] = {u.id: u for u in (ALICE, BOB)}
        self.next_note = itertools.count(500)
        self.legacy = False
        self.send_links = True
        super().__init__(tls)

    def add_project(self, namespace: str, path: str) -> FakeProject:
        """Create an empty project."""
        project = FakeProject(namespace, path)
        self.projects[project.full_path] = project
        return project

    def error(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        """Return an error in GitLab's shape."""
        text = "401 Unauthorized" if status == 401 else message
        return JSONResponse({"message": text}, status, headers=headers)

    def authorized(self, request: Request) -> bool:
        """Tell whether the request carries the right ``PRIVATE-TOKEN``."""
        return request.headers.get("private-token") == self.token

    def routes(self) -> list[Route]:
        """Return the REST paths the fake answers; anything else is a 404."""
        mr = PROJECT + "/merge_requests/{iid:int}"
        table: list[tuple[str, Endpoint, list[str]]] = [
            (PROJECT + "/repository/commits/{sha}", self._commit, ["GET"]),
            (PROJECT + "/repository/commits/{sha}/diff", self._commit_diff, ["GET"]),
            (PROJECT + "/repository/compare", self._compare, ["GET"]),
            (mr, self._merge_request, ["GET"]),
            (mr + "/diffs", self._mr_diffs, ["GET"]),
            (mr + "/changes", self._mr_changes, ["GET"]),
            (mr + "/notes", self._notes, ["GET", "POST"]),
            (mr + "/notes/{nid:int}", self._edit_note, ["PUT"]),
            (API + "/users/{uid:int}", self._user, ["GET"]),
            (API + "/version", self._version, ["GET"]),
            (PROJECT, self._project, ["GET"]),
        ]
        routes = [Route(p, self.endpoint(h), methods=m) for p, h, m in table]
        routes.append(Route("/{rest:path}", self.unknown, methods=ALL_METHODS))
        return routes

    async def _version(self, request: Request) -> Response:
        return JSONResponse({"version": "17.5.1-ee", "revision": "0123abcd"})

    def project_of(self, request: Request) -> FakeProject:
        """Return the project the path names by id or by encoded path."""
        pid = request.path_params["pid"]
        raw = bytes(request.scope.get("raw_path") or b"").upper()
        if "/" in pid and b"%2F" not in raw:
            raise Refusal(404, "404 Not Found")
        for project in self.projects.values():
            if pid in (project.full_path, str(project.id)):
                return project
        raise Refusal(404, "404 Project Not Found")

    def paged(self, request: Request, values: list[Any]) -> Response:
        """Answer one page of ``values`` with GitLab's paging headers."""
        chunk, following = page_of(request, values, self.page_size)
        headers = {
            "X-Page": request.query_params.get("page", "1"),
            "X-Per-Page": str(self.page_size),
            "X-Total": str(len(values)),
            "X-Next-Page": str(following or ""),
        }
        if self.send_links:
            headers.update(link_header(request, following))
        return JSONResponse(chunk, headers=headers)

    def web(self, project: FakeProject) -> str:
        """Return the project's web address."""
        return f"{self.base_url}/{project.full_path}"

    async def _project(self, request: Request) -> Response:
        project = self.project_of(request)
        return JSONResponse(
            {
                "id": project.id,
                "path": project.path,
                "path_with_namespace": project.full_path,
                "default_branch": project.default_branch,
                "web_url": self.web(project),
            }
        )

    async def _commit(self, request: Request) -> Response:
        project = self.project_of(request)
        commit = project.commits[project.resolve(request.path_params["sha"])]
        return JSONResponse(commit.json(self.web(project)))

    async def _commit_diff(self, request: Request) -> Response:
        project = self.project_of(request)
        commit = project.commits[project.resolve(request.path_params["sha"])]
        return self.paged(request, file_diffs(commit.diff))

    async def _compare(self, request: Request) -> Response:
        project = self.project_of(request)
        since = request.query_params.get("from")
        until = request.query_params.get("to")
        if not since or not until:
            raise Refusal(400, "from, to are missing")
        commits = project.between(since, until)
        web = self.web(project)
        body = {
            "commit": commits[-1].json(web) if commits else None,
            "commits": [c.json(web) for c in commits],
            "diffs": file_diffs("".join(c.diff for c in commits)),
            "compare_timeout": False,
            "compare_same_ref": since == until,
            "web_url": f"{web}/-/compare/{since}...{until}",
        }
        return JSONResponse(body)

    def _known(self, request: Request) -> tuple[FakeProject, FakeMergeRequest]:
        project = self.project_of(request)
        merge_request = project.merge_requests.get(request.path_params["iid"])
        if merge_request is None:
            raise Refusal(404, "404 Not found")
        return project, merge_request

    def merge_request_json(
        self, project: FakeProject, merge_request: FakeMergeRequest
    ) -> dict[str, Any]:
        """Return a merge request as ``GET merge_requests/{iid}`` answers it."""
        return {
            "id": 10_000 + merge_request.iid,
            "iid": merge_request.iid,
            "project_id": project.id,
            "title": merge_request.title,
            "state": "opened",
            "draft": merge_request.draft,
            "work_in_progress": merge_request.draft,
            "author": merge_request.author.brief(),
            "reviewers": [u.brief() for u in merge_request.reviewers],
            "source_branch": merge_request.source,
            "target_branch": merge_request.target,
            "sha": project.branches.get(merge_request.source),
            "web_url": f"{self.web(project)}/-/merge_requests/{merge_request.iid}",
        }

    async def _merge_request(self, request: Request) -> Response:
        project, merge_request = self._known(request)
        return JSONResponse(self.merge_request_json(project, merge_request))

    async def _mr_diffs(self, request: Request) -> Response:
        if self.legacy:
            raise Refusal(404, "404 Not Found")
        _, merge_request = self._known(request)
        return self.paged(request, file_diffs(merge_request.diff))

    async def _mr_changes(self, request: Request) -> Response:
        project, merge_request = self._known(request)
        body = self.merge_request_json(project, merge_request)
        return JSONResponse({**body, "changes": file_diffs(merge_request.diff)})

    async def _notes(self, request: Request) -> Response:
        _, merge_request = self._known(request)
        if request.method == "GET":
            return self.paged(request, list(reversed(merge_request.notes)))
        body = await request.json()
        if not isinstance(body.get("body"), str) or not body["body"].strip():
            raise Refusal(400, "400 Bad request - body is missing")
        note = {
            "id": next(self.next_note),
            "body": body["body"],
            "system": False,
            "author": {"username": "ai-reviewer-bot"},
        }
        merge_request.notes.append(note)
        return JSONResponse(note, 201)

    async def _edit_note(self, request: Request) -> Response:
        _, merge_request = self._known(request)
        for note in merge_request.notes:
            if note["id"] == request.path_params["nid"]:
                note["body"] = (await request.json())["body"]
                return JSONResponse(note)
        raise Refusal(404, "404 Not found")

    async def _user(self, request: Request) -> Response:
        user = self.users.get(request.path_params["uid"])
        if user is None:
            raise Refusal(404, "404 User Not Found")
        return JSONResponse({**user.brief(), "public_email": user.public_email})


def file_diffs(text: str) -> list[dict[str, Any]]:
    """Return a unified diff as GitLab's list of file diffs."""
    if not text.strip():
        return []
    blocks = ["diff --git " + b for b in text.split("diff --git ") if b.strip()]
    return [_file_diff(block) for block in blocks]


def _file_diff(block: str) -> dict[str, Any]:
    """Return one file of a unified diff as GitLab shows it."""
    file = parse_unified_diff(block).files[0]
    start = block.find("\n@@")
    return {
        "diff": block[start + 1 :] if start >= 0 else "",
        "old_path": file.old_path or file.new_path,
        "new_path": file.new_path or file.old_path,
        "a_mode": "0" if file.old_path is None else "100644",
        "b_mode": "0" if file.new_path is None else "100644",
        "new_file": file.status == "added",
        "deleted_file": file.status == "deleted",
        "renamed_file": file.status == "renamed",
        "generated_file": False,
    }


ZERO_SHA = "0" * 40
PUSH_LISTED = 20


def project_json(server: FakeGitLabServer, project: FakeProject) -> dict[str, Any]:
    """Return the project as a webhook body holds it."""
    return {
        "id": project.id,
        "name": project.path,
        "namespace": project.namespace,
        "path_with_namespace": project.full_path,
        "default_branch": project.default_branch,
        "web_url": server.web(project),
    }


def push_hook(
    server: FakeGitLabServer,
    project: FakeProject,
    branch: str,
    before: str,
    after: str,
) -> dict[str, Any]:
    """Return the ``Push Hook`` body of ``branch`` moved from ``before`` to ``after``.

    As GitLab does, ``commits`` holds at most the newest 20 of what the push
    added (oldest first, merges included); ``total_commits_count`` counts all.
    """
    base = project.default_branch if before == ZERO_SHA else before
    added = project.between(base, after)
    commits = [
        {
            "id": c.id,
            "message": c.message,
            "title": c.message.split("\n", 1)[0],
            "author": {"name": c.author_name, "email": c.author_email},
        }
        for c in added[-PUSH_LISTED:]
    ]
    return {
        "object_kind": "push",
        "event_name": "push",
        "before": before,
        "after": after,
        "ref": f"refs/heads/{branch}",
        "checkout_sha": after,
        "user_username": ALICE.username,
        "project_id": project.id,
        "project": project_json(server, project),
        "commits": commits,
        "total_commits_count": len(added),
    }


def merge_request_hook(
    server: FakeGitLabServer,
    project: FakeProject,
    merge_request: FakeMergeRequest,
    action: str,
    **attributes: Any,
) -> dict[str, Any]:
    """Return a ``Merge Request Hook`` body holding the merge request as it is now."""
    head = project.branches[merge_request.source]
    values: dict[str, Any] = {
        **server.merge_request_json(project, merge_request),
        "action": action,
        "source_project_id": project.id,
        "target_project_id": project.id,
        "last_commit": {"id": head},
        **attributes,
    }
    return {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": merge_request.author.brief(),
        "project": project_json(server, project),
        "object_attributes": values,
    }


@contextlib.contextmanager
def serving(
    token: str = TOKEN, tls: tuple[str, str] | None = None
) -> Iterator[FakeGitLabServer]:
    """Run a fake GitLab server (HTTPS with ``tls``) for the block, then stop it."""
    server = FakeGitLabServer(token, tls=tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()

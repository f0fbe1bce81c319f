"""A fake Bitbucket Data Center server on loopback that speaks its REST API.

It holds repositories with commits (author, message, parents, a unified
diff), branches and a default branch, pull requests with their comments and
activities, Code Insights reports with annotations, and build statuses, and
answers the REST paths the client uses in Atlassian's documented JSON shapes:
paged lists (``start``, ``limit``, ``isLastPage``, ``nextPageStart``, with a
small page size so that lists take several pages), the JSON diff model or
``text/plain`` diffs, and the ``{"errors": [...]}`` envelope: 401 for a wrong
token, 404 for anything unknown, 409 for a comment edited from a stale
version. Failures are scriptable: the next N requests answer 429 with
Retry-After or 500, or come late. Every request is recorded (method, path,
query, headers, JSON body). It is a Starlette app run by uvicorn in a
background thread on a free port of 127.0.0.1, over HTTPS when given a
certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ai_code_reviewer.review.diff import parse_unified_diff
from ai_code_reviewer.review.model import FileDiff, Hunk

TOKEN = "BBDC-fake-token-Zx81Qm02"
API = "/rest/api/1.0/projects/{key}/repos/{slug}"
INSIGHTS = "/rest/insights/1.0/projects/{key}/repos/{slug}/commits/{cid}/reports/{rk}"
ALL_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"]
_EPOCH_MS = 1_736_000_000_000
_NUMBERS = itertools.count(1)


class Refusal(Exception):
    """An error answer a handler gives, in Bitbucket's error envelope."""

    def __init__(self, status: int, message: str, exception: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.exception = exception


def envelope(
    status: int, message: str, exception: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Return an error answer in Bitbucket's envelope."""
    error = {"context": None, "message": message, "exceptionName": exception}
    return JSONResponse({"errors": [error]}, status, headers=headers)


@dataclass(frozen=True)
class FakeUser:
    """A Bitbucket user; ``mapped`` False is a commit identity with no account."""

    name: str
    display_name: str
    email: str
    mapped: bool = True
    id: int = field(default_factory=lambda: next(_NUMBERS))

    def json(self) -> dict[str, Any]:
        """Return the user as Bitbucket shows it."""
        if not self.mapped:
            return {"name": self.name, "emailAddress": self.email}
        return {
            "name": self.name,
            "emailAddress": self.email,
            "id": self.id,
            "displayName": self.display_name,
            "active": True,
            "slug": self.name,
            "type": "NORMAL",
        }


ADA = FakeUser("ada", "Ada Lovelace", "ada@example.com")
GRACE = FakeUser("grace", "Grace Hopper", "grace@example.com")
BOT = FakeUser("ai-reviewer", "AI Reviewer", "ai-reviewer@example.com")


@dataclass
class FakeCommit:
    """A commit and the unified diff against its first parent."""

    id: str
    author: FakeUser
    message: str
    parents: list[str]
    diff: str
    timestamp: int

    def json(self) -> dict[str, Any]:
        """Return the commit as ``GET commits/{id}`` answers it."""
        return {
            "id": self.id,
            "displayId": self.id[:11],
            "author": self.author.json(),
            "authorTimestamp": self.timestamp,
            "committer": self.author.json(),
            "committerTimestamp": self.timestamp,
            "message": self.message,
            "parents": [{"id": p, "displayId": p[:11]} for p in self.parents],
        }


@dataclass
class FakePullRequest:
    """A pull request with its comments and activities (newest first)."""

    id: int
    title: str
    author: FakeUser
    reviewers: list[FakeUser]
    source_branch: str
    target_branch: str
    diff: str
    draft: bool = False
    state: str = "OPEN"
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    activities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeRepository:
    """One repository: commits, branches, pull requests, reports and builds."""

    project: str
    slug: str
    id: int = field(default_factory=lambda: next(_NUMBERS))
    default_branch: str | None = "main"
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, FakeCommit] = field(default_factory=dict)
    pull_requests: dict[int, FakePullRequest] = field(default_factory=dict)
    reports: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    annotations: dict[tuple[str, str], list[dict[str, Any]]] = field(
        default_factory=dict
    )
    builds: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add_commit(
        self,
        message: str,
        diff: str,
        *,
        branch: str = "main",
        author: FakeUser = ADA,
        parents: list[str] | None = None,
    ) -> str:
        """Add a commit on top of ``branch`` (or of ``parents``); return its id."""
        if parents is None:
            parents = [self.branches[branch]] if branch in self.branches else []
        number = next(_NUMBERS)
        commit_id = hashlib.sha1(f"{number}:{message}".encode()).hexdigest()  # noqa: S324
        timestamp = _EPOCH_MS + number * 1000
        self.commits[commit_id] = FakeCommit(
            commit_id, author, message, parents, diff, timestamp
        )
        self.branches[branch] = commit_id
        return commit_id

    def add_pull_request(
        self,
        title: str,
        source_branch: str,
        diff: str,
        *,
        author: FakeUser = ADA,
        reviewers: tuple[FakeUser, ...] = (GRACE,),
        draft: bool = False,
    ) -> FakePullRequest:
        """Open a pull request from ``source_branch`` into the default branch."""
        number = len(self.pull_requests) + 1
        pull_request = FakePullRequest(
            number,
            title,
            author,
            list(reviewers),
            source_branch,
            self.default_branch or "main",
            diff,
            draft,
        )
        opened = {"id": next(_NUMBERS), "action": "OPENED", "user": author.json()}
        pull_request.activities.append({**opened, "createdDate": _now_ms()})
        self.pull_requests[number] = pull_request
        return pull_request

    def resolve(self, name: str) -> str:
        """Return the commit a commit id, branch name or ``refs/heads/`` ref names."""
        branch = name.removeprefix("refs/heads/")
        if branch in self.branches:
            return self.branches[branch]
        if name in self.commits:
            return name
        message = f"Commit '{name}' does not exist in repository '{self.slug}'."
        raise Refusal(
            404, message, "com.atlassian.bitbucket.commit.NoSuchCommitException"
        )

    def ancestors(self, commit_id: str) -> set[str]:
        """Return ``commit_id`` and every commit it descends from."""
        seen, todo = set(), [commit_id]
        while todo:
            current = todo.pop()
            if current not in seen and current in self.commits:
                seen.add(current)
                todo.extend(self.commits[current].parents)
        return seen

    def range_diff(self, since: str, until: str) -> str:
        """Return the diffs of the commits after ``since`` up to ``until``, joined."""
        added = self.ancestors(self.resolve(until)) - self.ancestors(
            self.resolve(since)
        )
        commits = sorted((self.commits[c] for c in added), key=lambda c: c.timestamp)
        return "".join(c.diff for c in commits)

    def json(self) -> dict[str, Any]:
        """Return the repository as Bitbucket shows it."""
        project = {"key": self.project, "id": 1, "name": self.project}
        return {"slug": self.slug, "id": self.id, "name": self.slug, "project": project}


@dataclass(frozen=True)
class Recorded:
    """One request the fake server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


@dataclass
class Scripted:
    """An error the next ``count`` requests answer with."""

    status: int
    count: int
    retry_after: str | None = None


Handler = Callable[[Request, FakeRepository], Awaitable[Response]]


class FakeBitbucketServer:
    """Serve Bitbucket Data Center's REST API on 127.0.0.1 from in-memory state."""

    def __init__(
        self,
        token: str = TOKEN,
        tls: tuple[str, str] | None = None,
        page_size: int = 2,
    ) -> None:
        """Prepare the server; ``tls`` is (certificate file, key file) for HTTPS."""
        self.token = token
        self.page_size = page_size
        self.repositories: dict[tuple[str, str], FakeRepository] = {}
        self.requests: list[Recorded] = []
        self.failures: list[Scripted] = []
        self.delays: list[float] = []
        # Answer diffs with the JSON model even to Accept: text/plain.
        self.json_only = False
        # Mark every JSON diff as cut by Bitbucket: its first file and the whole.
        self.truncate_diffs = False
        # The next N comment edits find the comment changed by someone else.
        self.stale_edits = 0
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        host, port = self._socket.getsockname()
        self.base_url = f"{'https' if tls else 'http'}://{host}:{port}"
        config = uvicorn.Config(
            Starlette(routes=self._routes()),
            # Leave logging alone: uvicorn's own config would change the levels
            # of the uvicorn loggers for the whole test process.
            log_config=None,
            lifespan="off",
            ws="none",
            http="h11",
            ssl_certfile=tls[0] if tls else None,
            ssl_keyfile=tls[1] if tls else None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def add_repository(self, project: str, slug: str) -> FakeRepository:
        """Create an empty repository."""
        repository = FakeRepository(project, slug)
        self.repositories[(project, slug)] = repository
        return repository

    def fail_next(
        self, status: int, count: int = 1, retry_after: str | None = None
    ) -> None:
        """Answer the next ``count`` requests with ``status`` (429: Retry-After)."""
        self.failures.append(Scripted(status, count, retry_after))

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Answer the next ``count`` requests only after ``seconds``."""
        self.delays.extend([seconds] * count)

    def sent(self, method: str, path_end: str) -> list[Recorded]:
        """Return the recorded ``method`` requests whose path ends with ``path_end``."""
        return [
            r for r in self.requests if r.method == method and r.path.endswith(path_end)
        ]

    def start(self) -> None:
        """Serve in a background thread; return once the server listens."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake Bitbucket server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving, not waiting for slow replies still asleep."""
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def _routes(self) -> list[Route]:
        """Return the REST paths the fake answers; anything else is a 404."""
        pr = API + "/pull-requests/{pid:int}"
        table: list[tuple[str, Handler, list[str]]] = [
            (API + "/commits", self._commits, ["GET"]),
            (API + "/commits/{cid}", self._commit, ["GET"]),
            (API + "/commits/{cid}/diff", self._commit_diff, ["GET"]),
            (API + "/commits/{cid}/builds", self._post_build, ["POST"]),
            (API + "/branches/default", self._default_branch, ["GET"]),
            (API + "/default-branch", self._default_branch, ["GET"]),
            (pr, self._pull_request, ["GET"]),
            (pr + ".diff", self._pull_request_text, ["GET"]),
            (pr + "/diff", self._pull_request_diff, ["GET"]),
            (pr + "/activities", self._activities, ["GET"]),
            (pr + "/comments", self._post_comment, ["POST"]),
            (pr + "/comments/{cmt:int}", self._comment, ["GET", "PUT"]),
            (INSIGHTS, self._report, ["GET", "PUT", "DELETE"]),
            (INSIGHTS + "/annotations", self._annotations, ["GET", "POST"]),
        ]
        routes = [Route(p, self._endpoint(h), methods=m) for p, h, m in table]
        properties = "/rest/api/1.0/application-properties"
        routes.append(Route(properties, self._properties, methods=["GET"]))
        legacy = "/rest/build-status/1.0/commits/{cid}"
        routes.append(Route(legacy, self._legacy_build, methods=["POST"]))
        routes.append(Route("/{rest:path}", self._unknown, methods=ALL_METHODS))
        return routes

    def _endpoint(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a handler: record, delay, scripted failure, token, repository."""

        async def endpoint(request: Request) -> Response:
            refusal = await self._before(request)
            if refusal is not None:
                return refusal
            params = request.path_params
            repository = self.repositories.get((params["key"], params["slug"]))
            try:
                if repository is None:
                    raise _no_repository(params["key"], params["slug"])
                return await handler(request, repository)
            except Refusal as exc:
                return envelope(exc.status, exc.message, exc.exception)

        return endpoint

    async def _properties(self, request: Request) -> Response:
        """Answer the server's version, as /application-properties does."""
        refusal = await self._before(request)
        if refusal is not None:
            return refusal
        version = {"version": "9.2.0", "buildNumber": "9002000"}
        return JSONResponse({**version, "displayName": "Bitbucket"})

    async def _before(self, request: Request) -> Response | None:
        """Record the request, then answer a scripted failure or a bad token."""
        await self._record(request)
        if self.delays:
            await asyncio.sleep(self.delays.pop(0))
        if self.failures:
            return self._scripted()
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return envelope(
                401,
                "Authentication failed. Please check your credentials and try again.",
                "com.atlassian.bitbucket.AuthorisationException",
            )
        return None

    async def _record(self, request: Request) -> None:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.requests.append(
            Recorded(
                request.method,
                request.url.path,
                dict(request.query_params),
                headers,
                body,
            )
        )

    def _scripted(self) -> Response:
        failure = self.failures[0]
        failure.count -= 1
        if failure.count <= 0:
            self.failures.pop(0)
        if failure.status == 429:
            headers = {"Retry-After": failure.retry_after or "1"}
            message = "You have exceeded the rate limit. Retry later."
            return envelope(
                429,
                message,
                "com.atlassian.bitbucket.ratelimit.RateLimitedException",
                headers,
            )
        return envelope(
            failure.status,
            "An internal error occurred.",
            "java.lang.IllegalStateException",
        )

    async def _unknown(self, request: Request) -> Response:
        refusal = await self._before(request)
        if refusal is not None:
            return refusal
        return envelope(
            404, f"No such resource: {request.url.path}", "NotFoundException"
        )

    async def _legacy_build(self, request: Request) -> Response:
        refusal = await self._before(request)
        if refusal is not None:
            return refusal
        commit = request.path_params["cid"]
        for repository in self.repositories.values():
            if commit in repository.commits:
                return await self._store_build(request, repository, commit)
        return envelope(404, f"Commit {commit} is unknown.", "NoSuchCommitException")

    def page(self, request: Request, items: list[Any]) -> JSONResponse:
        """Answer one page of ``items``, at most ``page_size`` long."""
        start = int(request.query_params.get("start", "0"))
        asked = int(request.query_params.get("limit", "25"))
        limit = max(1, min(asked, self.page_size))
        values = items[start : start + limit]
        body: dict[str, Any] = {
            "size": len(values),
            "limit": limit,
            "isLastPage": start + limit >= len(items),
            "values": values,
            "start": start,
        }
        if not body["isLastPage"]:
            body["nextPageStart"] = start + limit
        return JSONResponse(body)

    async def _commits(self, request: Request, repo: FakeRepository) -> Response:
        query = request.query_params
        until = repo.resolve(query.get("until") or repo.default_branch or "main")
        reachable = repo.ancestors(until)
        if query.get("since"):
            reachable -= repo.ancestors(repo.resolve(query["since"]))
        commits = sorted(
            (repo.commits[c] for c in reachable), key=lambda c: -c.timestamp
        )
        if query.get("merges") == "exclude":
            commits = [c for c in commits if len(c.parents) < 2]
        elif query.get("merges") == "only":
            commits = [c for c in commits if len(c.parents) > 1]
        return self.page(request, [c.json() for c in commits])

    async def _commit(self, request: Request, repo: FakeRepository) -> Response:
        commit_id = _known_commit(repo, request.path_params["cid"])
        return JSONResponse(repo.commits[commit_id].json())

    async def _commit_diff(self, request: Request, repo: FakeRepository) -> Response:
        """Answer a commit's diff, or with ``since`` the diff of the whole range.

        The range is the diffs of its commits joined, oldest first, as for a
        pull request's range: fair while those commits touch different files.
        """
        commit = repo.commits[_known_commit(repo, request.path_params["cid"])]
        since = request.query_params.get("since")
        if not since:
            parent = commit.parents[0] if commit.parents else None
            return self._diff(request, commit.diff, parent, commit.id)
        return self._diff(request, repo.range_diff(since, commit.id), since, commit.id)

    def _diff(
        self, request: Request, text: str, from_hash: str | None, to_hash: str
    ) -> Response:
        """Answer a diff as text when asked and allowed, else as the JSON model."""
        wants_text = "text/plain" in request.headers.get("accept", "")
        if wants_text and not self.json_only:
            return PlainTextResponse(text)
        return JSONResponse(self._model(text, from_hash, to_hash))

    def _model(self, text: str, from_hash: str | None, to_hash: str) -> dict[str, Any]:
        """Return the JSON diff model, cut as Bitbucket cuts one when told to."""
        model = diff_model(text, from_hash, to_hash)
        if self.truncate_diffs and model["diffs"]:
            model["truncated"] = model["diffs"][0]["truncated"] = True
        return model

    async def _default_branch(self, request: Request, repo: FakeRepository) -> Response:
        name = repo.default_branch
        if name is None or name not in repo.branches:
            raise Refusal(
                404,
                f"Repository {repo.slug} does not have a default branch.",
                "com.atlassian.bitbucket.repository.NoDefaultBranchException",
            )
        body: dict[str, Any] = {
            "id": f"refs/heads/{name}",
            "displayId": name,
            "type": "BRANCH",
        }
        if request.url.path.endswith("/branches/default"):
            head = repo.branches[name]
            body.update(latestCommit=head, latestChangeset=head, isDefault=True)
        return JSONResponse(body)

    async def _pull_request(self, request: Request, repo: FakeRepository) -> Response:
        pull_request = _known_pull_request(repo, request.path_params["pid"])
        return JSONResponse(pull_request_json(repo, pull_request))

    async def _pull_request_text(
        self, request: Request, repo: FakeRepository
    ) -> Response:
        pull_request = _known_pull_request(repo, request.path_params["pid"])
        return PlainTextResponse(pull_request.diff)

    async def _pull_request_diff(
        self, request: Request, repo: FakeRepository
    ) -> Response:
        """Answer the pull request's diff, or the range sinceId..untilId of its source.

        The range is the commits' own diffs joined, oldest first: a fair
        stand-in as long as the commits of a range touch different files.
        """
        pull_request = _known_pull_request(repo, request.path_params["pid"])
        since = request.query_params.get("sinceId")
        until = request.query_params.get("untilId")
        head = repo.branches[pull_request.source_branch]
        if not since:
            return JSONResponse(self._model(pull_request.diff, None, head))
        until_id = repo.resolve(until or head)
        text = repo.range_diff(since, until_id)
        return JSONResponse(self._model(text, since, until_id))

    async def _activities(self, request: Request, repo: FakeRepository) -> Response:
        pull_request = _known_pull_request(repo, request.path_params["pid"])
        return self.page(request, list(reversed(pull_request.activities)))

    async def _post_comment(self, request: Request, repo: FakeRepository) -> Response:
        pull_request = _known_pull_request(repo, request.path_params["pid"])
        body = await request.json()
        if not isinstance(body.get("text"), str) or not body["text"].strip():
            raise Refusal(400, "A comment needs text.", "ValidationException")
        anchor = body.get("anchor")
        if anchor is not None:
            _check_anchor(pull_request, anchor)
        comment = _new_comment(body["text"], anchor)
        pull_request.comments[comment["id"]] = comment
        activity: dict[str, Any] = {
            "id": next(_NUMBERS),
            "createdDate": comment["createdDate"],
            "user": BOT.json(),
            "action": "COMMENTED",
            "commentAction": "ADDED",
            "comment": comment,
        }
        if anchor is not None:
            activity["commentAnchor"] = anchor
        pull_request.activities.append(activity)
        return JSONResponse(comment, 201)

    async def _comment(self, request: Request, repo: FakeRepository) -> Response:
        pull_request = _known_pull_request(repo, request.path_params["pid"])
        comment = pull_request.comments.get(request.path_params["cmt"])
        if comment is None:
            raise Refusal(404, "No such comment.", "NoSuchCommentException")
        if request.method == "GET":
            return JSONResponse(comment)
        if self.stale_edits > 0:
            self.stale_edits -= 1
            comment["version"] += 1
        body = await request.json()
        if body.get("version") != comment["version"]:
            raise Refusal(
                409,
                "The comment has changed since it was read; read it again first.",
                "com.atlassian.bitbucket.comment.CommentOutOfDateException",
            )
        comment.update(text=body["text"], updatedDate=_now_ms())
        comment["version"] += 1
        return JSONResponse(comment)

    async def _report(self, request: Request, repo: FakeRepository) -> Response:
        key = (
            _known_commit(repo, request.path_params["cid"]),
            request.path_params["rk"],
        )
        if request.method == "PUT":
            report = _valid_report(await request.json())
            repo.reports[key] = {**report, "key": key[1], "createdDate": _now_ms()}
            repo.annotations.setdefault(key, [])
            return JSONResponse(repo.reports[key])
        if key not in repo.reports:
            raise Refusal(404, "No such report.", "NoSuchInsightReportException")
        if request.method == "DELETE":
            del repo.reports[key]
            repo.annotations.pop(key, None)
            return Response(status_code=204)
        return JSONResponse(repo.reports[key])

    async def _annotations(self, request: Request, repo: FakeRepository) -> Response:
        key = (
            _known_commit(repo, request.path_params["cid"]),
            request.path_params["rk"],
        )
        if key not in repo.reports:
            raise Refusal(404, "No such report.", "NoSuchInsightReportException")
        stored = repo.annotations[key]
        if request.method == "GET":
            return JSONResponse({"annotations": stored, "totalCount": len(stored)})
        items = (await request.json()).get("annotations")
        if not isinstance(items, list) or len(stored) + len(items) > 1000:
            raise Refusal(400, "A report holds at most 1000 annotations.", "Invalid")
        stored.extend(_valid_annotation(item) for item in items)
        return Response(status_code=204)

    async def _post_build(self, request: Request, repo: FakeRepository) -> Response:
        commit = _known_commit(repo, request.path_params["cid"])
        return await self._store_build(request, repo, commit)

    async def _store_build(
        self, request: Request, repo: FakeRepository, commit: str
    ) -> Response:
        body = await request.json()
        if body.get("state") not in ("SUCCESSFUL", "FAILED", "INPROGRESS"):
            raise Refusal(400, "state must be SUCCESSFUL, FAILED or INPROGRESS.", "V")
        if not body.get("key") or not body.get("url"):
            raise Refusal(400, "A build status needs a key and a url.", "V")
        repo.builds.setdefault(commit, []).append(body)
        return Response(status_code=204)


@contextlib.contextmanager
def serving(
    tls: tuple[str, str] | None = None, token: str = TOKEN
) -> Iterator[FakeBitbucketServer]:
    """Run a fake Bitbucket server for the block and stop it afterwards."""
    server = FakeBitbucketServer(token, tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def pull_request_json(
    repo: FakeRepository, pull_request: FakePullRequest
) -> dict[str, Any]:
    """Return a pull request as ``GET pull-requests/{id}`` answers it."""

    def ref(branch: str) -> dict[str, Any]:
        return {
            "id": f"refs/heads/{branch}",
            "displayId": branch,
            "latestCommit": repo.branches.get(branch),
            "type": "BRANCH",
            "repository": repo.json(),
        }

    def participant(user: FakeUser, role: str) -> dict[str, Any]:
        return {
            "user": user.json(),
            "role": role,
            "approved": False,
            "status": "UNAPPROVED",
        }

    return {
        "id": pull_request.id,
        "version": 0,
        "title": pull_request.title,
        "description": "",
        "state": pull_request.state,
        "open": pull_request.state == "OPEN",
        "closed": pull_request.state != "OPEN",
        "draft": pull_request.draft,
        "createdDate": _EPOCH_MS,
        "updatedDate": _EPOCH_MS,
        "fromRef": ref(pull_request.source_branch),
        "toRef": ref(pull_request.target_branch),
        "locked": False,
        "author": participant(pull_request.author, "AUTHOR"),
        "reviewers": [participant(u, "REVIEWER") for u in pull_request.reviewers],
        "participants": [],
    }


def event_body(event_key: str, actor: FakeUser = ADA, **fields: Any) -> dict[str, Any]:
    """Return a webhook body with the key, date and actor every event has.

    Atlassian, "Event payload": the date has an offset without a colon.
    """
    return {
        "eventKey": event_key,
        "date": "2026-12-03T10:00:00+0100",
        "actor": actor.json(),
        **fields,
    }


def ref_change(
    branch: str, from_hash: str, to_hash: str, change_type: str = "UPDATE"
) -> dict[str, Any]:
    """Return one ``changes[]`` item of a push to ``branch``."""
    ref_id = f"refs/heads/{branch}"
    return {
        "ref": {"id": ref_id, "displayId": branch, "type": "BRANCH"},
        "refId": ref_id,
        "fromHash": from_hash,
        "toHash": to_hash,
        "type": change_type,
    }


def push_event(repo: FakeRepository, *changes: dict[str, Any]) -> dict[str, Any]:
    """Return a ``repo:refs_changed`` body, as older servers send it (no commits)."""
    return event_body(
        "repo:refs_changed", repository=repo.json(), changes=list(changes)
    )


def pull_request_event(
    repo: FakeRepository, pull_request: FakePullRequest, event_key: str, **extra: Any
) -> dict[str, Any]:
    """Return a pull request event body holding the pull request as it is now."""
    body = pull_request_json(repo, pull_request)
    return event_body(event_key, pull_request.author, pullRequest=body, **extra)


def comment_event(
    repo: FakeRepository,
    pull_request: FakePullRequest,
    text: str,
    comment_id: int | None = None,
    author: FakeUser = GRACE,
) -> dict[str, Any]:
    """Return a ``pr:comment:added`` body for a comment ``author`` just wrote."""
    comment = {
        "id": comment_id or next(_NUMBERS),
        "version": 0,
        "text": text,
        "author": author.json(),
        "createdDate": _now_ms(),
        "updatedDate": _now_ms(),
        "comments": [],
        "tasks": [],
    }
    body = pull_request_json(repo, pull_request)
    return event_body("pr:comment:added", author, pullRequest=body, comment=comment)


def diff_model(text: str, from_hash: str | None, to_hash: str) -> dict[str, Any]:
    """Return a unified diff as Bitbucket's JSON diff model."""
    files = parse_unified_diff(text).files if text.strip() else ()
    return {
        "fromHash": from_hash,
        "toHash": to_hash,
        "contextLines": 10,
        "whitespace": "SHOW",
        "diffs": [_file_model(f) for f in files],
        "truncated": False,
    }


def _file_model(file: FileDiff) -> dict[str, Any]:
    return {
        "source": _path_model(file.old_path),
        "destination": _path_model(file.new_path),
        "hunks": [_hunk_model(h) for h in file.hunks],
        "truncated": False,
    }


def _path_model(path: str | None) -> dict[str, Any] | None:
    if path is None:
        return None
    parts = path.split("/")
    name = parts[-1]
    model = {
        "components": parts,
        "parent": "/".join(parts[:-1]),
        "name": name,
        "toString": path,
    }
    if "." in name:
        model["extension"] = name.rsplit(".", 1)[1]
    return model


def _hunk_model(hunk: Hunk) -> dict[str, Any]:
    """Group a hunk's lines into segments; number both sides as Bitbucket does."""
    kinds = {"added": "ADDED", "removed": "REMOVED", "context": "CONTEXT"}
    old, new = hunk.old_start, hunk.new_start
    segments: list[dict[str, Any]] = []
    for line in hunk.lines:
        kind = kinds[line.kind]
        if not segments or segments[-1]["type"] != kind:
            segments.append({"type": kind, "lines": [], "truncated": False})
        item = {
            "source": old,
            "destination": new,
            "line": line.text,
            "truncated": False,
        }
        segments[-1]["lines"].append(item)
        old += line.kind != "added"
        new += line.kind != "removed"
    return {
        "sourceLine": hunk.old_start,
        "sourceSpan": hunk.old_count,
        "destinationLine": hunk.new_start,
        "destinationSpan": hunk.new_count,
        "segments": segments,
        "truncated": False,
    }


def _now_ms() -> int:
    return int(time.time() * 1000)


def _no_repository(project: str, slug: str) -> Refusal:
    return Refusal(
        404,
        f"Repository {project}/{slug} does not exist.",
        "com.atlassian.bitbucket.repository.NoSuchRepositoryException",
    )


def _known_commit(repo: FakeRepository, commit_id: str) -> str:
    if commit_id not in repo.commits:
        raise Refusal(
            404,
            f"Commit '{commit_id}' does not exist in repository '{repo.slug}'.",
            "com.atlassian.bitbucket.commit.NoSuchCommitException",
        )
    return commit_id


def _known_pull_request(repo: FakeRepository, pr_id: int) -> FakePullRequest:
    if pr_id not in repo.pull_requests:
        raise Refusal(
            404,
            f"Pull request {pr_id} does not exist in {repo.project}/{repo.slug}.",
            "com.atlassian.bitbucket.pull.NoSuchPullRequestException",
        )
    return repo.pull_requests[pr_id]


def _check_anchor(pull_request: FakePullRequest, anchor: dict[str, Any]) -> None:
    """Refuse an anchor on a line that the pull request's diff does not show."""
    files = parse_unified_diff(pull_request.diff).files
    shown = {
        (f.path, line.new_number)
        for f in files
        for h in f.hunks
        for line in h.lines
        if line.kind != "removed"
    }
    if (
        anchor.get("fileType") != "TO"
        or (anchor.get("path"), anchor.get("line")) not in shown
    ):
        raise Refusal(
            400,
            f"Line {anchor.get('line')} of {anchor.get('path')} is not in the diff.",
            "com.atlassian.bitbucket.comment.InvalidCommentAnchorException",
        )


def _new_comment(text: str, anchor: dict[str, Any] | None) -> dict[str, Any]:
    now = _now_ms()
    comment: dict[str, Any] = {
        "id": next(_NUMBERS),
        "version": 0,
        "text": text,
        "author": BOT.json(),
        "createdDate": now,
        "updatedDate": now,
        "comments": [],
        "tasks": [],
        "properties": {},
    }
    if anchor is not None:
        comment["anchor"] = anchor
    return comment


def _valid_report(body: dict[str, Any]) -> dict[str, Any]:
    """Refuse a report outside the documented limits, as the server does."""
    problems = [
        not isinstance(body.get("title"), str) or len(body["title"]) > 450,
        len(body.get("details") or "") > 2000,
        body.get("result") not in (None, "PASS", "FAIL"),
        len(body.get("data") or []) > 6,
    ]
    if any(problems):
        raise Refusal(400, "The report is not valid.", "ValidationException")
    return body


def _valid_annotation(item: dict[str, Any]) -> dict[str, Any]:
    problems = [
        not isinstance(item.get("message"), str) or len(item["message"]) > 2000,
        item.get("severity") not in ("LOW", "MEDIUM", "HIGH"),
        item.get("type") not in (None, "BUG", "CODE_SMELL", "VULNERABILITY"),
    ]
    if any(problems):
        raise Refusal(400, "The annotation is not valid.", "ValidationException")
    return item

"""A fake GitHub REST API on loopback, and the loopback server it is built on.

:class:`LoopbackServer` runs a Starlette app by uvicorn in a background
thread on a free port of 127.0.0.1 (over HTTPS when given a certificate;
:func:`issue_tls_files` makes one with a throwaway trustme CA), records
every request (method, path, query, headers, JSON body) and answers
scripted failures (the next N requests: a status with headers such as
``retry-after``).
:mod:`tests.gitlabserver` uses it too.

:class:`FakeGitHubServer` holds repositories with commits (author, message,
parents, unified diff), branches, pull requests and their issue comments,
and users, and answers the paths the client uses in GitHub's documented
shapes (REST API 2022-11-28): JSON by default, the unified diff to
``Accept: application/vnd.github.diff``; lists paged with ``per_page`` and
``page`` and a ``Link`` header (pages hold at most ``page_size`` items, so
that lists take several pages); ``{"message", "documentation_url"}`` errors:
401 for a wrong token, 404 for anything unknown, 422 for a comment without
a body. :func:`push_event` and :func:`pull_request_event` build the webhook
bodies GitHub sends for what the fake holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

TOKEN = "ghp_fakeGitHubToken0123456789abcdefXYZ"
DIFF_TYPE = "application/vnd.github.diff"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_NUMBERS = itertools.count(1)
_EPOCH = 1_736_000_000


@dataclass(frozen=True)
class Recorded:
    """One request a fake server received."""

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
    headers: dict[str, str]


class Refusal(Exception):
    """An error answer a handler gives."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Endpoint = Callable[[Request], Awaitable[Response]]


class LoopbackServer:
    """Serve a Starlette app on 127.0.0.1 in a thread, recording every request."""

    label = "fake"

    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        """Bind a free port; ``tls`` is (certificate file, key file) for HTTPS.

        The routes come from :meth:`routes`.
        """
        self.requests: list[Recorded] = []
        self.failures: list[Scripted] = []
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        host, port = self._socket.getsockname()
        self.base_url = f"{'https' if tls else 'http'}://{host}:{port}"
        config = uvicorn.Config(
            Starlette(routes=self.routes()),
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

    def routes(self) -> list[Route]:
        """Return the paths the fake answers."""
        raise NotImplementedError

    def error(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        """Return an error answer in the host's shape."""
        return JSONResponse({"message": message}, status, headers=headers)

    def authorized(self, request: Request) -> bool:
        """Tell whether the request carries the right token."""
        raise NotImplementedError

    def fail_next(
        self, status: int, count: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next ``count`` requests with ``status`` and ``headers``."""
        self.failures.append(Scripted(status, count, headers or {}))

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
                raise RuntimeError(f"the fake {self.label} server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving."""
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def endpoint(self, handler: Endpoint) -> Endpoint:
        """Wrap a handler: record, scripted failure, token, refusals."""

        async def wrapped(request: Request) -> Response:
            await self._record(request)
            if self.failures:
                return self._scripted()
            if not self.authorized(request):
                return self.error(401, "Bad credentials")
            try:
                return await handler(request)
            except Refusal as exc:
                return self.error(exc.status, exc.message)

        return wrapped

    async def unknown(self, request: Request) -> Response:
        """Answer a path the fake does not serve as the host does: 404."""
        await self._record(request)
        return self.error(404, "Not Found")

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
        return self.error(
            failure.status, f"scripted failure {failure.status}", failure.headers
        )


def issue_tls_files(directory: Path) -> tuple[Path, tuple[str, str]]:
    """Write a throwaway CA and a certificate it signed for 127.0.0.1 in ``directory``.

    Return the CA file, and the (certificate file, key file) a server takes.
    """
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    ca_file, cert_file, key_file = (directory / n for n in ("ca.pem", "c.pem", "k.pem"))
    ca.cert_pem.write_to_path(str(ca_file))
    issued.cert_chain_pems[0].write_to_path(str(cert_file))
    issued.private_key_pem.write_to_path(str(key_file))
    return ca_file, (str(cert_file), str(key_file))


def page_of(
    request: Request, values: list[Any], page_size: int
) -> tuple[list[Any], int | None]:
    """Return one page of ``values`` by ``page``/``per_page``, and the next page."""
    page = int(request.query_params.get("page", "1"))
    per_page = min(int(request.query_params.get("per_page", "30")), page_size)
    start = (page - 1) * per_page
    chunk = values[start : start + per_page]
    return chunk, page + 1 if start + per_page < len(values) else None


def link_header(request: Request, next_page: int | None) -> dict[str, str]:
    """Return the ``Link`` header naming the next page, if there is one."""
    if next_page is None:
        return {}
    # The path as sent, still percent-encoded (GitLab's project paths).
    raw = bytes(request.scope.get("raw_path") or request.url.path.encode())
    url = request.url.replace(path=raw.decode()).include_query_params(
        page=str(next_page)
    )
    return {"Link": f'<{url}>; rel="next"'}


@dataclass(frozen=True)
class FakeGitHubUser:
    """A GitHub account; ``email`` None when the user keeps it private."""

    login: str
    name: str | None
    email: str | None
    id: int = field(default_factory=lambda: next(_NUMBERS))

    def brief(self) -> dict[str, Any]:
        """Return the user as it appears inside other objects."""
        return {"login": self.login, "id": self.id, "type": "User"}


OCTO = FakeGitHubUser("octo", "Octo Cat", "octo@example.com")
MONA = FakeGitHubUser("mona", "Mona Lisa", None)


@dataclass
class FakeGitHubCommit:
    """A commit and the unified diff against its first parent."""

    sha: str
    author: FakeGitHubUser
    message: str
    parents: list[str]
    diff: str
    timestamp: int

    def json(self, base_url: str, repo: str) -> dict[str, Any]:
        """Return the commit as ``GET /repos/{o}/{r}/commits/{sha}`` answers it."""
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.timestamp))
        person = {"name": self.author.name, "email": self.author.email, "date": when}
        if self.author.email is None:
            person["email"] = f"{self.author.id}+{self.author.login}@users.noreply"
        return {
            "sha": self.sha,
            "commit": {"author": person, "committer": person, "message": self.message},
            "author": self.author.brief(),
            "committer": self.author.brief(),
            "parents": [{"sha": p} for p in self.parents],
            "html_url": f"{base_url}/{repo}/commit/{self.sha}",
        }


@dataclass
class FakeGitHubPull:
    """A pull request, its diff, and its issue comments in posting order."""

    number: int
    title: str
    author: FakeGitHubUser
    reviewers: list[FakeGitHubUser]
    head: str
    base: str
    diff: str
    draft: bool = False
    comments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeGitHubRepo:
    """One repository: commits, branches and pull requests."""

    owner: str
    name: str
    default_branch: str = "main"
    branches: dict[str, str] = field(default_factory=dict)
    commits: dict[str, FakeGitHubCommit] = field(default_factory=dict)
    pulls: dict[int, FakeGitHubPull] = field(default_factory=dict)
    id: int = field(default_factory=lambda: next(_NUMBERS))

    def add_commit(
        self,
        message: str,
        diff: str,
        *,
        branch: str = "main",
        author: FakeGitHubUser = OCTO,
        parents: list[str] | None = None,
    ) -> str:
        """Add a commit on top of ``branch`` (or of ``parents``); return its sha."""
        if parents is None:
            parents = [self.branches[branch]] if branch in self.branches else []
        number = next(_NUMBERS)
        sha = hashlib.sha1(f"{number}:{message}".encode()).hexdigest()  # noqa: S324
        self.commits[sha] = FakeGitHubCommit(
            sha, author, message, parents, diff, _EPOCH + number
        )
        self.branches[branch] = sha
        return sha

    def add_pull(
        self,
        title: str,
        head: str,
        diff: str,
        *,
        author: FakeGitHubUser = OCTO,
        reviewers: tuple[FakeGitHubUser, ...] = (MONA,),
        draft: bool = False,
    ) -> FakeGitHubPull:
        """Open a pull request from ``head`` into the default branch."""
        number = len(self.pulls) + 1
        pull = FakeGitHubPull(
            number,
            title,
            author,
            list(reviewers),
            head,
            self.default_branch,
            diff,
            draft,
        )
        self.pulls[number] = pull
        return pull

    def resolve(self, name: str) -> str:
        """Return the commit a sha or branch name names; 404 when none."""
        if name in self.branches:
            return self.branches[name]
        if name in self.commits:
            return name
        raise Refusal(404, f"No commit found for SHA: {name}")

    def ancestors(self, sha: str) -> set[str]:
        """Return ``sha`` and every commit it descends from."""
        seen, todo = set(), [sha]
        while todo:
            current = todo.pop()
            if current not in seen and current in self.commits:
                seen.add(current)
                todo.extend(self.commits[current].parents)
        return seen

    def between(self, base: str, head: str) -> list[FakeGitHubCommit]:
        """Return the commits reachable from ``head`` but not ``base``, oldest first."""
        added = self.ancestors(self.resolve(head)) - self.ancestors(self.resolve(base))
        return sorted((self.commits[c] for c in added), key=lambda c: c.timestamp)


class FakeGitHubServer(LoopbackServer):
    """Serve GitHub's REST API on 127.0.0.1 from in-memory state."""

    label = "GitHub"

    def __init__(
        self,
        token: str = TOKEN,
        page_size: int = 2,
        tls: tuple[str, str] | None = None,
    ) -> None:
        """Prepare the server; pages hold at most ``page_size`` items."""
        self.token = token
        self.page_size = page_size
        self.repos: dict[tuple[str, str], FakeGitHubRepo] = {}
        self.users: dict[str, FakeGitHubUser] = {u.login: u for u in (OCTO, MONA)}
        self.next_comment = itertools.count(1000)
        super().__init__(tls)

    def add_repo(self, owner: str, name: str) -> FakeGitHubRepo:
        """Create an empty repository."""
        repo = FakeGitHubRepo(owner, name)
        self.repos[(owner, name)] = repo
        return repo

    def error(
        self, status: int, message: str, headers: dict[str, str] | None = None
    ) -> Response:
        """Return an error in GitHub's shape."""
        body = {"message": message, "documentation_url": "https://docs.github.com/rest"}
        return JSONResponse(body, status, headers=headers)

    def authorized(self, request: Request) -> bool:
        """Tell whether the request carries ``Authorization: Bearer <token>``."""
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def routes(self) -> list[Route]:
        """Return the REST paths the fake answers; anything else is a 404."""
        repo = "/repos/{owner}/{name}"
        table: list[tuple[str, Endpoint, list[str]]] = [
            (repo, self._repo, ["GET"]),
            (repo + "/commits/{sha}", self._commit, ["GET"]),
            (repo + "/compare/{basehead}", self._compare, ["GET"]),
            (repo + "/pulls/{number:int}", self._pull, ["GET"]),
            (repo + "/issues/{number:int}/comments", self._comments, ["GET", "POST"]),
            (repo + "/issues/comments/{cid:int}", self._edit_comment, ["PATCH"]),
            ("/users/{login}", self._user, ["GET"]),
            ("/rate_limit", self._rate_limit, ["GET"]),
        ]
        routes = [Route(p, self.endpoint(h), methods=m) for p, h, m in table]
        routes.append(Route("/{rest:path}", self.unknown, methods=ALL_METHODS))
        return routes

    async def _rate_limit(self, request: Request) -> Response:
        core = {"limit": 5000, "remaining": 4999, "reset": 1_800_000_000, "used": 1}
        return JSONResponse({"resources": {"core": core}, "rate": core})

    def repo_of(self, request: Request) -> FakeGitHubRepo:
        """Return the repository the path names; 404 when there is none."""
        key = (request.path_params["owner"], request.path_params["name"])
        if key not in self.repos:
            raise Refusal(404, "Not Found")
        return self.repos[key]

    def paged(self, request: Request, values: list[Any]) -> Response:
        """Answer one page of ``values`` with its Link header."""
        chunk, following = page_of(request, values, self.page_size)
        return JSONResponse(chunk, headers=link_header(request, following))

    async def _repo(self, request: Request) -> Response:
        repo = self.repo_of(request)
        return JSONResponse(
            {
                "name": repo.name,
                "full_name": f"{repo.owner}/{repo.name}",
                "owner": {"login": repo.owner},
                "default_branch": repo.default_branch,
            }
        )

    async def _commit(self, request: Request) -> Response:
        repo = self.repo_of(request)
        commit = repo.commits[repo.resolve(request.path_params["sha"])]
        if _wants_diff(request):
            return _diff_answer(commit.diff)
        return JSONResponse(commit.json(self.base_url, f"{repo.owner}/{repo.name}"))

    async def _compare(self, request: Request) -> Response:
        repo = self.repo_of(request)
        base, dots, head = request.path_params["basehead"].partition("...")
        if not dots:
            raise Refusal(404, "Not Found")
        commits = repo.between(base, head)
        if _wants_diff(request):
            return _diff_answer("".join(c.diff for c in commits))
        where = f"{repo.owner}/{repo.name}"
        chunk, following = page_of(request, commits, self.page_size)
        body = {
            "status": "ahead",
            "ahead_by": len(commits),
            "behind_by": 0,
            "total_commits": len(commits),
            "commits": [c.json(self.base_url, where) for c in chunk],
            "files": [],
        }
        return JSONResponse(body, headers=link_header(request, following))

    async def _pull(self, request: Request) -> Response:
        repo = self.repo_of(request)
        pull = _known_pull(repo, request.path_params["number"])
        if _wants_diff(request):
            return _diff_answer(pull.diff)
        return JSONResponse(self.pull_json(repo, pull))

    def pull_json(self, repo: FakeGitHubRepo, pull: FakeGitHubPull) -> dict[str, Any]:
        """Return a pull request as ``GET /repos/{o}/{r}/pulls/{n}`` answers it."""

        def ref(branch: str) -> dict[str, Any]:
            return {"ref": branch, "sha": repo.branches.get(branch), "label": branch}

        return {
            "number": pull.number,
            "state": "open",
            "title": pull.title,
            "user": pull.author.brief(),
            "draft": pull.draft,
            "head": ref(pull.head),
            "base": ref(pull.base),
            "requested_reviewers": [u.brief() for u in pull.reviewers],
            "html_url": f"{self.base_url}/{repo.owner}/{repo.name}/pull/{pull.number}",
        }

    async def _comments(self, request: Request) -> Response:
        repo = self.repo_of(request)
        pull = _known_pull(repo, request.path_params["number"])
        if request.method == "GET":
            return self.paged(request, pull.comments)
        body = await request.json()
        if not isinstance(body.get("body"), str) or not body["body"].strip():
            raise Refusal(422, "Validation Failed: body is missing")
        comment = {
            "id": next(self.next_comment),
            "body": body["body"],
            "user": {"login": "ai-reviewer[bot]", "type": "Bot"},
        }
        pull.comments.append(comment)
        return JSONResponse(comment, 201)

    async def _edit_comment(self, request: Request) -> Response:
        repo = self.repo_of(request)
        wanted = request.path_params["cid"]
        for pull in repo.pulls.values():
            for comment in pull.comments:
                if comment["id"] == wanted:
                    comment["body"] = (await request.json())["body"]
                    return JSONResponse(comment)
        raise Refusal(404, "Not Found")

    async def _user(self, request: Request) -> Response:
        user = self.users.get(request.path_params["login"])
        if user is None:
            raise Refusal(404, "Not Found")
        return JSONResponse({**user.brief(), "name": user.name, "email": user.email})


def _wants_diff(request: Request) -> bool:
    return request.headers.get("accept", "") == DIFF_TYPE


def _diff_answer(text: str) -> Response:
    return PlainTextResponse(text, media_type=DIFF_TYPE)


def _known_pull(repo: FakeGitHubRepo, number: int) -> FakeGitHubPull:
    if number not in repo.pulls:
        raise Refusal(404, "Not Found")
    return repo.pulls[number]


ZERO_SHA = "0" * 40


def repository_json(repo: FakeGitHubRepo) -> dict[str, Any]:
    """Return the repository as a webhook body holds it."""
    return {
        "id": repo.id,
        "name": repo.name,
        "full_name": f"{repo.owner}/{repo.name}",
        "owner": {"login": repo.owner, "name": repo.owner, "type": "Organization"},
        "default_branch": repo.default_branch,
    }


def push_event(
    repo: FakeGitHubRepo, branch: str, before: str, after: str
) -> dict[str, Any]:
    """Return the ``push`` body of ``branch`` moved from ``before`` to ``after``.

    ``commits`` lists what the push added (for a new branch, what is not on
    the default branch), oldest first, merges included, as GitHub does.
    """
    base = repo.default_branch if before == ZERO_SHA else before
    added = repo.between(base, after)
    commits = [
        {
            "id": c.sha,
            "distinct": True,
            "message": c.message,
            "author": {"name": c.author.name, "email": c.author.email},
        }
        for c in added
    ]
    return {
        "ref": f"refs/heads/{branch}",
        "before": before,
        "after": after,
        "created": before == ZERO_SHA,
        "deleted": False,
        "forced": False,
        "commits": commits,
        "head_commit": commits[-1] if commits else None,
        "repository": repository_json(repo),
        "pusher": {"name": "octo", "email": "octo@example.com"},
    }


def pull_request_event(
    server: FakeGitHubServer,
    repo: FakeGitHubRepo,
    pull: FakeGitHubPull,
    action: str,
    **extra: Any,
) -> dict[str, Any]:
    """Return a ``pull_request`` body holding the pull request as it is now."""
    return {
        "action": action,
        "number": pull.number,
        "pull_request": server.pull_json(repo, pull),
        "repository": repository_json(repo),
        "sender": pull.author.brief(),
        **extra,
    }


@contextlib.contextmanager
def serving(
    token: str = TOKEN, tls: tuple[str, str] | None = None
) -> Iterator[FakeGitHubServer]:
    """Run a fake GitHub server (HTTPS with ``tls``) for the block, then stop it."""
    server = FakeGitHubServer(token, tls=tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()

"""The running service end to end: deliveries in; reviews, mail, comments out.

The service runs as its users start it (``python -m ai_code_reviewer.api.main``)
against a fake Bitbucket Data Center, a fake OpenAI-compatible model and a
real SMTP server (aiosmtpd), all on loopback. Deliveries are built like
Atlassian's payloads and signed as Bitbucket signs them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bitbucketserver import (
    ADA,
    GRACE,
    TOKEN,
    FakeBitbucketServer,
    FakeRepository,
    pull_request_event,
    push_event,
    ref_change,
)
from tests.bitbucketserver import serving as serving_bitbucket
from tests.integration.test_service import free_port, wait_until_up
from tests.modelservers import Answer, FakeModelServer
from tests.modelservers import serving as serving_model
from tests.smtpserver import SmtpServer
from tests.smtpserver import serving as serving_smtp

SECRET = "e2e-webhook-secret-41"
API_KEY = "sk-e2e-service-7f3a"
WAIT_SECONDS = 60
FINDING = {
    "path": "calc.py",
    "line": 2,
    "end_line": None,
    "severity": "major",
    "category": "bug",
    "title": "Division by zero",
    "body": "count can be 0.",
    "suggestion": None,
}


def new_file(path: str, *lines: str) -> str:
    """Return the git diff that adds ``path`` with ``lines``."""
    body = "".join(f"+{line}\n" for line in lines)
    return (
        f"diff --git a/{path} b/{path}\nnew file mode 100644\n"
        f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}"
    )


@pytest.fixture
def bitbucket() -> Iterator[FakeBitbucketServer]:
    """Yield a fake Bitbucket Data Center."""
    with serving_bitbucket() as server:
        yield server


@pytest.fixture
def model() -> Iterator[FakeModelServer]:
    """Yield a fake model that finds one bug on line 2 of calc.py, every time."""
    with serving_model("openai") as server:
        server.script.extend([Answer("One risky division.", (FINDING,))] * 20)
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """Yield a real SMTP server on loopback."""
    with serving_smtp() as server:
        yield server


@pytest.fixture
def service(
    bitbucket: FakeBitbucketServer,
    model: FakeModelServer,
    smtp: SmtpServer,
    tmp_path: Path,
) -> Iterator[str]:
    """Start the service wired to the fakes; yield its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "SMTP"))}
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'ai_code_reviewer.db'}",
        PORT=str(port),
        WORKER_POLL_INTERVAL="0.1",
        WEBHOOK_SECRET=SECRET,
        BITBUCKET_URL=bitbucket.base_url,
        BITBUCKET_TOKEN=TOKEN,
        LLM_PROVIDER="openai",
        LLM_MODEL="gpt-4o-mini",
        LLM_BASE_URL=f"{model.base_url}/v1",
        LLM_API_KEY=API_KEY,
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp.port),
        SMTP_SECURITY="none",
        EMAIL_FROM="Code Review <review@example.com>",
        LOG_LEVEL="WARNING",
    )
    log = (tmp_path / "service.log").open("wb")
    command = [sys.executable, "-m", "ai_code_reviewer.api.main"]
    process = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, process)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def deliver(
    base: str, event_key: str, body: dict[str, Any], delivery_id: str, sign: bool = True
) -> httpx.Response:
    """POST a delivery with Bitbucket's headers, signed with the webhook secret."""
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Event-Key": event_key,
        "X-Request-Id": delivery_id,
    }
    if sign:
        digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature"] = f"sha256={digest}"
    return httpx.post(f"{base}/api/webhooks/bitbucket", content=raw, headers=headers)


def wait_for(check: Callable[[], bool], what: str) -> None:
    """Poll ``check`` until it holds, or fail naming ``what``."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def reviews(base: str) -> list[dict[str, Any]]:
    """Return the stored reviews of project PROJ, newest first."""
    answer = httpx.get(f"{base}/api/reviews/by-project/PROJ", params={"limit": 50})
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def queue_is_empty(base: str) -> bool:
    """Tell whether no job is queued or running."""
    for status in ("queued", "running"):
        page = httpx.get(f"{base}/api/jobs", params={"status": status}).json()
        if page["items"]:
            return False
    return True


def seed_push(repo: FakeRepository) -> tuple[str, list[str]]:
    """Put a base commit on main, then three commits by two authors; return ids."""
    base = repo.add_commit("Start", new_file("README.md", "# app"))
    pushed = [
        repo.add_commit("Add sum", new_file("sum.py", "def total(x):", "    return x")),
        repo.add_commit(
            "Add mean",
            new_file("mean.py", "def mean(x):", "    return x"),
            author=GRACE,
        ),
        repo.add_commit("Add max", new_file("top.py", "def top(x):", "    return x")),
    ]
    return base, pushed


def test_push_reviews_each_commit_once_and_mails_its_author(
    service: str, bitbucket: FakeBitbucketServer, smtp: SmtpServer
) -> None:
    """A signed push of 3 commits, redelivered: 3 reviews, 3 mails, 3 reports."""
    repo = bitbucket.add_repository("PROJ", "app")
    base, pushed = seed_push(repo)
    body = push_event(repo, ref_change("main", base, pushed[-1]))

    unsigned = deliver(service, "repo:refs_changed", body, "d-0", sign=False)
    first = deliver(service, "repo:refs_changed", body, "d-1")
    again = deliver(service, "repo:refs_changed", body, "d-1")
    other = deliver(service, "repo:refs_changed", body, "d-2")
    wait_for(lambda: len(smtp.received) >= 3 and queue_is_empty(service), "3 mails")
    stored = reviews(service)

    assert unsigned.status_code == 401
    assert first.status_code == again.status_code == other.status_code == 202
    assert first.json()["job_ids"] == again.json()["job_ids"] == other.json()["job_ids"]
    assert sorted(r["commit_id"] for r in stored) == sorted(pushed)
    assert {r["commit_id"]: r["author_email"] for r in stored} == {
        pushed[0]: ADA.email,
        pushed[1]: GRACE.email,
        pushed[2]: ADA.email,
    }
    mailed = sorted(tuple(m.recipients) for m in smtp.received)
    assert mailed == [(ADA.email,), (ADA.email,), (GRACE.email,)]
    web = f"{bitbucket.base_url}/projects/PROJ/repos/app/commits/"
    assert {r["change_url"] for r in stored} == {web + c for c in pushed}
    for message in smtp.received:
        parsed = message.parsed()
        text = parsed.get_body(("plain",))
        assert text is not None
        assert parsed["Subject"].startswith("[ai-code-reviewer] PROJ/app ")
        assert web in text.get_content()
        assert API_KEY not in message.data.decode()
    reports = {commit for commit, _key in repo.reports}
    assert reports == set(pushed)
    assert all(r["email_sent"] for r in stored)


def test_pull_request_gets_one_summary_and_one_inline_comment(
    service: str, bitbucket: FakeBitbucketServer, smtp: SmtpServer
) -> None:
    """pr:opened twice (two delivery ids): one review, one summary, one inline."""
    repo = bitbucket.add_repository("PROJ", "app")
    repo.add_commit("Start", new_file("README.md", "# app"))
    diff = new_file("calc.py", "def mean(xs, count):", "    return sum(xs) / count")
    repo.add_commit("Add mean", diff, branch="feature")
    pull_request = repo.add_pull_request("Add mean", "feature", diff)
    body = pull_request_event(repo, pull_request, "pr:opened")

    answers = [deliver(service, "pr:opened", body, f"pr-{n}") for n in range(2)]
    wait_for(lambda: len(smtp.received) >= 1 and queue_is_empty(service), "one mail")
    [review] = reviews(service)
    comments = bitbucket.sent("POST", f"/pull-requests/{pull_request.id}/comments")
    inline = [c for c in comments if isinstance(c.body, dict) and "anchor" in c.body]
    summary = [c for c in comments if c not in inline]

    assert answers[0].json()["job_ids"] == answers[1].json()["job_ids"]
    assert review["pr_id"] == pull_request.id
    assert len(summary) == 1
    assert "Division by zero" in summary[0].body["text"]
    assert [c.body["anchor"]["line"] for c in inline] == [2]
    recipients = set(smtp.received[0].recipients)
    assert recipients == {ADA.email}

"""The whole path of a job to a real SMTP server: one message per review, recorded.

The worker runs each job with the fake Git host and reviewer of tests/fakes.py
and the real notifier of the settings (the recipient policy in front of the
SMTP sender), against aiosmtpd on loopback; the messages are read back with
Python's ``email`` package.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.jobs import queue, specs
from ai_code_reviewer.api.jobs.pipeline import Services
from ai_code_reviewer.notify.factory import build_notifier
from ai_code_reviewer.review.model import Diff, Finding, ReviewResult
from tests.conftest import make_settings
from tests.integration.jobs.test_worker import Rig, commit_job, diff_job
from tests.smtpserver import (
    HOST,
    PASSWORD,
    USERNAME,
    SmtpServer,
    make_authority,
    serving,
    serving_tls,
)

HOSTILE_SUMMARY = (
    "Looks <script>alert('x')</script> fine ![t](http://evil.example/t.png) "
    '<img src="http://evil.example/i.png" onerror="steal()">'
)
HOSTILE_TITLE = "eval\r\nBcc: mallory@evil.example"


@dataclasses.dataclass
class HostileReviewer:
    """A reviewer whose answer carries markup, remote images and header breaks."""

    provider: str = "fake"
    model: str = "fake-1"

    async def review(self, diff: Diff, *, title: str | None = None) -> ReviewResult:
        """Return one finding whose every text field is hostile."""
        path = diff.files[0].path
        finding = Finding(
            path, 2, "critical", "security", HOSTILE_TITLE, HOSTILE_SUMMARY, "<script>"
        )
        return ReviewResult(HOSTILE_SUMMARY, (finding,), self.provider, self.model)


class Collector(HTMLParser):
    """Collect the tags and attributes of an HTML part."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record a start tag."""
        self.tags.append((tag, dict(attrs)))


def mail_rig(
    database: Database, db_url: str, tmp_path: Path, port: int, **overrides: Any
) -> Rig:
    """Return a worker rig whose notifier sends to the SMTP server on ``port``."""
    values: dict[str, Any] = {
        "worker_poll_interval": 0.02,
        "job_max_attempts": 3,
        "smtp_host": HOST,
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_timeout": 5.0,
        "email_from": "Code Review <review@example.com>",
    }
    values.update(overrides)
    settings = make_settings(db_url, tmp_path, **values)
    rig = Rig(database, settings)
    rig.pipeline.services = Services(
        rig.reviewer, build_notifier(settings), {"bitbucket": rig.githost}
    )
    return rig


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Yield a plain SMTP server on loopback."""
    with serving() as server:
        yield server


def html_of(parsed: EmailMessage) -> str:
    """Return the HTML part of a received message."""
    body = parsed.get_body(("html",))
    assert body is not None
    html: str = body.get_content()
    return html


def assert_no_active_or_remote_content(html: str) -> None:
    """Check the HTML has no script, image, style, event attribute or foreign link."""
    collector = Collector()
    collector.feed(html)
    names = {name for name, _ in collector.tags}
    assert not names & {"script", "img", "style", "iframe", "link", "object"}
    attributes = [key for _, attrs in collector.tags for key in attrs]
    assert not [key for key in attributes if key.startswith("on")]
    assert "evil.example" not in " ".join(
        attrs.get("href") or attrs.get("src") or "" for _, attrs in collector.tags
    )


async def run_to_end(rig: Rig, spec: queue.JobSpec, *statuses: str) -> int:
    """Enqueue ``spec``, run the worker until the job has one of ``statuses``."""
    async with rig.running():
        job_id = await rig.enqueue(spec)
        await rig.wait(job_id, *statuses)
    return job_id


async def test_one_message_per_review_to_the_author(
    database: Database, db_url: str, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """A diff job sends one parseable message to its author, recorded as sent."""
    rig = mail_rig(database, db_url, tmp_path, smtp_server.port)

    await run_to_end(rig, diff_job(), "succeeded")

    [received] = smtp_server.received
    [review] = await rig.reviews()
    assert received.recipients == ("ada@example.com",)
    parsed = received.parsed()
    assert parsed["Subject"] == "[ai-code-reviewer] PROJ/service: 1 major"
    assert parsed["Message-ID"] == f"<review-{review.id}@ai-code-reviewer>"
    assert (review.email_sent, review.email_status) == (True, "sent")
    assert review.email_recipients == ["ada@example.com"]
    assert_no_active_or_remote_content(html_of(parsed))


async def test_pull_request_mails_author_reviewers_and_cc(
    database: Database, db_url: str, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """With EMAIL_REVIEWERS and EMAIL_CC the PR's people get one message."""
    rig = mail_rig(
        database,
        db_url,
        tmp_path,
        smtp_server.port,
        email_reviewers=True,
        email_cc="archive@example.com",
    )
    spec = specs.pull_request_job(
        host="bitbucket",
        project_key="PROJ",
        repo_slug="service",
        pr_id=7,
        source_commit="b" * 40,
        max_attempts=3,
    )

    await run_to_end(rig, spec, "succeeded")

    [received] = smtp_server.received
    assert received.recipients == (
        "ada@example.com",
        "grace@example.com",
        "archive@example.com",
    )
    parsed = received.parsed()
    assert parsed["Subject"] == "[ai-code-reviewer] PROJ/service PR #7: 1 major"
    assert parsed["To"] == "ada@example.com, grace@example.com"
    assert parsed["Cc"] == "archive@example.com"
    [review] = await rig.reviews()
    assert review.email_recipients == [
        "ada@example.com",
        "grace@example.com",
        "archive@example.com",
    ]


async def test_commit_link_comes_from_the_job(
    database: Database, db_url: str, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """A URL in the job's payload is linked in the message."""
    rig = mail_rig(database, db_url, tmp_path, smtp_server.port)
    spec = commit_job()
    url = "https://git.example.com/projects/PROJ/repos/service/commits/" + "a" * 40
    spec = dataclasses.replace(spec, payload={**spec.payload, "url": url})

    await run_to_end(rig, spec, "succeeded")

    parsed = smtp_server.received[0].parsed()
    assert parsed["Subject"] == "[ai-code-reviewer] PROJ/service aaaaaaa: 1 major"
    assert f'<a href="{url}"' in html_of(parsed)


async def test_hostile_answer_is_escaped(
    database: Database, db_url: str, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """Script, remote images and a header break from the model stay harmless text."""
    rig = mail_rig(database, db_url, tmp_path, smtp_server.port)
    rig.pipeline.services = dataclasses.replace(
        rig.pipeline.services, reviewer=HostileReviewer()
    )

    await run_to_end(rig, diff_job(), "succeeded")

    [received] = smtp_server.received
    parsed = received.parsed()
    html = html_of(parsed)
    assert received.recipients == ("ada@example.com",)
    assert parsed["Bcc"] is None
    assert_no_active_or_remote_content(html)
    assert "&lt;script&gt;alert(" in html
    assert "eval Bcc: mallory@evil.example" in html


async def test_policy_skip_is_recorded_and_nothing_sent(
    database: Database, db_url: str, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """EMAIL_ON=findings above the review's findings skips the email, recorded."""
    rig = mail_rig(
        database,
        db_url,
        tmp_path,
        smtp_server.port,
        email_on="findings",
        email_min_severity="critical",
    )

    await run_to_end(rig, diff_job(), "succeeded")

    [review] = await rig.reviews()
    assert smtp_server.received == []
    assert (review.email_status, review.email_sent) == ("skipped", False)
    assert review.email_recipients == []


async def test_allowed_domains_and_opt_out_drop_people(
    database: Database, db_url: str, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """Reviewers outside the domains or opted out are not mailed; the author is."""
    opt_out = tmp_path / "opt-out.txt"
    opt_out.write_text("grace@example.com\n")
    rig = mail_rig(
        database,
        db_url,
        tmp_path,
        smtp_server.port,
        email_reviewers=True,
        email_allowed_domains="example.com",
        email_opt_out_file=opt_out,
        email_cc="audit@elsewhere.org",
    )
    spec = specs.pull_request_job(
        host="bitbucket",
        project_key="PROJ",
        repo_slug="service",
        pr_id=8,
        source_commit="c" * 40,
        max_attempts=3,
    )

    await run_to_end(rig, spec, "succeeded")

    [received] = smtp_server.received
    assert received.recipients == ("ada@example.com",)


async def test_server_refusing_fails_the_job_at_the_email_stage(
    database: Database, db_url: str, tmp_path: Path, smtp_server: SmtpServer
) -> None:
    """A 5xx from the server fails the job at once; the review stays, unsent."""
    smtp_server.handler.data_replies.append("554 5.7.1 Rejected by policy")
    rig = mail_rig(database, db_url, tmp_path, smtp_server.port)

    job_id = await run_to_end(rig, diff_job(), "failed", "dead")

    job = await rig.job(job_id)
    [review] = await rig.reviews()
    [failure] = await rig.failures()
    assert (job.status, job.attempts) == ("failed", 1)
    assert (failure.failure_stage, failure.error_type) == ("email", "EmailError")
    assert "554" in failure.error_message
    assert (review.email_sent, review.email_status) == (False, None)
    assert smtp_server.received == []


async def test_server_down_then_back_sends_exactly_once(
    database: Database, db_url: str, tmp_path: Path
) -> None:
    """Connection refused twice is retried; the third try sends one message."""
    server = SmtpServer()
    rig = mail_rig(database, db_url, tmp_path, server.port)

    async with rig.running():
        job_id = await rig.enqueue(diff_job())
        for attempt in (1, 2):
            job = await rig.wait(job_id, "queued", attempts=attempt)
            assert job.failure_stage == "email"
            [stored] = await rig.reviews()
            assert stored.email_sent is False
            if attempt == 2:
                server.start()
            rig.clock.advance(1000)
            rig.worker.wake()
        job = await rig.wait(job_id, "succeeded")
    server.stop()

    [review] = await rig.reviews()
    assert job.attempts == 3
    assert len(server.received) == 1
    assert (review.email_sent, review.email_status) == (True, "sent")
    assert rig.reviewer.calls == 1
    assert await rig.failures() == []


async def test_starttls_and_auth_on_the_whole_path(
    database: Database, db_url: str, tmp_path: Path
) -> None:
    """With STARTTLS and AUTH required, the review's email is sent and recorded."""
    authority = make_authority(tmp_path)
    with serving_tls(authority) as server:
        rig = mail_rig(
            database,
            db_url,
            tmp_path,
            server.port,
            smtp_security="starttls",
            smtp_ca_bundle=authority.ca_file,
            smtp_username=USERNAME,
            smtp_password=PASSWORD,
        )

        await run_to_end(rig, diff_job(), "succeeded")

    [review] = await rig.reviews()
    assert len(server.received) == 1
    assert review.email_sent is True

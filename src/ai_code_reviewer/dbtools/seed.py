"""Fill the database with realistic reviews and failure logs to try things out.

The records look like the service's own: several projects, repositories and
authors, commits with 40-hex ids and pull requests, unified diffs, Markdown
feedback, email recipients, providers and models, spread over four weeks,
and failures at every stage, some resolved. Emails use example.com (RFC 2606).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import ReviewFailureLog, ReviewRecord, utcnow
from ai_code_reviewer.dbtools import schema
from ai_code_reviewer.dbtools.seed_data import (
    AUTHORS,
    CHANGES,
    FAILURES,
    MODELS,
    REPOSITORIES,
    RESOLUTIONS,
    Change,
    FailureKind,
)
from ai_code_reviewer.review.model import Category, Finding, Severity

logger = logging.getLogger(__name__)

SPREAD = timedelta(days=28)
UNTESTED = "No test covers this branch yet."


def summary_of(findings: list[Finding]) -> str:
    """Return the one-line summary of a sample review."""
    return f"**Summary:** {len(findings)} finding(s) in `{findings[0].path}`."


@dataclass(frozen=True)
class SeedResult:
    """Count the records ``seed`` added."""

    reviews: int
    failures: int
    resolved: int


@dataclass(frozen=True)
class Target:
    """Say what one record is about: repository, author, commit or pull request."""

    project_key: str
    repo_slug: str
    author_name: str
    author_email: str
    commit_id: str
    pr_id: int | None
    created_at: datetime


class RecordFactory:
    """Make random but plausible records from one random generator."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now

    def hex_id(self, digits: int = 40) -> str:
        """Return a random lowercase hexadecimal id of ``digits`` characters."""
        return f"{self.rng.getrandbits(digits * 4):0{digits}x}"

    def target(self) -> Target:
        """Pick a repository, an author, a commit and maybe a pull request."""
        project = self.rng.choice(sorted(REPOSITORIES))
        name, email = self.rng.choice(AUTHORS)
        pull_request = self.rng.random() < 0.45
        return Target(
            project_key=project,
            repo_slug=self.rng.choice(REPOSITORIES[project]),
            author_name=name,
            author_email=email,
            commit_id=self.hex_id(),
            pr_id=self.rng.randint(12, 980) if pull_request else None,
            created_at=self.now - SPREAD * self.rng.random(),
        )

    def diff(self, change: Change) -> tuple[str, int]:
        """Render ``change`` as a unified diff; return it and its first line."""
        start = self.rng.randint(8, 240)
        old = len(change.context) + len(change.removed)
        new = len(change.context) + len(change.added)
        lines = [
            f"diff --git a/{change.path} b/{change.path}",
            f"index {self.hex_id(7)}..{self.hex_id(7)} 100644",
            f"--- a/{change.path}",
            f"+++ b/{change.path}",
            f"@@ -{start},{old} +{start},{new} @@",
            *(f" {line}" for line in change.context),
            *(f"-{line}" for line in change.removed),
            *(f"+{line}" for line in change.added),
        ]
        return "\n".join(lines) + "\n", start + len(change.context)

    def findings(self, change: Change, line: int) -> list[Finding]:
        """Return what the reviewer found in ``change``: one finding, at times two."""
        found = [
            Finding(
                path=change.path,
                line=line,
                severity=cast(Severity, change.severity),
                category=cast(Category, change.category),
                title=change.finding,
                body="",
                suggestion=change.suggestion,
            )
        ]
        if self.rng.random() < 0.5:
            found.append(Finding(change.path, line, "minor", "test", UNTESTED, body=""))
        return found

    def feedback(self, target: Target, findings: list[Finding]) -> str:
        """Write the Markdown review of ``findings``."""
        subject = f"PR #{target.pr_id}" if target.pr_id else target.commit_id[:12]
        items = [f"- **{f.severity}** `{f.path}:{f.line}`: {f.title}" for f in findings]
        return "\n".join(
            [
                f"## Review of {subject}",
                "",
                summary_of(findings),
                "",
                "### Findings",
                "",
                *items,
                "",
                "### Suggestion",
                "",
                findings[0].suggestion or "",
                "",
            ]
        )

    def recipients(self, target: Target) -> list[str]:
        """Return the author, plus one or two reviewers on a pull request."""
        chosen = [target.author_email]
        if target.pr_id is not None:
            others = [email for _name, email in AUTHORS if email != target.author_email]
            chosen += self.rng.sample(others, self.rng.randint(1, 2))
        return chosen

    def review(self) -> ReviewRecord:
        """Make one review record."""
        target = self.target()
        change = self.rng.choice(CHANGES)
        diff, line = self.diff(change)
        provider, model = self.rng.choice(MODELS)
        findings = self.findings(change, line)
        prompt_tokens = 0 if provider == "builtin" else self.rng.randint(900, 6000)
        completion_tokens = 0 if provider == "builtin" else self.rng.randint(150, 900)
        return ReviewRecord(
            **_about(target),
            review_type="auto" if self.rng.random() < 0.85 else "manual",
            trigger_type="pull_request" if target.pr_id else "commit",
            diff_content=diff,
            review_feedback=self.feedback(target, findings),
            summary=summary_of(findings),
            findings=[finding.to_json() for finding in findings],
            coverage={"reviewed": [change.path], "skipped": [], "cut": []},
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            email_recipients=self.recipients(target),
            email_sent=self.rng.random() < 0.9,
            llm_provider=provider,
            llm_model=model,
        )

    def failure(self) -> ReviewFailureLog:
        """Make one failure log, resolved about one time in three."""
        target = self.target()
        kind = self.rng.choice(FAILURES)
        message = kind.message.format(
            short=target.commit_id[:12],
            email=target.author_email,
            pr=target.pr_id or 1,
            tokens=self.rng.randint(130_000, 400_000),
        )
        manual = self.rng.random() < 0.2
        resolved = self.rng.random() < 0.35
        return ReviewFailureLog(
            **_about(target),
            event_type="manual" if manual else "webhook",
            event_key=None if manual else _event_key(target),
            request_payload=None if manual else self.payload(target),
            failure_stage=kind.stage,
            error_type=kind.error_type,
            error_message=message,
            error_stacktrace=_stacktrace(kind, message),
            retry_count=self.rng.randint(0, 5),
            resolved=resolved,
            resolution_notes=self.rng.choice(RESOLUTIONS) if resolved else None,
        )

    def payload(self, target: Target) -> dict[str, Any]:
        """Build the Bitbucket Data Center webhook body that started the review."""
        body: dict[str, Any] = {
            "eventKey": _event_key(target),
            "date": target.created_at.strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "actor": {
                "name": target.author_email.split("@")[0],
                "emailAddress": target.author_email,
                "displayName": target.author_name,
            },
        }
        repository = {"slug": target.repo_slug, "project": {"key": target.project_key}}
        if target.pr_id is None:
            body["repository"] = repository
            body["changes"] = [
                {
                    "ref": {"id": "refs/heads/main", "displayId": "main"},
                    "fromHash": self.hex_id(),
                    "toHash": target.commit_id,
                    "type": "UPDATE",
                }
            ]
        else:
            from_ref = {"latestCommit": target.commit_id, "repository": repository}
            body["pullRequest"] = {"id": target.pr_id, "fromRef": from_ref}
        return body


def _about(target: Target) -> dict[str, Any]:
    """Return the columns both tables share, filled from ``target``."""
    return {
        "created_at": target.created_at,
        "project_key": target.project_key,
        "repo_slug": target.repo_slug,
        "commit_id": target.commit_id,
        "pr_id": target.pr_id,
        "author_name": target.author_name,
        "author_email": target.author_email,
    }


def _event_key(target: Target) -> str:
    """Name the webhook event: a push, or a pull request opened."""
    return "repo:refs_changed" if target.pr_id is None else "pr:opened"


def _stacktrace(kind: FailureKind, message: str) -> str:
    """Write the stack frames the failure would have left, innermost last."""
    return "\n".join(
        [
            "Traceback (most recent call last):",
            '  File "/app/src/ai_code_reviewer/api/jobs/pipeline.py", line 88, '
            "in run_stage",
            "    return await stage(job)",
            f'  File "/app/src/ai_code_reviewer/{kind.module}", line 141, '
            f"in {kind.function}",
            f"    raise {kind.error_type}(message)",
            f"{kind.error_type}: {message}",
        ]
    )


def make_records(
    reviews: int, failures: int, seed: int | None = None
) -> tuple[list[ReviewRecord], list[ReviewFailureLog]]:
    """Make ``reviews`` reviews and ``failures`` failure logs, oldest first."""
    # Sample data, not secrets: a seedable generator is what is wanted here.
    factory = RecordFactory(random.Random(seed), utcnow())  # noqa: S311
    made_reviews = sorted(
        (factory.review() for _ in range(reviews)), key=lambda r: r.created_at
    )
    made_failures = sorted(
        (factory.failure() for _ in range(failures)), key=lambda f: f.created_at
    )
    return made_reviews, made_failures


async def seed(
    database: Database, reviews: int, failures: int, seed: int | None = None
) -> SeedResult:
    """Add sample records in one transaction, creating the schema if needed."""
    await schema.create(database)
    made_reviews, made_failures = make_records(reviews, failures, seed)
    async with database.session() as session:
        session.add_all([*made_reviews, *made_failures])
        await session.commit()
    resolved = sum(1 for failure in made_failures if failure.resolved)
    logger.info("db.seeded", extra={"reviews": reviews, "failures": failures})
    return SeedResult(reviews=reviews, failures=failures, resolved=resolved)

"""String the stages of one review job together.

A job runs ``fetch_diff``, ``prepare_diff``, ``llm_review`` and ``store`` in
one go; the stored review is committed in the same transaction that proves
the job is still this worker's. ``email`` and ``publish`` follow, each
recording its outcome on the review; a job retried after its review was
stored starts at the first of these two that has not succeeded, so a
failed email never makes a second review.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy import insert, update

from ai_code_reviewer import metrics
from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import ReviewJob, ReviewRecord
from ai_code_reviewer.api.jobs import queue, specs
from ai_code_reviewer.api.jobs.budget import check_token_budget
from ai_code_reviewer.api.jobs.clock import Clock
from ai_code_reviewer.api.jobs.expand import DEFAULT_MAX_COMMITS, expand_push
from ai_code_reviewer.errors import ConfigError
from ai_code_reviewer.githost.base import (
    Change,
    GitHost,
    Person,
    Publication,
    Target,
)
from ai_code_reviewer.llm.base import Reviewer
from ai_code_reviewer.notify.base import Message, Notifier
from ai_code_reviewer.review.bitbucket_diff import WHOLE_DIFF
from ai_code_reviewer.review.diff import parse_unified_diff
from ai_code_reviewer.review.model import Diff, Finding, ReviewResult, Skipped
from ai_code_reviewer.review.render import render_markdown

logger = logging.getLogger(__name__)

STAGES = ("fetch_diff", "prepare_diff", "llm_review", "store", "email", "publish")
DONE = frozenset({"sent", "outbox", "skipped", "published"})

T = TypeVar("T")


class StageFailed(Exception):
    """A stage raised; ``stage`` names it and ``__cause__`` is what it raised."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage}: {type(cause).__name__}: {cause}")
        self.stage = stage
        self.cause = cause


@dataclass(frozen=True)
class Services:
    """What the stages talk to: Git hosts by name, the reviewer, the notifier."""

    reviewer: Reviewer
    notifier: Notifier
    githosts: Mapping[str, GitHost]


def target_of(payload: Mapping[str, Any]) -> Target:
    """Return where on the Git host a job's change lives."""
    return Target(
        project_key=str(payload["project_key"]),
        repo_slug=str(payload["repo_slug"]),
        commit_id=payload.get("commit_id"),
        pr_id=payload.get("pr_id"),
    )


class Pipeline:
    """Run a claimed job through its stages."""

    def __init__(
        self,
        database: Database,
        services: Services,
        clock: Clock,
        daily_token_budget: int | None = None,
        max_commits_per_push: int = DEFAULT_MAX_COMMITS,
    ) -> None:
        self.database = database
        self.services = services
        self.clock = clock
        self.daily_token_budget = daily_token_budget
        self.max_commits_per_push = max_commits_per_push

    async def run(self, job: queue.ClaimedJob) -> None:
        """Run every stage ``job`` still needs; raise StageFailed on the first error."""
        if job.kind == specs.EXPAND_PUSH:
            await self._stage(job, "fetch_diff", self.expand, job)
            return
        review_id = job.review_id
        if review_id is None:
            started = time.perf_counter()
            change = await self._stage(job, "fetch_diff", self.fetch, job)
            diff = await self._stage(job, "prepare_diff", self.prepare, change)
            result = await self._stage(
                job, "llm_review", self.review, job, diff, change.title
            )
            elapsed_ms = int((time.perf_counter() - started) * 1000)
            review_id = await self._stage(
                job, "store", self.store, job, change, result, elapsed_ms
            )
        record = await self.load(review_id)
        if record.email_status not in DONE:
            await self._stage(job, "email", self.email, job, record)
        if record.publish_status not in DONE:
            await self._stage(job, "publish", self.publish, job, record)

    async def _stage(
        self,
        job: queue.ClaimedJob,
        name: str,
        step: Callable[..., Awaitable[T]],
        *args: Any,
    ) -> T:
        """Run one stage, logging and measuring its duration, naming it in a failure."""
        started = time.perf_counter()
        try:
            result = await step(*args)
        except queue.LeaseLost:
            raise
        except Exception as exc:
            seconds = time.perf_counter() - started
            metrics.STAGE_SECONDS.labels(name, "error").observe(seconds)
            raise StageFailed(name, exc) from exc
        seconds = time.perf_counter() - started
        metrics.STAGE_SECONDS.labels(name, "ok").observe(seconds)
        logger.info(
            "job.stage",
            extra={
                "job_id": job.id,
                "stage": name,
                "duration_ms": round(seconds * 1000, 1),
                **self._stage_fields(name),
            },
        )
        return result

    def _stage_fields(self, name: str) -> dict[str, str]:
        """Return what a stage's log line says besides its name: the model used."""
        if name != "llm_review":
            return {}
        reviewer = self.services.reviewer
        return {"provider": reviewer.provider, "model": reviewer.model}

    def _githost(self, payload: Mapping[str, Any]) -> GitHost:
        """Return the Git host the job names; ConfigError when none is configured."""
        name = str(payload.get("host") or "")
        host = self.services.githosts.get(name)
        if host is None:
            raise ConfigError(f"no Git host named {name!r} is configured")
        return host

    async def fetch(self, job: queue.ClaimedJob) -> Change:
        """Fetch the change's diff and author (the uploaded diff for review_diff)."""
        payload = job.payload
        if job.kind == specs.REVIEW_DIFF:
            author = Person(payload.get("author_name"), payload.get("author_email"))
            return Change(
                diff=str(payload["diff"]), author=author, title=payload.get("title")
            )
        host = self._githost(payload)
        if job.kind == specs.REVIEW_RANGE:
            return await host.fetch_range(
                str(payload["project_key"]),
                str(payload["repo_slug"]),
                str(payload["since_commit"]),
                str(payload["commit_id"]),
            )
        if job.kind == specs.REVIEW_PULL_REQUEST:
            return await host.fetch_pull_request(
                target_of(payload), payload.get("since_commit")
            )
        return await host.fetch_commit(target_of(payload))

    async def expand(self, job: queue.ClaimedJob) -> list[int]:
        """Enqueue the reviews of the commits an ``expand_push`` job's push added."""
        host = self._githost(job.payload)
        return await expand_push(
            self.database, host, job, self.clock, self.max_commits_per_push
        )

    async def prepare(self, change: Change) -> Diff:
        """Parse the change's unified diff."""
        return parse_unified_diff(change.diff)

    async def review(
        self, job: queue.ClaimedJob, diff: Diff, title: str | None = None
    ) -> ReviewResult:
        """Review the diff, unless the project spent its model tokens for the day."""
        project_key = str(job.payload["project_key"])
        now = self.clock.now()
        await check_token_budget(
            self.database, project_key, self.daily_token_budget, now
        )
        result = await self.services.reviewer.review(diff, title=title)
        count_usage(result)
        return result

    async def store(
        self,
        job: queue.ClaimedJob,
        change: Change,
        result: ReviewResult,
        duration_ms: int,
    ) -> int:
        """Store the review and link it to the job, in one fenced transaction."""
        payload = job.payload
        now = self.clock.now()
        result = replace(result, cut=(*result.cut, *host_cuts(change)))
        values = {
            "created_at": now,
            "review_type": "auto" if payload.get("origin") == "webhook" else "manual",
            "trigger_type": trigger_type(job.kind),
            "project_key": payload["project_key"],
            "repo_slug": payload["repo_slug"],
            "commit_id": payload.get("commit_id"),
            "pr_id": payload.get("pr_id"),
            "author_name": change.author.name,
            "author_email": change.author.email,
            "diff_content": change.diff,
            "review_feedback": render_markdown(result, title=change.title),
            "email_recipients": recipients_of(change),
            "email_sent": False,
            "llm_provider": result.provider,
            "llm_model": result.model,
            "job_id": job.id,
            "duration_ms": duration_ms,
            "summary": result.summary,
            "findings": [finding.to_json() for finding in result.findings],
            "coverage": result.coverage_json(),
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "llm_cost_usd": result.usage.cost_usd,
            "change_url": change.url,
        }
        async with self.database.session() as session:
            await queue.hold(session, job, now)
            statement = insert(ReviewRecord).values(**values).returning(ReviewRecord.id)
            review_id = int((await session.execute(statement)).scalar_one())
            await session.execute(
                update(ReviewJob)
                .where(ReviewJob.id == job.id)
                .values(review_id=review_id)
            )
            await session.commit()
        logger.info("review.stored", extra={"job_id": job.id, "review_id": review_id})
        return review_id

    async def load(self, review_id: int) -> ReviewRecord:
        """Read a stored review."""
        async with self.database.session() as session:
            record = await session.get(ReviewRecord, review_id)
        if record is None:
            raise ConfigError(f"review {review_id} of this job was deleted")
        return record

    async def email(self, job: queue.ClaimedJob, record: ReviewRecord) -> None:
        """Tell the people the email policy chooses, then record what happened.

        The notifier applies the policy at send time and says who it chose;
        those are stored in email_recipients (none when the email is skipped).
        """
        message = message_of(record, record.change_url or job.payload.get("url"))
        try:
            delivery = await self.services.notifier.deliver(message)
        except Exception:
            metrics.EMAILS.labels("failed").inc()
            raise
        metrics.EMAILS.labels(delivery.status).inc()
        if delivery.status == "skipped":
            logger.info(
                "email.skipped",
                extra={
                    "job_id": job.id,
                    "review_id": record.id,
                    "reason": delivery.detail,
                },
            )
        await self._record(
            job,
            record.id,
            email_status=delivery.status,
            email_sent=delivery.status == "sent",
            email_recipients=list(delivery.recipients),
        )

    async def publish(self, job: queue.ClaimedJob, record: ReviewRecord) -> None:
        """Publish the review on the Git host; an uploaded diff has nowhere to go."""
        status = "skipped"
        if job.kind != specs.REVIEW_DIFF:
            host = self._githost(job.payload)
            status = await host.publish(target_of(job.payload), publication_of(record))
        await self._record(job, record.id, publish_status=status)

    async def _record(
        self, job: queue.ClaimedJob, review_id: int, **values: Any
    ) -> None:
        """Update the review, fenced by the job's lease."""
        async with self.database.session() as session:
            await queue.hold(session, job, self.clock.now())
            await session.execute(
                update(ReviewRecord)
                .where(ReviewRecord.id == review_id)
                .values(**values)
            )
            await session.commit()


def host_cuts(change: Change) -> tuple[str, ...]:
    """Say what the Git host left out of the diff it sent, as a review's cuts."""
    return tuple(
        f"{name}: the Git host sent only part of it; the rest was not reviewed."
        if name != WHOLE_DIFF
        else "The Git host left files out of the diff it sent; they were not reviewed."
        for name in change.truncated
    )


def publication_of(record: ReviewRecord) -> Publication:
    """Return what the Git host shows of a stored review."""
    findings = tuple(Finding.from_json(item) for item in record.findings or ())
    return Publication(
        review_id=record.id,
        markdown=record.review_feedback,
        summary=record.summary or "",
        findings=findings,
    )


def count_usage(result: ReviewResult) -> None:
    """Add the review's model tokens and cost to the Prometheus counters."""
    usage = result.usage
    tokens = {"prompt": usage.prompt_tokens, "completion": usage.completion_tokens}
    cost = {} if usage.cost_usd is None else {"total": usage.cost_usd}
    metrics.count_model_usage(result.provider, result.model, tokens, cost)


def trigger_type(kind: str) -> str:
    """Name what triggered a review, as review_records.trigger_type says it."""
    return {
        specs.REVIEW_PULL_REQUEST: "pull_request",
        specs.REVIEW_DIFF: "diff",
        specs.REVIEW_RANGE: "commit_range",
        specs.EXPAND_PUSH: "push",
    }.get(kind, "commit")


def recipients_of(change: Change) -> list[str]:
    """Return the candidates to tell: the author, then the reviewers, once each.

    The author is the commit's or pull request's author as the Git host
    names it, never who pushed. The email stage applies the recipient policy
    to these when it sends.
    """
    people = (change.author, *change.reviewers)
    found = [person.email.strip() for person in people if person.email]
    unique: dict[str, str] = {}
    for address in found:
        unique.setdefault(address.casefold(), address)
    return [address for address in unique.values() if address]


def subject_of(record: ReviewRecord) -> str:
    """Name the reviewed change for an email subject."""
    where = f"{record.project_key}/{record.repo_slug}"
    if record.pr_id is not None:
        return f"{where} PR #{record.pr_id}"
    if record.commit_id:
        return f"{where} {record.commit_id[:7]}"
    return where


def message_of(record: ReviewRecord, url: object = None) -> Message:
    """Return the message of a stored review; ``url`` is the change on the Git host."""
    coverage = record.coverage or {}
    skipped = coverage.get("skipped") or ()
    return Message(
        review_id=record.id,
        subject_target=subject_of(record),
        recipients=tuple(record.email_recipients or ()),
        markdown=record.review_feedback,
        summary=record.summary or "",
        findings=tuple(Finding.from_json(item) for item in record.findings or ()),
        skipped=tuple(
            Skipped(str(item["path"]), str(item["reason"])) for item in skipped
        ),
        cut=tuple(str(item) for item in coverage.get("cut") or ()),
        url=url if isinstance(url, str) else None,
        author=record.author_email,
    )

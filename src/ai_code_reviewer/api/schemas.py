"""Shape the read API: validated parameter types, paging, and response models.

Parameters are checked here, before any query runs, against what the columns
can hold: PostgreSQL refuses an integer above int4, a string with a NUL byte,
and would compare in vain a string longer than the column. Each such input is
answered 422 with a sentence instead of a database error.

Datetimes are stored naive in UTC. They are read in as naive UTC (an offset,
when given, is converted away) and written out with an explicit UTC offset.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Depends
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    model_validator,
)

from ai_code_reviewer.api.db.repository import FailureStats, Page, PageRequest
from ai_code_reviewer.api.jobs.operations import JobStats
from ai_code_reviewer.api.jobs.queue import STATUSES
from ai_code_reviewer.api.jobs.specs import KINDS
from ai_code_reviewer.errors import InvalidRequest

INT4_MAX = 2_147_483_647
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 10_000

# The dot-atom form of RFC 5322 section 3.4.1, ASCII only: strict enough to
# refuse what cannot be an address, loose enough for "root@localhost".
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*")


def reject_nul(value: str) -> str:
    """Refuse a string with a NUL character, which PostgreSQL cannot store."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


def check_email(value: str) -> str:
    """Refuse a string that is not a plain email address."""
    if EMAIL_PATTERN.fullmatch(value) is None:
        raise ValueError("must be an email address such as ada@example.com")
    return value


def check_offset(value: int) -> int:
    """Refuse an offset so deep that the database would scan every skipped row."""
    if value > MAX_OFFSET:
        raise ValueError(
            f"offset is at most {MAX_OFFSET}; to read further, pass "
            "cursor=<next_cursor of the previous page> instead"
        )
    return value


def one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    """Make a validator that refuses any value but ``choices``."""

    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return check


def hide_diff(payload: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """Replace a diff in a job's payload by its size: ``{"bytes": n}``."""
    diff = payload.get("diff")
    if not isinstance(diff, str):
        return payload
    return {**payload, "diff": {"bytes": len(diff.encode("utf-8", "replace"))}}


def to_naive_utc(value: datetime) -> datetime:
    """Convert an aware datetime to naive UTC, as stored; keep a naive one as UTC."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:
        raise ValueError("date is out of range once converted to UTC") from None


def mark_utc(value: datetime) -> datetime:
    """Attach UTC to a naive datetime read from the database."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


PositiveInt4 = Annotated[int, Field(ge=1, le=INT4_MAX)]
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Rows per page.")]
Offset = Annotated[
    int,
    Field(ge=0, description=f"Rows to skip, at most {MAX_OFFSET}; prefer cursor."),
    AfterValidator(check_offset),
]
Text255 = Annotated[str, StringConstraints(max_length=255), AfterValidator(reject_nul)]
Text100 = Annotated[str, StringConstraints(max_length=100), AfterValidator(reject_nul)]
Text50 = Annotated[str, StringConstraints(max_length=50), AfterValidator(reject_nul)]
Name255 = Annotated[
    str, StringConstraints(min_length=1, max_length=255), AfterValidator(reject_nul)
]
Name50 = Annotated[
    str, StringConstraints(min_length=1, max_length=50), AfterValidator(reject_nul)
]
CommitId = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9A-Fa-f]{7,64}$"),
    Field(description="7 to 64 hexadecimal characters."),
]
JobStatus = Annotated[str, AfterValidator(one_of(STATUSES))]
JobKind = Annotated[str, AfterValidator(one_of(KINDS))]
Email = Annotated[str, StringConstraints(max_length=255), AfterValidator(check_email)]
Instant = Annotated[datetime, AfterValidator(to_naive_utc)]
UtcDatetime = Annotated[datetime, AfterValidator(mark_utc)]


def page_request(
    limit: Limit = DEFAULT_LIMIT,
    cursor: Annotated[
        PositiveInt4 | None, Field(description="The previous page's next_cursor.")
    ] = None,
    offset: Offset = 0,
    include_total: Annotated[
        bool, Field(description="Count every matching row (slow on big tables).")
    ] = False,
) -> PageRequest:
    """Read the paging parameters that every list shares."""
    if cursor is not None and offset:
        raise InvalidRequest("give either cursor or offset, not both")
    return PageRequest(
        limit=limit, before_id=cursor, offset=offset, with_total=include_total
    )


PageDep = Annotated[PageRequest, Depends(page_request)]

ItemT = TypeVar("ItemT", bound=BaseModel)


class PageResponse(BaseModel, Generic[ItemT]):
    """One page of a list, newest first; ``next_cursor`` asks for the next one."""

    items: list[ItemT]
    limit: int
    next_cursor: int | None
    total: int | None = Field(description="Counted only with include_total=true.")

    @classmethod
    def build(cls, page: Page[Any], request: PageRequest) -> Self:
        """Answer ``page`` of rows, fetched for ``request``."""
        fields = {
            "items": page.items,
            "limit": request.limit,
            "next_cursor": page.next_cursor,
            "total": page.total,
        }
        return cls.model_validate(fields, from_attributes=True)


class FindingItem(BaseModel):
    """One finding of a review, as review_records.findings stores it."""

    path: str
    line: int | None
    end_line: int | None = None
    severity: str
    category: str
    title: str
    body: str
    suggestion: str | None = None


class ReviewSummary(BaseModel):
    """A review as listed: every column but the diff, which can be large."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: UtcDatetime
    review_type: str
    trigger_type: str
    project_key: str
    repo_slug: str
    commit_id: str | None
    pr_id: int | None
    author_name: str | None
    author_email: str | None
    review_feedback: str
    email_recipients: list[str] | None
    email_sent: bool
    llm_provider: str | None
    llm_model: str | None
    job_id: int | None
    duration_ms: int | None
    email_status: str | None
    publish_status: str | None
    summary: str | None
    findings: list[FindingItem] | None
    coverage: dict[str, Any] | None
    prompt_tokens: int | None
    completion_tokens: int | None
    llm_cost_usd: float | None
    change_url: str | None


class ReviewDetail(ReviewSummary):
    """A review with every column, the diff included."""

    diff_content: str


class FailureLogItem(BaseModel):
    """A failure log with every column."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: UtcDatetime
    event_type: str
    event_key: str | None
    request_payload: JsonValue
    project_key: str | None
    repo_slug: str | None
    commit_id: str | None
    pr_id: int | None
    author_name: str | None
    author_email: str | None
    failure_stage: str
    error_type: str
    error_message: str
    error_stacktrace: str | None
    retry_count: int
    resolved: bool
    resolution_notes: str | None
    job_id: int | None


class ReviewPage(PageResponse[ReviewSummary]):
    """One page of reviews."""


class FailurePage(PageResponse[FailureLogItem]):
    """One page of failure logs."""


class ReviewStatsResponse(BaseModel):
    """Counts of reviews; a missing provider is counted under ""."""

    model_config = ConfigDict(from_attributes=True)

    total: int
    last_24h: int
    last_7d: int
    email_sent: int
    by_project: dict[str, int]
    by_provider: dict[str, int]
    oldest: UtcDatetime | None
    newest: UtcDatetime | None


class ErrorCount(BaseModel):
    """How many unresolved failures one stage had with one error type."""

    failure_stage: str
    error_type: str
    count: int


class FailureStatsResponse(BaseModel):
    """Counts of failure logs, and of unresolved ones by stage and error type."""

    total: int
    unresolved: int
    unresolved_by_stage: dict[str, int]
    unresolved_by_error: list[ErrorCount]

    @classmethod
    def from_stats(cls, stats: FailureStats) -> Self:
        """Answer the repository's ``stats``."""
        errors = [
            ErrorCount(failure_stage=stage, error_type=error, count=count)
            for stage, error, count in stats.unresolved_by_error
        ]
        return cls(
            total=stats.total,
            unresolved=stats.unresolved,
            unresolved_by_stage=stats.unresolved_by_stage,
            unresolved_by_error=errors,
        )


class JobItem(BaseModel):
    """A review job; an uploaded diff in its payload is shown as its size only."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    status: str
    attempts: int
    max_attempts: int
    run_after: UtcDatetime
    locked_by: str | None
    locked_until: UtcDatetime | None
    last_error: str | None
    failure_stage: str | None
    review_id: int | None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None
    payload: Annotated[dict[str, JsonValue], AfterValidator(hide_diff)]


class JobPage(PageResponse[JobItem]):
    """One page of jobs."""


class JobStatsResponse(BaseModel):
    """Counts of jobs by status, and the age of the oldest queued job."""

    by_status: dict[str, int]
    oldest_queued_seconds: float | None = Field(
        description="Seconds since the oldest queued job was created; null if none."
    )

    @classmethod
    def from_stats(cls, stats: JobStats) -> Self:
        """Answer the operations' ``stats``."""
        return cls(
            by_status=stats.by_status,
            oldest_queued_seconds=stats.oldest_queued_seconds,
        )


class EnqueuedResponse(BaseModel):
    """The job that a review request made, or found made by the same request."""

    job_id: int
    status: str
    created: bool = Field(description="False when an Idempotency-Key matched a job.")


class FailureRetryResponse(BaseModel):
    """The job that a failure's retry queued again."""

    job_id: int
    status: str
    failure_id: int
    retry_count: int


class ResolveRequest(BaseModel):
    """What was done about a failure."""

    model_config = ConfigDict(extra="forbid")

    notes: (
        Annotated[str, StringConstraints(max_length=10_000), AfterValidator(reject_nul)]
        | None
    ) = None


class ManualReviewRequest(BaseModel):
    """Ask for the review of one commit or one pull request of a repository."""

    model_config = ConfigDict(extra="forbid")

    project_key: Name255
    repo_slug: Name255
    commit_id: CommitId | None = None
    pr_id: PositiveInt4 | None = None
    host: Name50 = "bitbucket"

    @model_validator(mode="after")
    def _one_subject(self) -> Self:
        """Refuse a request naming both a commit and a pull request, or neither."""
        if (self.commit_id is None) == (self.pr_id is None):
            raise ValueError("give exactly one of commit_id and pr_id")
        return self


class DiffContext(BaseModel):
    """Where an uploaded diff comes from, as the review and its email show it."""

    model_config = ConfigDict(extra="forbid")

    project_key: Name255 = "MANUAL"
    repo_slug: Name255 = "upload"
    title: Text255 | None = None
    author_name: Text255 | None = None
    author_email: Email | None = None

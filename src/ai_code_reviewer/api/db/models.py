"""Map the service's tables: the columns, defaults and indexes of the guide.

The names here are a public contract: the database guide's snippets import
``ReviewRecord`` and ``ReviewFailureLog`` from this module.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSON on SQLite (stored as text), JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """Return the current UTC time without tzinfo, as the DATETIME columns store it."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base carrying the naming convention of every constraint."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ReviewRecord(Base):
    """One completed review of a commit or pull request."""

    __tablename__ = "review_records"
    __table_args__ = (
        # Not in the guide: they keep "newest first" pages and retention off
        # full scans at a million rows (see docs/BENCHMARKS.md).
        Index("ix_review_records_created_at", "created_at"),
        Index("ix_review_records_project_key_id", "project_key", "id"),
        Index("ix_review_records_author_email_id", "author_email", "id"),
        Index("ix_review_records_job_id", "job_id", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime, default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )

    review_type: Mapped[str] = mapped_column(String(50))
    trigger_type: Mapped[str] = mapped_column(String(50))

    project_key: Mapped[str] = mapped_column(String(255), index=True)
    repo_slug: Mapped[str] = mapped_column(String(255), index=True)

    commit_id: Mapped[str | None] = mapped_column(String(255), index=True)
    pr_id: Mapped[int | None] = mapped_column(Integer, index=True)

    author_name: Mapped[str | None] = mapped_column(String(255))
    author_email: Mapped[str | None] = mapped_column(String(255), index=True)

    diff_content: Mapped[str] = mapped_column(Text)
    review_feedback: Mapped[str] = mapped_column(Text)

    email_recipients: Mapped[list[str] | None] = mapped_column(JSONType)
    email_sent: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )

    llm_provider: Mapped[str | None] = mapped_column(String(50))
    llm_model: Mapped[str | None] = mapped_column(String(100))

    # Not in the guide: the job that made the review (one review per job:
    # a unique index), how long it took, and how delivery to people and to
    # the Git host went. The link columns carry no foreign key so that adding
    # them to a large SQLite table is an ALTER, not a rebuild.
    job_id: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    email_status: Mapped[str | None] = mapped_column(String(20))
    publish_status: Mapped[str | None] = mapped_column(String(20))

    # Not in the guide: the review as data. ``findings`` is a list of
    # Finding.to_json() objects, ``coverage`` the files reviewed, skipped
    # (with the reason) and cut; the token counts and cost add up every model
    # call of the review (None for the built-in reviewer's cost).
    summary: Mapped[str | None] = mapped_column(Text)
    findings: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    coverage: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    llm_cost_usd: Mapped[float | None] = mapped_column(Float)
    # Where the reviewed commit or pull request is on the Git host's web UI,
    # as the host itself gave it; emails link to it.
    change_url: Mapped[str | None] = mapped_column(String(2048))


class ReviewFailureLog(Base):
    """One review attempt that gave up, kept for troubleshooting and retry."""

    __tablename__ = "review_failure_logs"
    __table_args__ = (
        Index("ix_review_failure_logs_created_at", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime, default=utcnow, server_default=text("CURRENT_TIMESTAMP")
    )

    event_type: Mapped[str] = mapped_column(String(50), index=True)
    event_key: Mapped[str | None] = mapped_column(String(100))
    request_payload: Mapped[dict[str, Any] | list[Any] | None] = mapped_column(JSONType)

    project_key: Mapped[str | None] = mapped_column(String(255), index=True)
    repo_slug: Mapped[str | None] = mapped_column(String(255), index=True)
    commit_id: Mapped[str | None] = mapped_column(String(255))
    pr_id: Mapped[int | None] = mapped_column(Integer)

    author_name: Mapped[str | None] = mapped_column(String(255))
    author_email: Mapped[str | None] = mapped_column(String(255))

    failure_stage: Mapped[str] = mapped_column(String(100), index=True)
    error_type: Mapped[str] = mapped_column(String(255))
    error_message: Mapped[str] = mapped_column(Text)
    error_stacktrace: Mapped[str | None] = mapped_column(Text)

    retry_count: Mapped[int] = mapped_column(
        Integer, default=0, server_default=text("0")
    )
    resolved: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), index=True
    )
    resolution_notes: Mapped[str | None] = mapped_column(Text)

    # Not in the guide: the job that gave up, so that it can be retried.
    job_id: Mapped[int | None] = mapped_column(Integer, index=True)


class ReviewJob(Base):
    """One unit of review work, claimed by a worker under a lease."""

    __tablename__ = "review_jobs"
    __table_args__ = (
        Index("ix_review_jobs_status_run_after", "status", "run_after"),
        Index("ix_review_jobs_status_locked_until", "status", "locked_until"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(
        String(20), default="queued", server_default=text("'queued'")
    )
    dedupe_key: Mapped[str] = mapped_column(String(512), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    max_attempts: Mapped[int] = mapped_column(Integer, default=5, server_default="5")
    run_after: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(255))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    failure_stage: Mapped[str | None] = mapped_column(String(100))
    review_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class WebhookDelivery(Base):
    """One webhook delivery as received, with what became of it."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("host", "delivery_id"),
        Index("ix_webhook_deliveries_received_at", "received_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(20))
    delivery_id: Mapped[str | None] = mapped_column(String(255))
    event_key: Mapped[str | None] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    job_ids: Mapped[list[int]] = mapped_column(JSONType, default=list)
    body_sha256: Mapped[str | None] = mapped_column(String(64))

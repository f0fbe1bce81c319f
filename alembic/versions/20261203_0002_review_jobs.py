"""Durable review jobs and webhook deliveries; link reviews and failures to jobs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def json_type() -> sa.types.TypeEngine[Any]:
    """Return JSON on SQLite and JSONB on PostgreSQL."""
    return sa.JSON().with_variant(JSONB(), "postgresql")


def create_review_jobs() -> None:
    """Create review_jobs and the indexes the claim query uses."""
    op.create_table(
        "review_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column(
            "status", sa.String(20), nullable=False, server_default=sa.text("'queued'")
        ),
        sa.Column("dedupe_key", sa.String(512), nullable=False),
        sa.Column("payload", json_type(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("max_attempts", sa.Integer(), nullable=False, server_default="5"),
        sa.Column("run_after", sa.DateTime(), nullable=False),
        sa.Column("locked_by", sa.String(255), nullable=True),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failure_stage", sa.String(100), nullable=True),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_jobs"),
        sa.UniqueConstraint("dedupe_key", name="uq_review_jobs_dedupe_key"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_review_jobs_status_run_after", "review_jobs", ["status", "run_after"]
    )
    op.create_index(
        "ix_review_jobs_status_locked_until",
        "review_jobs",
        ["status", "locked_until"],
    )


def create_webhook_deliveries() -> None:
    """Create webhook_deliveries, unique per host and delivery id."""
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(20), nullable=False),
        sa.Column("delivery_id", sa.String(255), nullable=True),
        sa.Column("event_key", sa.String(100), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("job_ids", json_type(), nullable=False),
        sa.Column("body_sha256", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_deliveries"),
        sa.UniqueConstraint("host", "delivery_id", name="uq_webhook_deliveries_host"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_webhook_deliveries_received_at", "webhook_deliveries", ["received_at"]
    )


def upgrade() -> None:
    """Add the job tables and the columns that link reviews and failures to jobs."""
    create_review_jobs()
    create_webhook_deliveries()
    op.add_column("review_records", sa.Column("job_id", sa.Integer(), nullable=True))
    op.add_column(
        "review_records", sa.Column("duration_ms", sa.Integer(), nullable=True)
    )
    op.add_column(
        "review_records", sa.Column("email_status", sa.String(20), nullable=True)
    )
    op.add_column(
        "review_records", sa.Column("publish_status", sa.String(20), nullable=True)
    )
    op.create_index(
        "ix_review_records_job_id", "review_records", ["job_id"], unique=True
    )
    op.add_column(
        "review_failure_logs", sa.Column("job_id", sa.Integer(), nullable=True)
    )
    op.create_index("ix_review_failure_logs_job_id", "review_failure_logs", ["job_id"])


def downgrade() -> None:
    """Remove the job tables and the link columns."""
    with op.batch_alter_table("review_failure_logs") as batch:
        batch.drop_index("ix_review_failure_logs_job_id")
        batch.drop_column("job_id")
    with op.batch_alter_table("review_records") as batch:
        batch.drop_index("ix_review_records_job_id")
        for column in ("publish_status", "email_status", "duration_ms", "job_id"):
            batch.drop_column(column)
    op.drop_table("webhook_deliveries")
    op.drop_table("review_jobs")

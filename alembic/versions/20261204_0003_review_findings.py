"""Keep each review's findings, coverage and model usage as data.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("summary", "findings", "coverage", "prompt_tokens", "completion_tokens")


def json_type() -> sa.types.TypeEngine[Any]:
    """Return JSON on SQLite and JSONB on PostgreSQL."""
    return sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    """Add the structured review columns; old reviews keep them empty."""
    op.add_column("review_records", sa.Column("summary", sa.Text(), nullable=True))
    op.add_column("review_records", sa.Column("findings", json_type(), nullable=True))
    op.add_column("review_records", sa.Column("coverage", json_type(), nullable=True))
    for name in ("prompt_tokens", "completion_tokens"):
        op.add_column("review_records", sa.Column(name, sa.Integer(), nullable=True))
    op.add_column(
        "review_records", sa.Column("llm_cost_usd", sa.Float(), nullable=True)
    )


def downgrade() -> None:
    """Drop the structured review columns."""
    with op.batch_alter_table("review_records") as batch:
        for column in (*COLUMNS, "llm_cost_usd"):
            batch.drop_column(column)

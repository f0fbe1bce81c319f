"""Keep the web address of each reviewed commit or pull request.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add change_url; older reviews keep it empty."""
    op.add_column(
        "review_records", sa.Column("change_url", sa.String(2048), nullable=True)
    )


def downgrade() -> None:
    """Drop change_url."""
    with op.batch_alter_table("review_records") as batch:
        batch.drop_column("change_url")

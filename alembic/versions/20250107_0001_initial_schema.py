"""Initial schema: review_records and review_failure_logs, as in the guide.

Databases created by earlier releases without Alembic already hold these
tables; this revision adopts them: it creates only the tables and indexes that
are missing, and refuses a table that lacks one of the guide's columns.

Revision ID: 0001
Revises:
Create Date: 2025-01-07 00:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from ai_code_reviewer.errors import DatabaseError

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def json_type() -> sa.types.TypeEngine[Any]:
    """Return JSON on SQLite and JSONB on PostgreSQL."""
    return sa.JSON().with_variant(JSONB(), "postgresql")


def review_records_columns() -> list[sa.Column[object]]:
    """Return the columns of review_records."""
    return [
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "created_at",
            sa.DateTime(),
            nullable=False,
            server_default=sa.text("CURRENT_TIMESTAMP"),
        ),
        sa.Column("review_type", sa.String(50), nullable=False),
        sa.Column("trigger_type", sa.String(50), nullable=False),
        sa.Column("project_key", sa.String(255), nullable=False),
        sa.Column("repo_slug", sa.String(255), nullable=False),
        sa.Column("commit_id", sa.String(255), nullable=True),
        sa.Column("pr_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(255), nullable=True),
        sa.Column("author_email", sa.String(255), nullable=True),
        sa.Column("diff_content", sa.Text(), nullable=False),
        sa.Column("review_feedback", sa.Text(), nullable=False),
        sa.Column("email_recipients", json_type(), nullable=True),
        sa.Column(
            "email_sent", sa.Boolean(), nullable=False, server_default=sa.false()
        ),
        sa.Column("llm_provider", sa.String(50), nullable=True),
        sa.Column("llm_model", sa.String(100), nullable=True),
    ]


def failure_logs_columns() -> list[sa.Column[object]]:
    """Return the columns of review_failure_logs."""
    return [
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "created_at",
            sa.DateTime(),
            nullable=False,
            server_default=sa.text("CURRENT_TIMESTAMP"),
        ),
        sa.Column("event_type", sa.String(50), nullable=False),
        sa.Column("event_key", sa.String(100), nullable=True),
        sa.Column("request_payload", json_type(), nullable=True),
        sa.Column("project_key", sa.String(255), nullable=True),
        sa.Column("repo_slug", sa.String(255), nullable=True),
        sa.Column("commit_id", sa.String(255), nullable=True),
        sa.Column("pr_id", sa.Integer(), nullable=True),
        sa.Column("author_name", sa.String(255), nullable=True),
        sa.Column("author_email", sa.String(255), nullable=True),
        sa.Column("failure_stage", sa.String(100), nullable=False),
        sa.Column("error_type", sa.String(255), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("error_stacktrace", sa.Text(), nullable=True),
        sa.Column(
            "retry_count", sa.Integer(), nullable=False, server_default=sa.text("0")
        ),
        sa.Column("resolved", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("resolution_notes", sa.Text(), nullable=True),
    ]


INDEXES: dict[str, list[tuple[str, list[str]]]] = {
    "review_records": [
        ("ix_review_records_project_key", ["project_key"]),
        ("ix_review_records_repo_slug", ["repo_slug"]),
        ("ix_review_records_commit_id", ["commit_id"]),
        ("ix_review_records_pr_id", ["pr_id"]),
        ("ix_review_records_author_email", ["author_email"]),
        ("ix_review_records_created_at", ["created_at"]),
        ("ix_review_records_project_key_id", ["project_key", "id"]),
        ("ix_review_records_author_email_id", ["author_email", "id"]),
    ],
    "review_failure_logs": [
        ("ix_review_failure_logs_event_type", ["event_type"]),
        ("ix_review_failure_logs_project_key", ["project_key"]),
        ("ix_review_failure_logs_repo_slug", ["repo_slug"]),
        ("ix_review_failure_logs_failure_stage", ["failure_stage"]),
        ("ix_review_failure_logs_resolved", ["resolved"]),
        ("ix_review_failure_logs_created_at", ["created_at"]),
    ],
}


def adopt_or_create(
    inspector: sa.Inspector, table: str, columns: list[sa.Column[object]]
) -> bool:
    """Create ``table``, or check that an existing one has every column.

    Returns True when an existing table was adopted.
    """
    if not inspector.has_table(table):
        op.create_table(
            table,
            *columns,
            sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
            sqlite_autoincrement=True,
        )
        return False
    present = {column["name"] for column in inspector.get_columns(table)}
    missing = [column.name for column in columns if column.name not in present]
    if missing:
        raise DatabaseError(
            f"table {table} exists but lacks columns {', '.join(missing)}; "
            "this database was not made by ai-code-reviewer"
        )
    return True


def create_missing_indexes(inspector: sa.Inspector, table: str) -> None:
    """Create the indexes of ``table`` that do not exist yet."""
    present = set()
    if inspector.has_table(table):
        present = {index["name"] for index in inspector.get_indexes(table)}
    for name, columns in INDEXES[table]:
        if name not in present:
            op.create_index(name, table, columns)


# Columns the guide leaves nullable but that always have a value here, with
# the value a legacy row without one gets.
FILLED: dict[str, dict[str, sa.ColumnElement[Any]]] = {
    "review_records": {
        "created_at": sa.func.current_timestamp(),
        "email_sent": sa.false(),
    },
    "review_failure_logs": {
        "created_at": sa.func.current_timestamp(),
        "retry_count": sa.literal(0),
        "resolved": sa.false(),
    },
}


def tighten_legacy_columns(inspector: sa.Inspector, table: str) -> None:
    """Bring an adopted legacy table's column types and nullability to the models'.

    Defaulted columns are filled and made NOT NULL; on PostgreSQL, JSON
    columns become JSONB. SQLite reports a legacy ``INTEGER PRIMARY KEY``
    without NOT NULL as nullable, which is fixed in the same table rebuild.
    """
    columns = {c["name"]: c for c in inspector.get_columns(table)}
    loose = [name for name in FILLED[table] if columns[name]["nullable"]]
    target = sa.table(table, *(sa.column(name) for name in loose))
    for name in loose:
        fill = target.update().where(target.c[name].is_(None))
        op.execute(fill.values({name: FILLED[table][name]}))
    if columns["id"]["nullable"]:
        loose.append("id")
    json_columns = []
    if op.get_bind().dialect.name == "postgresql":
        json_columns = [
            name
            for name, column in columns.items()
            if isinstance(column["type"], sa.JSON)
            and not isinstance(column["type"], JSONB)
        ]
    if not loose and not json_columns:
        return
    with op.batch_alter_table(table) as batch:
        for name in loose:
            batch.alter_column(
                name, existing_type=columns[name]["type"], nullable=False
            )
        for name in json_columns:
            batch.alter_column(
                name, type_=json_type(), postgresql_using=f"{name}::jsonb"
            )


def upgrade() -> None:
    """Create the two tables and their indexes, adopting tables that exist."""
    tables = {
        "review_records": review_records_columns(),
        "review_failure_logs": failure_logs_columns(),
    }
    inspector = sa.inspect(op.get_bind())
    adopted = [t for t, cols in tables.items() if adopt_or_create(inspector, t, cols)]
    for table in adopted:
        tighten_legacy_columns(sa.inspect(op.get_bind()), table)
    inspector = sa.inspect(op.get_bind())
    create_missing_indexes(inspector, "review_records")
    create_missing_indexes(inspector, "review_failure_logs")


def downgrade() -> None:
    """Drop both tables."""
    op.drop_table("review_failure_logs")
    op.drop_table("review_records")

"""Retention: what is older than the period goes, what is open or recent stays."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ai_code_reviewer.api.app import create_app
from ai_code_reviewer.api.db import database as db
from ai_code_reviewer.api.db import retention
from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import ReviewFailureLog, ReviewRecord, utcnow
from ai_code_reviewer.errors import InvalidRequest
from tests.conftest import FailureFactory, ReviewFactory, make_settings


async def count(
    database: Database, model: type[ReviewRecord | ReviewFailureLog]
) -> int:
    """Count the rows of one table."""
    async with database.session() as session:
        return (
            await session.execute(select(func.count()).select_from(model))
        ).scalar_one()


async def test_prune_deletes_old_reviews_and_resolved_failures(
    database: Database, make_review: ReviewFactory, make_failure: FailureFactory
) -> None:
    """Reviews and resolved failures past the period go; the rest stays."""
    old = utcnow() - timedelta(days=100)
    await make_review(created_at=old)
    recent = await make_review()
    await make_failure(created_at=old, resolved=True)
    await make_failure(created_at=old, resolved=False)
    await make_failure(resolved=True)

    async with database.session() as session:
        result = await retention.prune(session, days=90)

    assert (result.reviews, result.failures) == (1, 1)
    async with database.session() as session:
        kept = (await session.scalars(select(ReviewRecord.id))).all()
    assert kept == [recent.id]
    assert await count(database, ReviewFailureLog) == 2


async def test_prune_works_in_batches(
    database: Database, make_review: ReviewFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More old rows than one batch are all deleted, in several transactions."""
    monkeypatch.setattr(retention, "BATCH_SIZE", 3)
    for _ in range(10):
        await make_review(created_at=utcnow() - timedelta(days=40))

    async with database.session() as session:
        result = await retention.prune(session, days=30)

    assert result.reviews == 10
    assert await count(database, ReviewRecord) == 0


async def test_prune_refuses_less_than_a_day(database: Database) -> None:
    """A period under one day is refused before anything is deleted."""
    async with database.session() as session:
        with pytest.raises(InvalidRequest, match="at least 1 day"):
            await retention.prune(session, days=0)


async def test_cleanup_old_reviews_uses_the_default_database(
    database: Database, make_review: ReviewFactory
) -> None:
    """cleanup_old_reviews(days=90) prunes the configured default database."""
    await make_review(created_at=utcnow() - timedelta(days=91))
    await make_review()
    db.configure(database.settings)

    deleted = await retention.cleanup_old_reviews(days=90)
    await db.close_db()

    assert deleted == 1
    assert await count(database, ReviewRecord) == 1


async def test_service_prunes_at_start_when_retention_is_set(
    sqlite_db_url: str, tmp_path: Path
) -> None:
    """With RETENTION_DAYS set, the running service deletes old reviews itself."""
    settings = make_settings(sqlite_db_url, tmp_path, retention_days=30)
    database = Database(settings)
    async with database.session() as session:
        session.add(
            ReviewRecord(
                created_at=utcnow() - timedelta(days=31),
                review_type="auto",
                trigger_type="commit",
                project_key="P",
                repo_slug="r",
                diff_content="d",
                review_feedback="f",
            )
        )
        await session.commit()

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        for _ in range(50):
            if await count(database, ReviewRecord) == 0:
                break
            await asyncio.sleep(0.1)
    remaining = await count(database, ReviewRecord)
    await database.dispose()

    assert remaining == 0

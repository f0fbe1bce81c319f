"""Smoke test of the shared fixtures (replaced by real tests)."""

from __future__ import annotations

from tests.conftest import ReviewFactory

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.repository import PageRequest, ReviewFilter, ReviewRepository


async def test_factory_stores_a_review(database: Database, make_review: ReviewFactory) -> None:
    """A review made by the factory is listed by the repository."""
    await make_review()

    async with database.session() as session:
        page = await ReviewRepository(session).list(ReviewFilter(), PageRequest(with_total=True))

    assert page.total == 1

"""Routes of /api/reviews: lists, one review, and counts.

The static paths are declared before ``/{review_id}`` so that "latest" or
"stats" is never read as an id.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from ai_code_reviewer.api.db.repository import (
    PageRequest,
    ReviewFilter,
    ReviewRepository,
)
from ai_code_reviewer.api.deps import SessionDep
from ai_code_reviewer.api.schemas import (
    Email,
    Instant,
    PageDep,
    PositiveInt4,
    ReviewDetail,
    ReviewPage,
    ReviewStatsResponse,
    Text255,
    mark_utc,
)
from ai_code_reviewer.errors import InvalidRequest

router = APIRouter(prefix="/api/reviews", tags=["reviews"])

SINCE = "Created at or after; ISO 8601, read as UTC when it has no offset."
UNTIL = "Created before; ISO 8601, read as UTC when it has no offset."


def review_filter(
    project_key: Text255 | None = None,
    repo_slug: Text255 | None = None,
    author_email: Email | None = None,
    commit_id: Text255 | None = None,
    pr_id: PositiveInt4 | None = None,
    since: Annotated[Instant | None, Field(description=SINCE)] = None,
    until: Annotated[Instant | None, Field(description=UNTIL)] = None,
) -> ReviewFilter:
    """Read the filters of the review list; since is inclusive, until exclusive."""
    if since is not None and until is not None and since > until:
        raise InvalidRequest(
            f"since ({mark_utc(since).isoformat()}) is later than "
            f"until ({mark_utc(until).isoformat()})"
        )
    return ReviewFilter(
        project_key=project_key,
        repo_slug=repo_slug,
        author_email=author_email,
        commit_id=commit_id,
        pr_id=pr_id,
        since=since,
        until=until,
    )


ReviewFilterDep = Annotated[ReviewFilter, Depends(review_filter)]


async def _review_page(
    session: AsyncSession, filters: ReviewFilter, paging: PageRequest
) -> ReviewPage:
    """Fetch one page of reviews matching ``filters``."""
    page = await ReviewRepository(session).list(filters, paging)
    return ReviewPage.build(page, paging)


@router.get("/latest")
async def latest_reviews(session: SessionDep, paging: PageDep) -> ReviewPage:
    """List the newest reviews."""
    return await _review_page(session, ReviewFilter(), paging)


@router.get("/stats")
async def review_stats(session: SessionDep) -> ReviewStatsResponse:
    """Count reviews overall, recently, by project and by model provider."""
    stats = await ReviewRepository(session).stats()
    return ReviewStatsResponse.model_validate(stats)


@router.get("/by-project/{project_key}")
async def reviews_by_project(
    session: SessionDep, project_key: Text255, paging: PageDep
) -> ReviewPage:
    """List the reviews of one project, newest first."""
    filters = ReviewFilter(project_key=project_key)
    return await _review_page(session, filters, paging)


@router.get("/by-author/{email}")
async def reviews_by_author(
    session: SessionDep, email: Email, paging: PageDep
) -> ReviewPage:
    """List the reviews of one author's changes, newest first."""
    filters = ReviewFilter(author_email=email)
    return await _review_page(session, filters, paging)


@router.get("")
async def list_reviews(
    session: SessionDep, filters: ReviewFilterDep, paging: PageDep
) -> ReviewPage:
    """List the reviews matching every filter given, newest first."""
    return await _review_page(session, filters, paging)


@router.get("/{review_id}", responses={404: {"description": "No such review"}})
async def get_review(session: SessionDep, review_id: PositiveInt4) -> ReviewDetail:
    """Return one review with every column, its diff included."""
    record = await ReviewRepository(session).get(review_id)
    return ReviewDetail.model_validate(record)

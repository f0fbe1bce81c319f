"""Routes of /api/failures: the list, one failure log, and counts.

The static path ``/stats`` is declared before ``/{failure_id}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from ai_code_reviewer.api.db.repository import FailureFilter, FailureLogRepository
from ai_code_reviewer.api.deps import SessionDep
from ai_code_reviewer.api.schemas import (
    FailureLogItem,
    FailurePage,
    FailureStatsResponse,
    PageDep,
    PositiveInt4,
    Text50,
    Text100,
    Text255,
)

router = APIRouter(prefix="/api/failures", tags=["failures"])


def failure_filter(
    resolved: bool | None = None,
    failure_stage: Text100 | None = None,
    event_type: Text50 | None = None,
    project_key: Text255 | None = None,
    repo_slug: Text255 | None = None,
) -> FailureFilter:
    """Read the filters of the failure list."""
    return FailureFilter(
        resolved=resolved,
        failure_stage=failure_stage,
        event_type=event_type,
        project_key=project_key,
        repo_slug=repo_slug,
    )


FailureFilterDep = Annotated[FailureFilter, Depends(failure_filter)]


@router.get("/stats")
async def failure_stats(session: SessionDep) -> FailureStatsResponse:
    """Count failure logs, and unresolved ones by stage and by error type."""
    stats = await FailureLogRepository(session).stats()
    return FailureStatsResponse.from_stats(stats)


@router.get("")
async def list_failures(
    session: SessionDep, filters: FailureFilterDep, paging: PageDep
) -> FailurePage:
    """List the failure logs matching every filter given, newest first."""
    page = await FailureLogRepository(session).list(filters, paging)
    return FailurePage.build(page, paging)


@router.get("/{failure_id}", responses={404: {"description": "No such failure log"}})
async def get_failure(session: SessionDep, failure_id: PositiveInt4) -> FailureLogItem:
    """Return one failure log with every column."""
    record = await FailureLogRepository(session).get(failure_id)
    return FailureLogItem.model_validate(record)

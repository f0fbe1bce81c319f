"""Routes of /api/failures: the list, one failure log, counts, resolve and retry.

The static path ``/stats`` is declared before ``/{failure_id}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from ai_code_reviewer.api.db.models import utcnow
from ai_code_reviewer.api.db.repository import FailureFilter, FailureLogRepository
from ai_code_reviewer.api.deps import SessionDep
from ai_code_reviewer.api.jobs import operations
from ai_code_reviewer.api.schemas import (
    FailureLogItem,
    FailurePage,
    FailureRetryResponse,
    FailureStatsResponse,
    PageDep,
    PositiveInt4,
    ResolveRequest,
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


@router.post(
    "/{failure_id}/resolve", responses={404: {"description": "No such failure log"}}
)
async def resolve_failure(
    session: SessionDep,
    failure_id: PositiveInt4,
    body: Annotated[ResolveRequest | None, Body()] = None,
) -> FailureLogItem:
    """Mark a failure log resolved, adding the notes given to any it had."""
    notes = body.notes if body is not None else None
    record = await operations.resolve_failure(session, failure_id, notes)
    return FailureLogItem.model_validate(record)


@router.post(
    "/{failure_id}/retry",
    status_code=202,
    responses={
        404: {"description": "No such failure log"},
        409: {"description": "No job to retry, or its job is queued or running"},
    },
)
async def retry_failure(
    session: SessionDep, failure_id: PositiveInt4
) -> FailureRetryResponse:
    """Queue the failed job again and count the retry on its failure log."""
    retried = await operations.retry_failure(session, failure_id, utcnow())
    return FailureRetryResponse(
        job_id=retried.job.id,
        status=retried.job.status,
        failure_id=retried.failure.id,
        retry_count=retried.failure.retry_count,
    )

"""Routes of /api/jobs: the list, counts, one job (waiting for it), retry, cancel.

The static path ``/stats`` is declared before ``/{job_id}``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import Field

from ai_code_reviewer.api.db.models import ReviewJob, utcnow
from ai_code_reviewer.api.deps import DatabaseDep, SessionDep
from ai_code_reviewer.api.jobs import operations
from ai_code_reviewer.api.jobs.clock import SystemClock
from ai_code_reviewer.api.schemas import (
    JobItem,
    JobKind,
    JobPage,
    JobStatsResponse,
    JobStatus,
    PageDep,
    PositiveInt4,
)

router = APIRouter(prefix="/api/jobs", tags=["jobs"])

MAX_WAIT = 60
WAIT = (
    f"Seconds (0 to {MAX_WAIT}) to wait for the job to finish before answering; "
    "the job is answered either way."
)
Responses = dict[int | str, dict[str, Any]]
NOT_FOUND: Responses = {404: {"description": "No such job"}}
REFUSED: Responses = {
    **NOT_FOUND,
    409: {"description": "The job's status does not allow it"},
}


@router.get("")
async def list_jobs(
    session: SessionDep,
    paging: PageDep,
    status: JobStatus | None = None,
    kind: JobKind | None = None,
) -> JobPage:
    """List the jobs with the status and kind given, newest first."""
    page = await operations.list_jobs(session, status, kind, paging)
    return JobPage.build(page, paging)


@router.get("/stats")
async def job_stats(session: SessionDep) -> JobStatsResponse:
    """Count jobs by status and tell how long the oldest queued job has waited."""
    stats = await operations.job_stats(session, utcnow())
    return JobStatsResponse.from_stats(stats)


@router.get("/{job_id}", responses=NOT_FOUND)
async def get_job(
    database: DatabaseDep,
    job_id: PositiveInt4,
    wait: Annotated[float, Field(ge=0, le=MAX_WAIT, description=WAIT)] = 0,
) -> JobItem:
    """Return one job, once it has finished or ``wait`` seconds have passed."""

    async def load() -> ReviewJob:
        # A new session each time: a waiting request holds no connection.
        async with database.session() as session:
            return await operations.get_job(session, job_id)

    job = await operations.wait_for_job(load, wait, SystemClock())
    return JobItem.model_validate(job)


@router.post("/{job_id}/retry", responses=REFUSED)
async def retry_job(session: SessionDep, job_id: PositiveInt4) -> JobItem:
    """Queue a failed, dead or cancelled job again for a fresh set of tries."""
    job = await operations.retry_job(session, job_id, utcnow())
    return JobItem.model_validate(job)


@router.post("/{job_id}/cancel", responses=REFUSED)
async def cancel_job(session: SessionDep, job_id: PositiveInt4) -> JobItem:
    """Cancel a queued or running job."""
    job = await operations.cancel_job(session, job_id, utcnow())
    return JobItem.model_validate(job)

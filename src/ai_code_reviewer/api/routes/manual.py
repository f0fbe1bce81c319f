"""Routes that ask for a review by hand: of a commit, a pull request or a diff.

POST only, under /api/reviews beside the read routes. Each enqueues one job
and, once it is committed, answers 202 with the job's id and a Location; the
worker does the review. A request with an ``Idempotency-Key`` header that
was sent before answers the job the first one made instead of a new one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from ai_code_reviewer.api.bodies import read_limited
from ai_code_reviewer.api.db.models import ReviewJob, utcnow
from ai_code_reviewer.api.deps import SessionDep, SettingsDep
from ai_code_reviewer.api.jobs import specs
from ai_code_reviewer.api.jobs.queue import QUEUED, JobSpec, enqueue
from ai_code_reviewer.api.schemas import (
    DiffContext,
    EnqueuedResponse,
    ManualReviewRequest,
)
from ai_code_reviewer.errors import InvalidDiff, InvalidRequest, PayloadTooLarge

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/reviews", tags=["reviews"])

RAW_TYPES = ("text/x-diff", "text/x-patch", "text/plain", "application/octet-stream")
MULTIPART = "multipart/form-data"
# Room in a multipart body for its boundaries, part headers and text fields.
FORM_ALLOWANCE = 64 * 1024
# A cheap sniff; the pipeline parses the diff fully when the job runs.
DIFF_MARK = re.compile(r"^(?:diff --git |@@ |Binary files )", re.MULTILINE)

IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=255,
        description="Send the same key again to get the same job, not a new one.",
    ),
]
ANSWERS: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "Queued, or found queued by the same Idempotency-Key.",
        "headers": {"Location": {"description": "/api/jobs/{job_id}"}},
    },
    422: {"description": "The request cannot be used; the detail says why."},
}
DIFF_ANSWERS: dict[int | str, dict[str, Any]] = {
    **ANSWERS,
    413: {"description": "The diff is larger than MAX_DIFF_BYTES."},
}
BINARY: dict[str, Any] = {"type": "string", "format": "binary"}
FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": BINARY,
        **{name: {"type": "string"} for name in DiffContext.model_fields},
    },
}
DIFF_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            **{media: {"schema": BINARY} for media in RAW_TYPES},
            MULTIPART: {"schema": FORM_SCHEMA},
        },
    }
}


def require_host(request: Request, host: str) -> None:
    """Raise InvalidRequest unless the application has a Git host named ``host``."""
    githosts: Mapping[str, object] = getattr(request.app.state, "githosts", None) or {}
    if host in githosts:
        return
    known = ", ".join(sorted(githosts)) or "none"
    raise InvalidRequest(
        f"no Git host named {host!r} is configured; configured hosts: {known}"
    )


def review_job(
    ask: ManualReviewRequest, max_attempts: int, idempotency_key: str | None
) -> JobSpec:
    """Describe the job that reviews the commit or pull request of ``ask``."""
    common: dict[str, Any] = {
        "host": ask.host,
        "project_key": ask.project_key,
        "repo_slug": ask.repo_slug,
        "max_attempts": max_attempts,
        "origin": "manual",
        "idempotency_key": idempotency_key,
    }
    if ask.commit_id is not None:
        return specs.commit_job(commit_id=ask.commit_id, **common)
    if ask.pr_id is not None:
        return specs.pull_request_job(pr_id=ask.pr_id, source_commit=None, **common)
    raise InvalidRequest("give exactly one of commit_id and pr_id")


async def _status_of_replay(session: AsyncSession, job_id: int, spec: JobSpec) -> str:
    """Return the status of the job an Idempotency-Key matched.

    A key sent again with another request is refused with 422, as the IETF
    draft "The Idempotency-Key HTTP Header Field" (section 2.7) advises.
    """
    query = select(ReviewJob.kind, ReviewJob.status, ReviewJob.payload)
    row = (await session.execute(query.where(ReviewJob.id == job_id))).one()
    if row.kind != spec.kind or row.payload != spec.payload:
        await session.rollback()
        raise InvalidRequest(
            f"this Idempotency-Key was sent before with another request (job {job_id})"
        )
    return str(row.status)


async def enqueue_answer(
    request: Request, response: Response, session: AsyncSession, spec: JobSpec
) -> EnqueuedResponse:
    """Enqueue ``spec``, commit, nudge the worker, and describe the job."""
    job_id, created = await enqueue(session, spec, utcnow())
    status = QUEUED if created else await _status_of_replay(session, job_id, spec)
    await session.commit()
    logger.info(
        "review.requested",
        extra={"job_id": job_id, "kind": spec.kind, "new_job": created},
    )
    wake = getattr(request.app.state, "wake_worker", None)
    if callable(wake):
        wake()
    response.headers["Location"] = f"/api/jobs/{job_id}"
    return EnqueuedResponse(job_id=job_id, status=status, created=created)


@router.post("", status_code=202, responses=ANSWERS)
async def request_review(
    ask: ManualReviewRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> EnqueuedResponse:
    """Queue the review of one commit or one pull request."""
    require_host(request, ask.host)
    spec = review_job(ask, settings.job_max_attempts, idempotency_key)
    return await enqueue_answer(request, response, session, spec)


def check_diff(raw: bytes) -> str:
    """Return ``raw`` decoded; raise InvalidDiff when it cannot be a unified diff."""
    if not raw.strip():
        raise InvalidDiff("the diff is empty")
    if b"\x00" in raw:
        raise InvalidDiff("the diff holds NUL bytes: binary content cannot be reviewed")
    text = raw.decode("utf-8", errors="replace")
    if DIFF_MARK.search(text) is None:
        raise InvalidDiff(
            "this is not a unified diff: no line starts with "
            '"diff --git ", "@@ " or "Binary files "'
        )
    return text


def too_large(limit: int) -> PayloadTooLarge:
    """Say that the diff is over its limit."""
    return PayloadTooLarge(f"the diff is larger than MAX_DIFF_BYTES ({limit} bytes)")


async def read_at_most(request: Request, limit: int, allowance: int = 0) -> bytes:
    """Read the body, refusing with 413 a diff over ``limit`` bytes."""
    try:
        return await read_limited(request, limit + allowance, "diff")
    except PayloadTooLarge:
        raise too_large(limit) from None


async def parse_form(headers: Headers, body: bytes) -> FormData:
    """Parse a multipart body of one file and the fields of DiffContext."""

    async def replay() -> AsyncGenerator[bytes, None]:
        yield body

    fields = len(DiffContext.model_fields)
    parser = MultiPartParser(headers, replay(), max_files=1, max_fields=fields)
    try:
        return await parser.parse()
    except MultiPartException as exc:
        raise InvalidRequest(f"the form cannot be read: {exc.message}") from None


def merge_context(query: DiffContext, fields: dict[str, Any]) -> DiffContext:
    """Return the query's context overridden by the form's fields."""
    try:
        return DiffContext.model_validate(query.model_dump(exclude_unset=True) | fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidRequest(f"the form is invalid: {problems}") from None


async def read_form_diff(
    request: Request, limit: int, query: DiffContext
) -> tuple[str, DiffContext]:
    """Read the diff from the form field ``file``, and its context from the others."""
    body = await read_at_most(request, limit, FORM_ALLOWANCE)
    form = await parse_form(request.headers, body)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidRequest(
                "the form must carry the diff as the file field 'file'"
            )
        if upload.size is not None and upload.size > limit:
            raise too_large(limit)
        raw = await upload.read()
        fields = {name: value for name, value in form.multi_items() if name != "file"}
    finally:
        await form.close()
    return check_diff(raw), merge_context(query, fields)


def media_type(request: Request) -> str:
    """Return the request's Content-Type without its parameters, in lower case."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


@router.post("/diff", status_code=202, responses=DIFF_ANSWERS, openapi_extra=DIFF_BODY)
async def review_diff(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    context: Annotated[DiffContext, Query()],
    idempotency_key: IdempotencyKey = None,
) -> EnqueuedResponse:
    """Queue the review of an uploaded unified diff.

    Send the diff as the body (Content-Type text/x-diff, text/x-patch,
    text/plain or application/octet-stream), with its context in the query;
    or as the file field ``file`` of a multipart/form-data form, with its
    context in the query or the form's other fields.
    """
    kind, limit = media_type(request), settings.max_diff_bytes
    if kind == MULTIPART:
        diff, context = await read_form_diff(request, limit, context)
    elif kind in RAW_TYPES:
        diff = check_diff(await read_at_most(request, limit))
    else:
        raise InvalidRequest(
            f"send the diff as a body of type {', '.join(RAW_TYPES)}, or as the "
            f"file field 'file' of {MULTIPART}; got {kind or 'no Content-Type'}"
        )
    spec = specs.diff_job(
        diff=diff,
        max_attempts=settings.job_max_attempts,
        idempotency_key=idempotency_key,
        **context.model_dump(),
    )
    return await enqueue_answer(request, response, session, spec)

"""Decide what a failed job does next, and what its failure log says."""

from __future__ import annotations

import hashlib
import traceback
from collections.abc import Mapping
from typing import Any

import httpx
from sqlalchemy.exc import InterfaceError, OperationalError

from ai_code_reviewer.api.jobs.queue import DEAD, FAILED, ClaimedJob, GiveUp
from ai_code_reviewer.errors import ReviewerError, TransientError
from ai_code_reviewer.review.redact import redact, redact_mapping

MESSAGE_LIMIT = 4000
TRANSIENT_TYPES: tuple[type[BaseException], ...] = (
    TransientError,
    TimeoutError,
    ConnectionError,
    httpx.TransportError,
    OperationalError,
    InterfaceError,
)


def is_transient(error: BaseException) -> bool:
    """Tell whether ``error`` is worth another try.

    Timeouts, connection errors, 429s and 5xx (raised as TransientError) are;
    any other ReviewerError (401, 404, an invalid diff, a missing setting) is
    not. An error nobody planned for is tried again, within the job's tries,
    since a bug that shows once is often a race that will not show twice.
    """
    if isinstance(error, TRANSIENT_TYPES):
        return True
    return not isinstance(error, ReviewerError)


def retry_after(error: BaseException) -> float | None:
    """Return the seconds a server asked us to wait, if it did."""
    value = getattr(error, "retry_after", None)
    return float(value) if isinstance(value, int | float) else None


def describe(error: BaseException) -> str:
    """Return the error's message with any secret masked, cut to a sane length."""
    return redact(f"{error}" or type(error).__name__).text[:MESSAGE_LIMIT]


def stack_of(error: BaseException) -> str:
    """Return the error's stack trace with any secret masked."""
    return redact("".join(traceback.format_exception(error))).text


def safe_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return the job's payload fit for a failure log: secrets and diff text out."""
    kept = dict(payload)
    if isinstance(diff := kept.get("diff"), str):
        digest = hashlib.sha256(diff.encode("utf-8", "replace")).hexdigest()
        kept["diff"] = {"bytes": len(diff.encode("utf-8", "replace")), "sha256": digest}
    cleaned: dict[str, Any] = redact_mapping(kept)
    return cleaned


def failure_fields(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return the failure log's context columns from a job's payload."""
    return {
        "event_type": "webhook" if payload.get("origin") == "webhook" else "manual",
        "event_key": payload.get("event_key"),
        "project_key": payload.get("project_key"),
        "repo_slug": payload.get("repo_slug"),
        "commit_id": payload.get("commit_id"),
        "pr_id": payload.get("pr_id"),
        "author_name": payload.get("author_name"),
        "author_email": payload.get("author_email"),
    }


def giving_up(job: ClaimedJob, stage: str, error: BaseException) -> GiveUp:
    """Describe how ``job`` ends: failed at once, or dead after its last try."""
    return GiveUp(
        status=DEAD if is_transient(error) else FAILED,
        stage=stage,
        error_type=type(error).__name__,
        error_message=describe(error),
        error_stacktrace=stack_of(error),
        request_payload=safe_payload(job.payload),
    )

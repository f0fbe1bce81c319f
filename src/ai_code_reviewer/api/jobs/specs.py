"""Build the jobs that review a commit, a pull request or an uploaded diff.

The dedupe key says what "the same change" is: a commit of a repository on a
host; a pull request at one source commit (and, for a review asked by a
comment or a retarget, that comment or target); a push of one ref from one
commit to another; a range of commits. Webhook jobs for the same change
share a key and are therefore one job. A person asking for a review gets a
new job each time unless they send the same Idempotency-Key.

An ``expand_push`` job reviews nothing itself: when it runs, it lists the
commits the push added and enqueues one ``review_commit`` job per commit and,
past the per-push cap, one ``review_range`` job for the rest.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from ai_code_reviewer.api.jobs.queue import JobSpec

REVIEW_COMMIT = "review_commit"
REVIEW_PULL_REQUEST = "review_pull_request"
REVIEW_DIFF = "review_diff"
REVIEW_RANGE = "review_range"
EXPAND_PUSH = "expand_push"
KINDS = (REVIEW_COMMIT, REVIEW_PULL_REQUEST, REVIEW_DIFF, REVIEW_RANGE, EXPAND_PUSH)


def _manual_key(idempotency_key: str | None) -> str:
    """Return a key unique to this request, or to the caller's idempotency key."""
    if idempotency_key is None:
        return f"manual:{uuid.uuid4().hex}"
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return f"manual:{digest}"


def _change_job(
    kind: str,
    change_key: str,
    payload: dict[str, Any],
    max_attempts: int,
    idempotency_key: str | None,
) -> JobSpec:
    """Key a commit or PR job by its change (webhooks) or by its request (people)."""
    webhook = payload["origin"] == "webhook"
    key = change_key if webhook else _manual_key(idempotency_key)
    return JobSpec(kind, payload, key, max_attempts)


def commit_job(
    *,
    host: str,
    project_key: str,
    repo_slug: str,
    commit_id: str,
    max_attempts: int,
    origin: str = "webhook",
    event_key: str | None = None,
    idempotency_key: str | None = None,
) -> JobSpec:
    """Describe the review of one commit."""
    where = {"host": host, "project_key": project_key, "repo_slug": repo_slug}
    payload = {
        "origin": origin,
        **where,
        "commit_id": commit_id,
        "event_key": event_key,
    }
    key = f"commit:{host}:{project_key}/{repo_slug}:{commit_id}"
    return _change_job(REVIEW_COMMIT, key, payload, max_attempts, idempotency_key)


def pull_request_job(
    *,
    host: str,
    project_key: str,
    repo_slug: str,
    pr_id: int,
    source_commit: str | None,
    max_attempts: int,
    since_commit: str | None = None,
    variant: str | None = None,
    origin: str = "webhook",
    event_key: str | None = None,
    idempotency_key: str | None = None,
) -> JobSpec:
    """Describe the review of a pull request at one source commit.

    ``variant`` makes a review asked again at the same source commit (a
    review command's comment, a new target branch) a job of its own.
    """
    where = {"host": host, "project_key": project_key, "repo_slug": repo_slug}
    payload = {
        "origin": origin,
        **where,
        "pr_id": pr_id,
        "commit_id": source_commit,
        "since_commit": since_commit,
        "event_key": event_key,
    }
    key = f"pr:{host}:{project_key}/{repo_slug}:{pr_id}:{source_commit}"
    if variant:
        key = f"{key}:{variant}"
    return _change_job(REVIEW_PULL_REQUEST, key, payload, max_attempts, idempotency_key)


def push_job(
    *,
    host: str,
    project_key: str,
    repo_slug: str,
    ref: str,
    from_hash: str,
    to_hash: str,
    max_attempts: int,
    event_key: str | None = None,
) -> JobSpec:
    """Describe the listing of the commits one push added to one ref."""
    payload = {
        "origin": "webhook",
        "host": host,
        "project_key": project_key,
        "repo_slug": repo_slug,
        "ref": ref,
        "since_commit": from_hash,
        "commit_id": to_hash,
        "event_key": event_key,
    }
    key = f"push:{host}:{project_key}/{repo_slug}:{ref}:{from_hash}..{to_hash}"
    return JobSpec(EXPAND_PUSH, payload, key, max_attempts)


def range_job(
    *,
    host: str,
    project_key: str,
    repo_slug: str,
    since_commit: str,
    until_commit: str,
    max_attempts: int,
    event_key: str | None = None,
) -> JobSpec:
    """Describe the review, as one diff, of the commits after ``since_commit``."""
    payload = {
        "origin": "webhook",
        "host": host,
        "project_key": project_key,
        "repo_slug": repo_slug,
        "since_commit": since_commit,
        "commit_id": until_commit,
        "event_key": event_key,
    }
    key = f"range:{host}:{project_key}/{repo_slug}:{since_commit}..{until_commit}"
    return JobSpec(REVIEW_RANGE, payload, key, max_attempts)


def diff_job(
    *,
    diff: str,
    project_key: str,
    repo_slug: str,
    max_attempts: int,
    title: str | None = None,
    author_name: str | None = None,
    author_email: str | None = None,
    idempotency_key: str | None = None,
) -> JobSpec:
    """Describe the review of an uploaded unified diff, with no Git host."""
    payload: dict[str, Any] = {
        "origin": "manual",
        "diff": diff,
        "project_key": project_key,
        "repo_slug": repo_slug,
        "title": title,
        "author_name": author_name,
        "author_email": author_email,
    }
    return JobSpec(REVIEW_DIFF, payload, _manual_key(idempotency_key), max_attempts)

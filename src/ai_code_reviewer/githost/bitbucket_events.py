"""Read Bitbucket Data Center webhook bodies into the reviews they ask for.

Event payloads: Atlassian, "Event payload" (Bitbucket Data Center 9.x).
``repo:refs_changed`` asks for the commit each updated branch now points at;
``pr:opened`` and ``pr:from_ref_updated`` for the pull request at its new
source commit (only what came after ``previousFromHash`` for the latter).
Every other event asks for nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ZERO_HASH = "0" * 40
PING = "diagnostics:ping"
PUSH = "repo:refs_changed"
PR_OPENED = "pr:opened"
PR_UPDATED = "pr:from_ref_updated"


@dataclass(frozen=True)
class ReviewAsk:
    """One review a delivery asks for."""

    project_key: str
    repo_slug: str
    commit_id: str
    pr_id: int | None = None
    since_commit: str | None = None


class PayloadError(ValueError):
    """The body lacks a field the event needs, or has it in the wrong type."""


def _text(value: Any, where: str) -> str:
    """Return ``value`` as a non-empty string, or raise PayloadError naming it."""
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{where} must be a non-empty string")
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    """Return ``value`` as a JSON object, or raise PayloadError naming it."""
    if not isinstance(value, Mapping):
        raise PayloadError(f"{where} must be an object")
    return value


def _repository(value: Any, where: str) -> tuple[str, str]:
    """Return (project key, repository slug) of a repository object."""
    repository = _mapping(value, where)
    project = _mapping(repository.get("project"), f"{where}.project")
    key = _text(project.get("key"), f"{where}.project.key")
    return key, _text(repository.get("slug"), f"{where}.slug")


def push_asks(body: Mapping[str, Any]) -> list[ReviewAsk]:
    """Return the commits a push asks to review: each updated branch's new head."""
    project, repo = _repository(body.get("repository"), "repository")
    changes = body.get("changes")
    if not isinstance(changes, list):
        raise PayloadError("changes must be a list")
    asks = []
    for number, item in enumerate(changes):
        change = _mapping(item, f"changes[{number}]")
        ref = _mapping(change.get("ref"), f"changes[{number}].ref")
        to_hash = _text(change.get("toHash"), f"changes[{number}].toHash")
        if ref.get("type") != "BRANCH" or change.get("type") == "DELETE":
            continue
        if to_hash != ZERO_HASH:
            asks.append(ReviewAsk(project, repo, to_hash))
    return asks


def pull_request_asks(body: Mapping[str, Any], event_key: str) -> list[ReviewAsk]:
    """Return the pull request review a PR event asks for."""
    pull_request = _mapping(body.get("pullRequest"), "pullRequest")
    pr_id = pull_request.get("id")
    if not isinstance(pr_id, int) or isinstance(pr_id, bool) or pr_id < 1:
        raise PayloadError("pullRequest.id must be a positive integer")
    to_ref = _mapping(pull_request.get("toRef"), "pullRequest.toRef")
    project, repo = _repository(
        to_ref.get("repository"), "pullRequest.toRef.repository"
    )
    from_ref = _mapping(pull_request.get("fromRef"), "pullRequest.fromRef")
    source = _text(from_ref.get("latestCommit"), "pullRequest.fromRef.latestCommit")
    since = body.get("previousFromHash") if event_key == PR_UPDATED else None
    return [
        ReviewAsk(
            project, repo, source, pr_id, since if isinstance(since, str) else None
        )
    ]


def review_asks(event_key: str, body: Mapping[str, Any]) -> list[ReviewAsk]:
    """Return the reviews an event asks for; empty for events we ignore."""
    if event_key == PUSH:
        return push_asks(body)
    if event_key in (PR_OPENED, PR_UPDATED):
        return pull_request_asks(body, event_key)
    return []

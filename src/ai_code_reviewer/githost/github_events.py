"""Read GitHub webhook bodies into the reviews they ask for.

Payloads: GitHub, "Webhook events and payloads" (``push``, ``pull_request``).
A branch push asks for the push from ``before`` to ``after`` to be expanded
into the commits it added; a job lists them through the REST API, so the
payload's ``commits[]`` (cut at 2048 entries, merges included) is never what
is reviewed. Tag pushes, deletions and a push that moved an existing branch
without adding a commit ask for nothing. ``pull_request`` asks for
the pull request at its head commit when opened, reopened or marked ready
for review (a draft no longer), and for what came after ``before`` on
``synchronize``. The filters (branches, owners,
drafts) are applied here, so that an ignored delivery says why.

The shared pieces (:class:`HostAsk`, :class:`Reading`, :class:`EventFilter`,
the field readers) serve :mod:`ai_code_reviewer.githost.gitlab_events` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from ai_code_reviewer.githost.base import ZERO_HASH

BRANCH_PREFIX = "refs/heads/"
PING, PUSH, PULL_REQUEST = "ping", "push", "pull_request"
PR_ACTIONS = frozenset({"opened", "reopened", "synchronize", "ready_for_review"})


class PayloadError(ValueError):
    """The body lacks a field the event needs, or has it in the wrong type."""


@dataclass(frozen=True)
class HostAsk:
    """One review a delivery asks for.

    ``project_id`` is GitLab's numeric project id, kept for the record.
    """

    project_key: str
    repo_slug: str
    commit_id: str
    pr_id: int | None = None
    since_commit: str | None = None
    project_id: int | None = None


@dataclass(frozen=True)
class PushAsk:
    """One branch a push moved from ``before`` to ``after``.

    A job lists the commits it added when it runs; ``before`` is forty zeros
    for a new branch. ``project_id`` is GitLab's numeric project id.
    """

    project_key: str
    repo_slug: str
    ref: str
    before: str
    after: str
    project_id: int | None = None


Ask = HostAsk | PushAsk


@dataclass(frozen=True)
class Reading:
    """What a delivery asks for: reviews, or the reason it asks for none."""

    asks: tuple[Ask, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class EventFilter:
    """Which deliveries ask for reviews (REVIEW_BRANCHES, REVIEW_PROJECTS, ...)."""

    branch_globs: tuple[str, ...] = ()
    project_keys: tuple[str, ...] = ()
    drafts: bool = False

    def refusal(self, project: str, branch: str) -> str | None:
        """Return why a change of ``project`` on ``branch`` is not reviewed, if so."""
        keys = {key.casefold() for key in self.project_keys}
        if keys and project.casefold() not in keys:
            return f"project {project} is not in REVIEW_PROJECTS"
        if self.branch_globs and not any(
            fnmatchcase(branch, glob) for glob in self.branch_globs
        ):
            return f"branch {branch} is not in REVIEW_BRANCHES"
        return None


def text(value: Any, where: str) -> str:
    """Return ``value`` as a non-empty string, or raise PayloadError naming it."""
    if not isinstance(value, str) or not value:
        raise PayloadError(f"{where} must be a non-empty string")
    return value


def mapping(value: Any, where: str) -> Mapping[str, Any]:
    """Return ``value`` as a JSON object, or raise PayloadError naming it."""
    if not isinstance(value, Mapping):
        raise PayloadError(f"{where} must be an object")
    return value


def number(value: Any, where: str) -> int:
    """Return ``value`` as a positive integer, or raise PayloadError naming it."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise PayloadError(f"{where} must be a positive integer")
    return value


def items(value: Any, where: str) -> list[Mapping[str, Any]]:
    """Return ``value`` as a list of JSON objects, or raise PayloadError."""
    if not isinstance(value, list):
        raise PayloadError(f"{where} must be a list")
    return [mapping(item, f"{where}[{n}]") for n, item in enumerate(value)]


@dataclass(frozen=True)
class PushedRef:
    """The ref, old head and new head a push body names."""

    ref: str
    before: str
    after: str

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> PushedRef:
        """Read ``ref``, ``before`` and ``after``; PayloadError when one lacks."""
        return cls(
            text(body.get("ref"), "ref"),
            text(body.get("before"), "before"),
            text(body.get("after"), "after"),
        )

    @property
    def branch(self) -> str:
        """Return the branch's short name."""
        return self.ref.removeprefix(BRANCH_PREFIX)

    def refusal(self, added: int, deleted: bool = False) -> str | None:
        """Return why this push asks for no review, given the commits it lists.

        A new branch is always expanded: its payload may list none of the
        commits the host will find not on the default branch.
        """
        if not self.ref.startswith(BRANCH_PREFIX):
            return f"{self.ref} is not a branch"
        if deleted or self.after == ZERO_HASH:
            return f"{self.ref} was deleted"
        if added == 0 and self.before != ZERO_HASH:
            return "the push adds no new commit"
        return None


def _repository(body: Mapping[str, Any]) -> tuple[str, str]:
    """Return (owner login, repository name) of the body's repository."""
    repository = mapping(body.get("repository"), "repository")
    owner = mapping(repository.get("owner"), "repository.owner")
    login = owner.get("login") or owner.get("name")
    return (
        text(login, "repository.owner.login"),
        text(repository.get("name"), "repository.name"),
    )


def push_reading(body: Mapping[str, Any], rules: EventFilter) -> Reading:
    """Return the branch push to expand into its commits, or why there is none."""
    owner, repo = _repository(body)
    pushed = PushedRef.of(body)
    commits = items(body.get("commits", []), "commits")
    deleted = body.get("deleted") is True
    refusal = pushed.refusal(len(commits), deleted) or rules.refusal(
        owner, pushed.branch
    )
    if refusal:
        return Reading(reason=refusal)
    ask = PushAsk(owner, repo, pushed.ref, pushed.before, pushed.after)
    return Reading((ask,))


def pull_request_reading(body: Mapping[str, Any], rules: EventFilter) -> Reading:
    """Return the pull request review a ``pull_request`` event asks for."""
    action = text(body.get("action"), "action")
    pull_request = mapping(body.get("pull_request"), "pull_request")
    owner, repo = _repository(body)
    pr_id = number(body.get("number", pull_request.get("number")), "number")
    head = mapping(pull_request.get("head"), "pull_request.head")
    base = mapping(pull_request.get("base"), "pull_request.base")
    source = text(head.get("sha"), "pull_request.head.sha")
    target = text(base.get("ref"), "pull_request.base.ref")
    if action not in PR_ACTIONS:
        return Reading(reason=f"pull request action {action} asks for no review")
    if pull_request.get("draft") is True and not rules.drafts:
        return Reading(reason=f"pull request {pr_id} is a draft")
    refusal = rules.refusal(owner, target)
    if refusal:
        return Reading(reason=refusal)
    since = body.get("before") if action == "synchronize" else None
    since = since if isinstance(since, str) and since != ZERO_HASH else None
    return Reading((HostAsk(owner, repo, source, pr_id, since),))


def github_reading(event: str, body: Mapping[str, Any], rules: EventFilter) -> Reading:
    """Return what a GitHub event asks for; a reason for events we ignore."""
    if event == PUSH:
        return push_reading(body, rules)
    if event == PULL_REQUEST:
        return pull_request_reading(body, rules)
    return Reading(reason=f"event {event} asks for no review")

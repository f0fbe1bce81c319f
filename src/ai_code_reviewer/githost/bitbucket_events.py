"""Read Bitbucket Data Center webhook bodies into the reviews they ask for.

Event payloads: Atlassian, "Event payload" (Bitbucket Data Center 9.x).

- ``repo:refs_changed``: each updated or created branch asks for its push to
  be expanded into the commits it added (listed later by a job, never here);
  tags and deletions ask for nothing.
- ``pr:opened`` and ``pr:reopened``: the whole pull request.
- ``pr:from_ref_updated``: what the source gained since ``previousFromHash``.
- ``pr:modified``: the whole pull request, only when its target changed.
- ``pr:comment:added``: the whole pull request again, when the comment opens
  with a review command.

Every other event asks for nothing. Each answer without a review says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from ai_code_reviewer.githost.base import ZERO_HASH
from ai_code_reviewer.settings import Settings

PING = "diagnostics:ping"
PUSH = "repo:refs_changed"
PR_OPENED = "pr:opened"
PR_REOPENED = "pr:reopened"
PR_UPDATED = "pr:from_ref_updated"
PR_MODIFIED = "pr:modified"
PR_COMMENT = "pr:comment:added"
PR_EVENTS = (PR_OPENED, PR_REOPENED, PR_UPDATED, PR_MODIFIED, PR_COMMENT)


@dataclass(frozen=True)
class EventRules:
    """Which deliveries ask for reviews: the REVIEW_* settings."""

    branch_globs: tuple[str, ...] = ()
    project_keys: tuple[str, ...] = ()
    review_drafts: bool = False
    commands: tuple[str, ...] = ("@ai-review", "/review")

    @classmethod
    def from_settings(cls, settings: Settings) -> EventRules:
        """Read the rules from REVIEW_BRANCHES, _PROJECTS, _DRAFTS and _COMMANDS."""
        return cls(
            branch_globs=settings.branch_globs,
            project_keys=settings.project_keys,
            review_drafts=settings.review_drafts,
            commands=settings.commands,
        )

    def branch_allowed(self, branch: str) -> bool:
        """Tell whether REVIEW_BRANCHES lets ``branch`` be reviewed (unset: all)."""
        return not self.branch_globs or any(
            fnmatchcase(branch, glob) for glob in self.branch_globs
        )

    def project_allowed(self, project_key: str) -> bool:
        """Tell whether REVIEW_PROJECTS lets a project be reviewed (unset: all)."""
        wanted = {key.casefold() for key in self.project_keys}
        return not wanted or project_key.casefold() in wanted

    def command_of(self, text: str) -> str | None:
        """Return the review command ``text`` opens with, ignoring case, if any."""
        opening = text.lstrip().casefold()
        for command in self.commands:
            word = command.casefold()
            rest = opening[len(word) : len(word) + 1]
            if (
                word
                and opening.startswith(word)
                and not (rest.isalnum() or rest == "-")
            ):
                return command
        return None


@dataclass(frozen=True)
class ReviewAsk:
    """One pull request (or commit) review a delivery asks for.

    ``variant`` tells this review apart from an earlier one of the same
    source commit: a review command's comment id, or a new target branch.
    """

    project_key: str
    repo_slug: str
    commit_id: str
    pr_id: int | None = None
    since_commit: str | None = None
    variant: str | None = None


@dataclass(frozen=True)
class PushAsk:
    """One branch a push moved: its commits are listed and reviewed by a job."""

    project_key: str
    repo_slug: str
    ref: str
    from_hash: str
    to_hash: str


Ask = ReviewAsk | PushAsk


@dataclass(frozen=True)
class Verdict:
    """What a delivery asks for; ``reason`` says why it asks for nothing."""

    asks: list[Ask] = field(default_factory=list)
    reason: str | None = None


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


def _positive(value: Any, where: str) -> int:
    """Return ``value`` as a positive integer, or raise PayloadError naming it."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise PayloadError(f"{where} must be a positive integer")
    return value


def _repository(value: Any, where: str) -> tuple[str, str]:
    """Return (project key, repository slug) of a repository object."""
    repository = _mapping(value, where)
    project = _mapping(repository.get("project"), f"{where}.project")
    key = _text(project.get("key"), f"{where}.project.key")
    return key, _text(repository.get("slug"), f"{where}.slug")


def _branch_name(ref: Mapping[str, Any]) -> str:
    """Return a ref's short branch name (``displayId``, else ``id`` unprefixed)."""
    name = ref.get("displayId") or ref.get("id") or ""
    return str(name).removeprefix("refs/heads/")


def _change(item: Any, where: str) -> tuple[Mapping[str, Any], str, str, str]:
    """Return (ref, ref id, fromHash, toHash) of one ``changes[]`` item."""
    change = _mapping(item, where)
    ref = _mapping(change.get("ref"), f"{where}.ref")
    ref_id = _text(ref.get("id") or change.get("refId"), f"{where}.ref.id")
    from_hash = _text(change.get("fromHash"), f"{where}.fromHash")
    to_hash = _text(change.get("toHash"), f"{where}.toHash")
    return ref, ref_id, from_hash, to_hash


def _push_skip(
    item: Mapping[str, Any], ref: Mapping[str, Any], to_hash: str, rules: EventRules
) -> str | None:
    """Return why one change of a push asks for no review, or None."""
    if ref.get("type") not in (None, "BRANCH") or str(ref.get("id", "")).startswith(
        "refs/tags/"
    ):
        return "tag push"
    if item.get("type") == "DELETE" or to_hash == ZERO_HASH:
        return "branch deleted"
    branch = _branch_name(ref)
    if not rules.branch_allowed(branch):
        return f"branch {branch} is not in REVIEW_BRANCHES"
    return None


def push_verdict(body: Mapping[str, Any], rules: EventRules) -> Verdict:
    """Return the branches a push asks to review, or why it asks for none."""
    project, repo = _repository(body.get("repository"), "repository")
    changes = body.get("changes")
    if not isinstance(changes, list):
        raise PayloadError("changes must be a list")
    asks: list[Ask] = []
    skipped: list[str] = []
    for number, item in enumerate(changes):
        ref, ref_id, from_hash, to_hash = _change(item, f"changes[{number}]")
        why = _push_skip(item, ref, to_hash, rules)
        if why is None:
            asks.append(PushAsk(project, repo, ref_id, from_hash, to_hash))
        else:
            skipped.append(f"{ref_id}: {why}")
    if not rules.project_allowed(project):
        return Verdict(reason=f"project {project} is not in REVIEW_PROJECTS")
    reason = None if asks else "; ".join(skipped) or "the push changed no ref"
    return Verdict(asks, reason)


@dataclass(frozen=True)
class _PullRequest:
    """The fields of a ``pullRequest`` object that decide its review."""

    project: str
    repo: str
    pr_id: int
    source: str
    target: Mapping[str, Any]
    draft: bool


def _pull_request(body: Mapping[str, Any]) -> _PullRequest:
    """Read the pull request of a PR event; the PR belongs to its target repository."""
    pull_request = _mapping(body.get("pullRequest"), "pullRequest")
    pr_id = _positive(pull_request.get("id"), "pullRequest.id")
    to_ref = _mapping(pull_request.get("toRef"), "pullRequest.toRef")
    project, repo = _repository(
        to_ref.get("repository"), "pullRequest.toRef.repository"
    )
    from_ref = _mapping(pull_request.get("fromRef"), "pullRequest.fromRef")
    source = _text(from_ref.get("latestCommit"), "pullRequest.fromRef.latestCommit")
    draft = pull_request.get("draft") is True
    return _PullRequest(project, repo, pr_id, source, to_ref, draft)


def _pull_request_skip(pull_request: _PullRequest, rules: EventRules) -> str | None:
    """Return why the filters leave a pull request unreviewed, or None."""
    if not rules.project_allowed(pull_request.project):
        return f"project {pull_request.project} is not in REVIEW_PROJECTS"
    branch = _branch_name(pull_request.target)
    if not rules.branch_allowed(branch):
        return f"target branch {branch} is not in REVIEW_BRANCHES"
    if pull_request.draft and not rules.review_drafts:
        return "draft pull request (REVIEW_DRAFTS is off)"
    return None


def _retarget(body: Mapping[str, Any], target: Mapping[str, Any]) -> str | None:
    """Return the new target of a ``pr:modified`` that changed it, else None."""
    previous = body.get("previousTarget")
    if not isinstance(previous, Mapping):
        return None
    now = str(target.get("id") or target.get("displayId") or "")
    before = str(previous.get("id") or previous.get("displayId") or "")
    if not before or now == before:
        return None
    return f"to:{now}@{target.get('latestCommit') or ''}"


def _command(body: Mapping[str, Any], rules: EventRules) -> str | None:
    """Return ``comment:<id>`` when a ``pr:comment:added`` holds a review command."""
    comment = _mapping(body.get("comment"), "comment")
    comment_id = _positive(comment.get("id"), "comment.id")
    text = comment.get("text")
    if not isinstance(text, str):
        raise PayloadError("comment.text must be a string")
    return f"comment:{comment_id}" if rules.command_of(text) else None


def pull_request_verdict(
    body: Mapping[str, Any], event_key: str, rules: EventRules
) -> Verdict:
    """Return the pull request review a PR event asks for, or why it asks for none."""
    pull_request = _pull_request(body)
    variant, since = None, None
    if event_key == PR_UPDATED:
        previous = body.get("previousFromHash")
        since = previous if isinstance(previous, str) and previous else None
    elif event_key == PR_MODIFIED:
        variant = _retarget(body, pull_request.target)
        if variant is None:
            return Verdict(reason="pr:modified did not change the target branch")
    elif event_key == PR_COMMENT:
        variant = _command(body, rules)
        if variant is None:
            commands = ", ".join(rules.commands) or "none configured"
            return Verdict(reason=f"the comment holds no review command ({commands})")
    skip = _pull_request_skip(pull_request, rules)
    if skip is not None:
        return Verdict(reason=skip)
    ask = ReviewAsk(
        pull_request.project,
        pull_request.repo,
        pull_request.source,
        pull_request.pr_id,
        since,
        variant,
    )
    return Verdict([ask])


def review_verdict(
    event_key: str, body: Mapping[str, Any], rules: EventRules | None = None
) -> Verdict:
    """Return the reviews an event asks for, or why it asks for none."""
    rules = rules or EventRules()
    if event_key == PUSH:
        return push_verdict(body, rules)
    if event_key in PR_EVENTS:
        return pull_request_verdict(body, event_key, rules)
    return Verdict(reason=f"event {event_key} asks for no review")

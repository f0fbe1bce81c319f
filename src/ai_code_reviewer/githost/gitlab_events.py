"""Read GitLab webhook bodies into the reviews they ask for.

Payloads: GitLab, "Webhook events" (``Push Hook``, ``Merge Request Hook``).
A branch push asks for the push from ``before`` to ``after`` to be expanded
into the commits it added by a job that lists them through the REST API (the
payload's ``commits[]`` holds at most 20 of ``total_commits_count``, merges
included); deletions, a push that adds no commit to an existing branch and
``Tag Push Hook`` ask for nothing. A merge request asks for a review when
opened or reopened, and on ``update`` only when ``oldrev`` says new commits
came (then only what came after it). The project is ``path_with_namespace``:
the namespace path is the project key, the last part the repository slug.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ai_code_reviewer.githost.github_events import (
    EventFilter,
    HostAsk,
    PayloadError,
    PushAsk,
    PushedRef,
    Reading,
    items,
    mapping,
    number,
    text,
)

PUSH_HOOK = "Push Hook"
MERGE_REQUEST_HOOK = "Merge Request Hook"
MR_ACTIONS = frozenset({"open", "reopen", "update"})


def project_of(body: Mapping[str, Any]) -> tuple[str, str, int | None]:
    """Return (namespace path, project path, project id) of the body's project."""
    project = mapping(body.get("project"), "project")
    full = text(project.get("path_with_namespace"), "project.path_with_namespace")
    namespace, _, path = full.rpartition("/")
    if not namespace or not path:
        raise PayloadError("project.path_with_namespace must be namespace/project")
    project_id = project.get("id")
    if project_id is not None:
        project_id = number(project_id, "project.id")
    return namespace, path, project_id


def push_reading(body: Mapping[str, Any], rules: EventFilter) -> Reading:
    """Return the branch push to expand into its commits, or why there is none."""
    namespace, path, project_id = project_of(body)
    pushed = PushedRef.of(body)
    commits = items(body.get("commits", []), "commits")
    total = body.get("total_commits_count")
    added = max(total, len(commits)) if isinstance(total, int) else len(commits)
    refusal = pushed.refusal(added) or rules.refusal(namespace, pushed.branch)
    if refusal:
        return Reading(reason=refusal)
    ask = PushAsk(namespace, path, pushed.ref, pushed.before, pushed.after, project_id)
    return Reading((ask,))


def merge_request_reading(body: Mapping[str, Any], rules: EventFilter) -> Reading:
    """Return the merge request review a ``Merge Request Hook`` asks for."""
    namespace, path, project_id = project_of(body)
    attributes = mapping(body.get("object_attributes"), "object_attributes")
    iid = number(attributes.get("iid"), "object_attributes.iid")
    action = attributes.get("action")
    last = mapping(attributes.get("last_commit"), "object_attributes.last_commit")
    source = text(last.get("id"), "object_attributes.last_commit.id")
    target = text(attributes.get("target_branch"), "object_attributes.target_branch")
    oldrev = attributes.get("oldrev")
    if action not in MR_ACTIONS:
        return Reading(reason=f"merge request action {action} asks for no review")
    if action == "update" and not isinstance(oldrev, str):
        return Reading(reason="the merge request update brings no new commit")
    if _is_draft(attributes) and not rules.drafts:
        return Reading(reason=f"merge request {iid} is a draft")
    refusal = rules.refusal(namespace, target)
    if refusal:
        return Reading(reason=refusal)
    since = oldrev if action == "update" else None
    ask = HostAsk(namespace, path, source, iid, since, project_id)
    return Reading((ask,))


def _is_draft(attributes: Mapping[str, Any]) -> bool:
    """Tell whether the merge request is a draft (``draft``, or the older flag)."""
    return attributes.get("draft") is True or attributes.get("work_in_progress") is True


def gitlab_reading(event: str, body: Mapping[str, Any], rules: EventFilter) -> Reading:
    """Return what a GitLab event asks for; a reason for events we ignore."""
    if event == PUSH_HOOK:
        return push_reading(body, rules)
    if event == MERGE_REQUEST_HOOK:
        return merge_request_reading(body, rules)
    return Reading(reason=f"event {event} asks for no review")

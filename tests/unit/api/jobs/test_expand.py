"""A push's listed commits become commit jobs, and what was left out one range."""

from __future__ import annotations

from typing import Any

from ai_code_reviewer.api.jobs.expand import jobs_of_push, rest_of_push
from ai_code_reviewer.githost.base import Commit, Person, PushedCommits

OLD, HEAD = "0a" * 20, "ff" * 20
PAYLOAD: dict[str, Any] = {
    "host": "bitbucket",
    "project_key": "PROJ",
    "repo_slug": "app",
    "since_commit": OLD,
    "commit_id": HEAD,
    "event_key": "repo:refs_changed",
}


def commit(commit_id: str, parent: str) -> Commit:
    """Return a commit with one parent."""
    return Commit(commit_id, Person("Ada", "ada@example.com"), "m", (parent,))


def test_every_listed_commit_is_a_commit_job_with_the_usual_key() -> None:
    """Two listed commits, none left out: two review_commit jobs, no range."""
    pushed = PushedCommits((commit("1" * 40, OLD), commit(HEAD, "1" * 40)), False)

    jobs = jobs_of_push(PAYLOAD, pushed, 4)

    assert [(j.kind, j.payload["commit_id"]) for j in jobs] == [
        ("review_commit", "1" * 40),
        ("review_commit", HEAD),
    ]
    assert jobs[1].dedupe_key == f"commit:bitbucket:PROJ/app:{HEAD}"
    assert {j.max_attempts for j in jobs} == {4}


def test_newer_commits_left_out_are_one_range_up_to_the_head() -> None:
    """A host that kept the oldest: the range runs from the last listed to the head."""
    pushed = PushedCommits((commit("1" * 40, OLD),), True)

    assert rest_of_push(PAYLOAD, pushed) == ("1" * 40, HEAD)
    assert jobs_of_push(PAYLOAD, pushed, 3)[-1].kind == "review_range"


def test_older_commits_left_out_are_one_range_from_the_old_head() -> None:
    """A host that kept the newest: the range runs from the old head to the parent."""
    pushed = PushedCommits((commit(HEAD, "2" * 40),), True)

    assert rest_of_push(PAYLOAD, pushed) == (OLD, "2" * 40)


def test_older_commits_of_a_new_branch_have_no_known_range() -> None:
    """A new branch whose older commits were left out gives no range to review."""
    payload = {**PAYLOAD, "since_commit": "0" * 40}
    pushed = PushedCommits((commit(HEAD, "2" * 40),), True)

    assert rest_of_push(payload, pushed) is None
    assert [j.kind for j in jobs_of_push(payload, pushed, 3)] == ["review_commit"]

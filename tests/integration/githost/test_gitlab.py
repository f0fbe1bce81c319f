"""The GitLab client against a fake GitLab REST API (v4) on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ai_code_reviewer.errors import (
    ConfigError,
    GitHostError,
    NotFound,
    RateLimited,
    TransientError,
)
from ai_code_reviewer.githost.base import ZERO_HASH, Person, Publication, Target
from ai_code_reviewer.githost.gitlab import (
    GitLabClient,
    build_gitlab_client,
    unified_diff,
)
from ai_code_reviewer.githost.summary import SUMMARY_MARKER
from ai_code_reviewer.review.diff import parse_unified_diff
from ai_code_reviewer.settings import Settings
from tests.githubserver import issue_tls_files
from tests.gitlabserver import (
    TOKEN,
    FakeGitLabServer,
    FakeMergeRequest,
    FakeProject,
    file_diffs,
)
from tests.gitlabserver import serving as serving_gitlab
from tests.integration.githost.conftest import A_DIFF, B_DIFF, C_DIFF, new_file

NAMESPACE, PROJECT = "group/sub", "app"

RENAME_AND_DELETE = (
    "diff --git a/old.py b/new.py\nsimilarity index 90%\nrename from old.py\n"
    "rename to new.py\n--- a/old.py\n+++ b/new.py\n@@ -1,2 +1,2 @@\n x = 1\n"
    "-y = 2\n+y = 3\ndiff --git a/gone.py b/gone.py\ndeleted file mode 100644\n"
    "--- a/gone.py\n+++ /dev/null\n@@ -1,1 +0,0 @@\n-print('bye')\n"
)


def gitlab_settings(url: str, **overrides: Any) -> Settings:
    """Build settings for the GitLab client, ignoring any .env file."""
    values: dict[str, Any] = {
        "gitlab_url": url,
        "gitlab_token": TOKEN,
        "githost_timeout": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass(frozen=True)
class Seeded:
    """group/sub/app: main with two commits; feature with f1, f2, a merge, f3; !1."""

    project: FakeProject
    main: tuple[str, str]
    feature: tuple[str, str, str, str]
    merge_request: FakeMergeRequest


@pytest.fixture
def gitlab() -> Iterator[FakeGitLabServer]:
    """Yield a running fake GitLab server."""
    with serving_gitlab() as server:
        yield server


@pytest.fixture
def seeded(gitlab: FakeGitLabServer) -> Seeded:
    """Fill the fake server with group/sub/app."""
    project = gitlab.add_project(NAMESPACE, PROJECT)
    c1 = project.add_commit("Initial commit", new_file("README.md", "# app"))
    c2 = project.add_commit("Add settings\n\nFrom env.", new_file("s.py", "A = 1"))
    f1 = project.add_commit("Add a", A_DIFF, branch="feature", parents=[c2])
    f2 = project.add_commit("Add b", B_DIFF, branch="feature")
    merge = project.add_commit("Merge main", "", branch="feature", parents=[f2, c2])
    f3 = project.add_commit("Add c", C_DIFF, branch="feature")
    merge_request = project.add_merge_request(
        "Add the feature", "feature", A_DIFF + B_DIFF + C_DIFF
    )
    return Seeded(project, (c1, c2), (f1, f2, merge, f3), merge_request)


@pytest.fixture
async def client(gitlab: FakeGitLabServer) -> AsyncIterator[GitLabClient]:
    """Yield a client of the fake server."""
    built = build_gitlab_client(gitlab_settings(gitlab.base_url))
    assert built is not None
    yield built
    await built.aclose()


def commit_target(sha: str) -> Target:
    """Return the target of a commit of group/sub/app."""
    return Target(NAMESPACE, PROJECT, commit_id=sha)


def mr_target(iid: int = 1) -> Target:
    """Return the target of a merge request of group/sub/app."""
    return Target(NAMESPACE, PROJECT, pr_id=iid)


def test_file_diffs_are_written_as_git_text() -> None:
    """GitLab's file list becomes unified text that parses to the same files."""
    text = unified_diff(file_diffs(A_DIFF + RENAME_AND_DELETE))

    assert parse_unified_diff(text) == parse_unified_diff(A_DIFF + RENAME_AND_DELETE)
    statuses = [f.status for f in parse_unified_diff(text).files]
    assert statuses == ["added", "renamed", "deleted"]


async def test_commit_has_author_title_and_diff_over_pages(
    client: GitLabClient, gitlab: FakeGitLabServer, seeded: Seeded
) -> None:
    """A commit comes with its author, first line and diff; the path is encoded."""
    sha = seeded.main[1]
    seeded.project.commits[sha].diff = A_DIFF + B_DIFF + C_DIFF

    change = await client.fetch_commit(commit_target(sha))

    assert change.author == Person("Alice Liddell", "alice@example.com")
    assert change.title == "Add settings"
    assert parse_unified_diff(change.diff) == parse_unified_diff(
        A_DIFF + B_DIFF + C_DIFF
    )
    assert change.url == f"{gitlab.base_url}/group/sub/app/-/commit/{sha}"
    pages = gitlab.sent("GET", f"/commits/{sha}/diff")
    assert len(pages) == 2
    assert pages[0].headers["private-token"] == TOKEN


async def test_next_page_header_alone_is_followed(
    client: GitLabClient, gitlab: FakeGitLabServer, seeded: Seeded
) -> None:
    """Without a Link header, X-Next-Page leads to the next page."""
    gitlab.send_links = False

    change = await client.fetch_pull_request(mr_target(), None)

    assert len(parse_unified_diff(change.diff).files) == 3
    assert [r.query.get("page") for r in gitlab.sent("GET", "/1/diffs")] == [None, "2"]


async def test_merge_request_has_diff_author_and_reviewers(
    client: GitLabClient, seeded: Seeded
) -> None:
    """A merge request comes with its diff, its author's public email, reviewers."""
    change = await client.fetch_pull_request(mr_target(), None)

    assert parse_unified_diff(change.diff) == parse_unified_diff(
        seeded.merge_request.diff
    )
    assert change.title == "Add the feature"
    assert change.author == Person("Alice Liddell", "alice@example.com")
    assert change.reviewers == (Person("Bob Builder", None),)


async def test_old_gitlab_without_diffs_uses_changes(
    client: GitLabClient, gitlab: FakeGitLabServer, seeded: Seeded
) -> None:
    """A GitLab older than 15.7 answers the diff through /changes."""
    gitlab.legacy = True

    change = await client.fetch_pull_request(mr_target(), None)

    assert len(parse_unified_diff(change.diff).files) == 3
    assert gitlab.sent("GET", "/merge_requests/1/changes")


async def test_incremental_merge_request_diff_uses_compare(
    client: GitLabClient, gitlab: FakeGitLabServer, seeded: Seeded
) -> None:
    """With ``since``, only what came after it up to the head is fetched."""
    since = seeded.feature[1]

    change = await client.fetch_pull_request(mr_target(), since)

    assert parse_unified_diff(change.diff) == parse_unified_diff(C_DIFF)
    compare = gitlab.sent("GET", "/repository/compare")[0]
    assert compare.query == {"from": since, "to": seeded.feature[3]}


async def test_pushed_commits_of_a_new_branch_leave_merges_out(
    client: GitLabClient, seeded: Seeded
) -> None:
    """A new branch lists its commits not on main, oldest first, merges left out."""
    pushed = await client.list_pushed_commits(
        NAMESPACE, PROJECT, ZERO_HASH, seeded.feature[3], 10
    )

    f1, f2, _merge, f3 = seeded.feature
    assert [c.id for c in pushed.commits] == [f1, f2, f3]
    assert not pushed.more


async def test_pushed_commits_over_the_limit_keep_the_oldest(
    client: GitLabClient, seeded: Seeded
) -> None:
    """Over ``limit``, the oldest commits are kept and ``more`` is set."""
    pushed = await client.list_pushed_commits(
        NAMESPACE, PROJECT, seeded.main[1], seeded.feature[3], 2
    )

    assert [c.id for c in pushed.commits] == [seeded.feature[0], seeded.feature[1]]
    assert pushed.more


async def test_range_is_one_combined_diff(client: GitLabClient, seeded: Seeded) -> None:
    """fetch_range gives the commits after ``since`` as one diff."""
    change = await client.fetch_range(
        NAMESPACE, PROJECT, seeded.main[1], seeded.feature[1]
    )

    assert parse_unified_diff(change.diff) == parse_unified_diff(A_DIFF + B_DIFF)


async def test_summary_note_is_edited_in_place(
    client: GitLabClient, gitlab: FakeGitLabServer, seeded: Seeded
) -> None:
    """A second review edits the summary note; system notes are never touched."""
    seeded.merge_request.notes.extend(
        [
            {"id": 1, "body": f"added 1 commit {SUMMARY_MARKER}", "system": True},
            {"id": 2, "body": "Looks fine", "system": False},
            {"id": 3, "body": "Ship it", "system": False},
        ]
    )

    await client.publish(mr_target(), Publication(1, "## Review\n\nOne.", "One."))
    done = await client.publish(mr_target(), Publication(2, "## Review\n\nTwo.", "."))

    ours = [n for n in seeded.merge_request.notes if n["id"] >= 500]
    assert done == "published"
    assert len(ours) == 1 and "Two." in ours[0]["body"]
    assert seeded.merge_request.notes[0]["body"].startswith("added 1 commit")
    assert len(gitlab.sent("PUT", f"/notes/{ours[0]['id']}")) == 1


async def test_commit_reviews_are_not_published(
    client: GitLabClient, seeded: Seeded
) -> None:
    """A commit review publishes nothing on GitLab."""
    done = await client.publish(commit_target(seeded.main[0]), Publication(1, "x", "x"))

    assert done == "skipped"


async def test_check_proves_the_token_for_the_health_check(
    client: GitLabClient,
) -> None:
    """check() makes one read-only request and says the token was accepted."""
    assert await client.check() == "GitLab 17.5.1-ee accepted the token"


async def test_check_fails_on_a_wrong_token(gitlab: FakeGitLabServer) -> None:
    """check() raises the token's refusal, so the health check reports it."""
    client = build_gitlab_client(
        gitlab_settings(gitlab.base_url, gitlab_token="glpat-wrong-token-78")
    )
    assert client is not None

    with pytest.raises(GitHostError, match="refused the token"):
        await client.check()
    await client.aclose()


async def test_wrong_token_is_refused_without_showing_it(
    gitlab: FakeGitLabServer, seeded: Seeded
) -> None:
    """A 401 names GITLAB_TOKEN and never the token."""
    wrong = "glpat-wrong-token-77"
    client = build_gitlab_client(gitlab_settings(gitlab.base_url, gitlab_token=wrong))
    assert client is not None

    with pytest.raises(GitHostError, match="refused the token") as caught:
        await client.fetch_commit(commit_target(seeded.main[0]))
    await client.aclose()

    assert "GITLAB_TOKEN" in str(caught.value)
    assert wrong not in str(caught.value)


async def test_unknown_project_is_not_found(client: GitLabClient) -> None:
    """A 404 is NotFound naming the project."""
    with pytest.raises(NotFound, match="group/sub/nope"):
        await client.fetch_commit(Target(NAMESPACE, "nope", commit_id="a" * 40))


@pytest.mark.parametrize(
    ("status", "kind"), [(429, RateLimited), (503, TransientError)]
)
async def test_rate_limit_and_server_errors_are_transient(
    client: GitLabClient,
    gitlab: FakeGitLabServer,
    seeded: Seeded,
    status: int,
    kind: type[Exception],
) -> None:
    """A 429 with Retry-After is RateLimited; a 503 is a TransientError."""
    gitlab.fail_next(status, headers={"Retry-After": "5"})

    with pytest.raises(kind) as caught:
        await client.fetch_commit(commit_target(seeded.main[0]))

    assert isinstance(caught.value, TransientError)
    if status == 429:
        assert caught.value.retry_after == 5.0


def test_client_needs_url_and_token() -> None:
    """No GITLAB_URL means no client; a URL without a token is a ConfigError."""
    assert build_gitlab_client(Settings(_env_file=None)) is None
    with pytest.raises(ConfigError, match="GITLAB_TOKEN"):
        build_gitlab_client(Settings(_env_file=None, gitlab_url="https://gl.example"))


def test_missing_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    """GITLAB_CA_BUNDLE naming no file is refused before any request."""
    settings = gitlab_settings(
        "https://gitlab.example.com", gitlab_ca_bundle=tmp_path / "none.pem"
    )

    with pytest.raises(ConfigError, match="GITLAB_CA_BUNDLE"):
        build_gitlab_client(settings)


def tls_client(url: str, **overrides: Any) -> GitLabClient:
    """Build a client of ``url`` from settings with ``overrides``."""
    built = build_gitlab_client(gitlab_settings(url, **overrides))
    assert built is not None
    return built


async def test_tls_settings_are_honoured(tmp_path: Path) -> None:
    """A private CA is trusted with the bundle, refused without, unchecked when off."""
    ca_file, server_files = issue_tls_files(tmp_path)
    with serving_gitlab(tls=server_files) as server:
        project = server.add_project(NAMESPACE, PROJECT)
        target = commit_target(project.add_commit("Initial commit", A_DIFF))
        trusting = tls_client(server.base_url, gitlab_ca_bundle=ca_file)
        default = tls_client(server.base_url)
        unchecked = tls_client(server.base_url, gitlab_verify_tls=False)

        trusted = await trusting.fetch_commit(target)
        with pytest.raises(GitHostError, match="not trusted") as refused:
            await default.fetch_commit(target)
        unverified = await unchecked.fetch_commit(target)
        for client in (trusting, default, unchecked):
            await client.aclose()

    assert server.base_url.startswith("https://")
    assert trusted.title == unverified.title == "Initial commit"
    assert trusted.diff == A_DIFF
    assert not isinstance(refused.value, TransientError)

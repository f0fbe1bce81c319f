"""The GitHub client against a fake GitHub REST API on loopback."""

from __future__ import annotations

import time
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
from ai_code_reviewer.githost.github import (
    GitHubClient,
    build_github_client,
)
from ai_code_reviewer.githost.summary import SUMMARY_MARKER
from ai_code_reviewer.review.diff import parse_unified_diff
from ai_code_reviewer.settings import Settings
from tests.githubserver import (
    TOKEN,
    FakeGitHubPull,
    FakeGitHubRepo,
    FakeGitHubServer,
    issue_tls_files,
)
from tests.githubserver import serving as serving_github
from tests.integration.githost.conftest import A_DIFF, B_DIFF, C_DIFF, new_file

OWNER, REPO = "acme", "app"


def github_settings(url: str, **overrides: Any) -> Settings:
    """Build settings for the GitHub client, ignoring any .env file."""
    values: dict[str, Any] = {
        "github_url": url,
        "github_token": TOKEN,
        "githost_timeout": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass(frozen=True)
class Seeded:
    """acme/app: main with two commits; feature with f1, f2, a merge, f3; PR #1."""

    repo: FakeGitHubRepo
    main: tuple[str, str]
    feature: tuple[str, str, str, str]
    pull: FakeGitHubPull


@pytest.fixture
def github() -> Iterator[FakeGitHubServer]:
    """Yield a running fake GitHub server."""
    with serving_github() as server:
        yield server


@pytest.fixture
def seeded(github: FakeGitHubServer) -> Seeded:
    """Fill the fake server with acme/app."""
    repo = github.add_repo(OWNER, REPO)
    c1 = repo.add_commit("Initial commit", new_file("README.md", "# app"))
    c2 = repo.add_commit("Add settings\n\nFrom the env.", new_file("s.py", "A = 1"))
    f1 = repo.add_commit("Add a", A_DIFF, branch="feature", parents=[c2])
    f2 = repo.add_commit("Add b", B_DIFF, branch="feature")
    merge = repo.add_commit("Merge main", "", branch="feature", parents=[f2, c2])
    f3 = repo.add_commit("Add c", C_DIFF, branch="feature")
    pull = repo.add_pull("Add the feature", "feature", A_DIFF + B_DIFF + C_DIFF)
    return Seeded(repo, (c1, c2), (f1, f2, merge, f3), pull)


@pytest.fixture
async def client(github: FakeGitHubServer) -> AsyncIterator[GitHubClient]:
    """Yield a client of the fake server."""
    built = build_github_client(github_settings(github.base_url))
    assert built is not None
    yield built
    await built.aclose()


def publication(markdown: str) -> Publication:
    """Return a publication of review 1."""
    return Publication(1, markdown, "Summary.")


async def test_commit_has_author_title_and_diff(
    client: GitHubClient, github: FakeGitHubServer, seeded: Seeded
) -> None:
    """A commit comes with its author, its first line and its unified diff."""
    sha = seeded.main[1]

    change = await client.fetch_commit(Target(OWNER, REPO, commit_id=sha))

    assert change.author == Person("Octo Cat", "octo@example.com")
    assert change.title == "Add settings"
    assert change.diff == seeded.repo.commits[sha].diff
    assert change.url == f"{github.base_url}/acme/app/commit/{sha}"
    first, diff = github.sent("GET", f"/commits/{sha}")
    assert first.headers["accept"] == "application/vnd.github+json"
    assert diff.headers["accept"] == "application/vnd.github.diff"
    assert diff.headers["authorization"] == f"Bearer {TOKEN}"
    assert diff.headers["x-github-api-version"] == "2022-11-28"


async def test_pull_request_has_diff_author_and_reviewers(
    client: GitHubClient, seeded: Seeded
) -> None:
    """A pull request comes with its whole diff, its author and reviewers by profile."""
    change = await client.fetch_pull_request(Target(OWNER, REPO, pr_id=1), None)

    assert change.diff == seeded.pull.diff
    assert change.title == "Add the feature"
    assert change.author == Person("Octo Cat", "octo@example.com")
    assert change.reviewers == (Person("Mona Lisa", None),)
    assert parse_unified_diff(change.diff).files[2].path == "c.py"


async def test_incremental_pull_request_diff_uses_compare(
    client: GitHubClient, github: FakeGitHubServer, seeded: Seeded
) -> None:
    """With ``since``, only what came after it up to the head is fetched."""
    since = seeded.feature[1]

    change = await client.fetch_pull_request(Target(OWNER, REPO, pr_id=1), since)

    assert change.diff == C_DIFF
    assert github.sent("GET", f"/compare/{since}...{seeded.feature[3]}")


async def test_range_is_one_combined_diff(client: GitHubClient, seeded: Seeded) -> None:
    """fetch_range gives the commits after ``since`` as one diff, by the head author."""
    change = await client.fetch_range(OWNER, REPO, seeded.main[1], seeded.feature[1])

    assert change.diff == A_DIFF + B_DIFF
    assert change.author.email == "octo@example.com"


async def test_pushed_commits_leave_merges_out_over_pages(
    client: GitHubClient, github: FakeGitHubServer, seeded: Seeded
) -> None:
    """A new branch lists its commits not on main, merges left out, across pages."""
    pushed = await client.list_pushed_commits(
        OWNER, REPO, ZERO_HASH, seeded.feature[3], 10
    )

    f1, f2, _merge, f3 = seeded.feature
    assert [c.id for c in pushed.commits] == [f1, f2, f3]
    assert not pushed.more
    assert len(github.sent("GET", f"/compare/main...{f3}")) == 2


async def test_pushed_commits_over_the_limit_keep_the_oldest(
    client: GitHubClient, seeded: Seeded
) -> None:
    """Over ``limit``, the oldest commits are kept and ``more`` is set."""
    pushed = await client.list_pushed_commits(
        OWNER, REPO, seeded.main[1], seeded.feature[3], 2
    )

    assert [c.id for c in pushed.commits] == [seeded.feature[0], seeded.feature[1]]
    assert pushed.more


async def test_summary_comment_is_edited_in_place(
    client: GitHubClient, github: FakeGitHubServer, seeded: Seeded
) -> None:
    """A second review edits the summary comment; an equal one changes nothing."""
    target = Target(OWNER, REPO, pr_id=1)
    seeded.pull.comments.extend(
        {"id": n, "body": f"human {n}", "user": {"login": "x"}} for n in range(3)
    )

    first = await client.publish(target, publication("## Review\n\nOne."))
    await client.publish(target, publication("## Review\n\nTwo."))
    await client.publish(target, publication("## Review\n\nTwo."))

    ours = [c for c in seeded.pull.comments if SUMMARY_MARKER in c["body"]]
    assert first == "published"
    assert len(ours) == 1 and "Two." in ours[0]["body"]
    assert len(github.sent("POST", "/issues/1/comments")) == 1
    assert len(github.sent("PATCH", f"/issues/comments/{ours[0]['id']}")) == 1


async def test_commits_and_switched_off_comments_are_skipped(
    github: FakeGitHubServer, seeded: Seeded
) -> None:
    """A commit review publishes nothing; PUBLISH_PR_COMMENT off skips the PR too."""
    client = build_github_client(
        github_settings(github.base_url, publish_pr_comment=False)
    )
    assert client is not None

    on_commit = await client.publish(
        Target(OWNER, REPO, commit_id=seeded.main[0]), publication("x")
    )
    on_pull = await client.publish(Target(OWNER, REPO, pr_id=1), publication("x"))
    await client.aclose()

    assert (on_commit, on_pull) == ("skipped", "skipped")
    assert not seeded.pull.comments


async def test_check_proves_the_token_for_the_health_check(
    client: GitHubClient,
) -> None:
    """check() makes one read-only request and says the token was accepted."""
    assert (
        await client.check()
        == "GitHub accepted the token; 4999 requests left this hour"
    )


async def test_check_fails_on_a_wrong_token(github: FakeGitHubServer) -> None:
    """check() raises the token's refusal, so the health check reports it."""
    client = build_github_client(
        github_settings(github.base_url, github_token="ghp_wrongTokenValue43")
    )
    assert client is not None

    with pytest.raises(GitHostError, match="refused the token"):
        await client.check()
    await client.aclose()


async def test_wrong_token_is_refused_without_showing_it(
    github: FakeGitHubServer, seeded: Seeded
) -> None:
    """A 401 names GITHUB_TOKEN and never the token."""
    wrong = "ghp_wrongTokenValue42"
    client = build_github_client(github_settings(github.base_url, github_token=wrong))
    assert client is not None

    with pytest.raises(GitHostError, match="refused the token") as caught:
        await client.fetch_commit(Target(OWNER, REPO, commit_id=seeded.main[0]))
    await client.aclose()

    assert "GITHUB_TOKEN" in str(caught.value)
    assert wrong not in str(caught.value)


async def test_unknown_commit_is_not_found(
    client: GitHubClient, seeded: Seeded
) -> None:
    """A 404 is NotFound naming the commit."""
    with pytest.raises(NotFound, match="commit 0123"):
        await client.fetch_commit(Target(OWNER, REPO, commit_id="0123abcd" * 5))


@pytest.mark.parametrize(
    ("status", "headers", "wait"),
    [
        (429, {"retry-after": "7"}, 7.0),
        (403, {"retry-after": "30"}, 30.0),
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "{reset}"}, 40.0),
    ],
)
async def test_rate_limits_are_transient_with_their_wait(
    client: GitHubClient,
    github: FakeGitHubServer,
    seeded: Seeded,
    status: int,
    headers: dict[str, str],
    wait: float,
) -> None:
    """429, and GitHub's 403 over a rate limit, are RateLimited with the wait."""
    reset = str(int(time.time()) + 40)
    github.fail_next(
        status, headers={k: v.format(reset=reset) for k, v in headers.items()}
    )

    with pytest.raises(RateLimited) as caught:
        await client.fetch_commit(Target(OWNER, REPO, commit_id=seeded.main[0]))

    assert isinstance(caught.value, TransientError)
    assert caught.value.retry_after == pytest.approx(wait, abs=2)


async def test_plain_403_is_a_refusal_not_a_rate_limit(
    client: GitHubClient, github: FakeGitHubServer, seeded: Seeded
) -> None:
    """A 403 with no rate limit header is a refused token, not worth retrying."""
    github.fail_next(403)

    with pytest.raises(GitHostError, match="refused the token") as caught:
        await client.fetch_commit(Target(OWNER, REPO, commit_id=seeded.main[0]))

    assert not isinstance(caught.value, TransientError)


async def test_server_error_is_transient(
    client: GitHubClient, github: FakeGitHubServer, seeded: Seeded
) -> None:
    """A 502 is a TransientError; the next request succeeds."""
    github.fail_next(502)

    with pytest.raises(TransientError, match="HTTP 502"):
        await client.fetch_commit(Target(OWNER, REPO, commit_id=seeded.main[0]))
    change = await client.fetch_commit(Target(OWNER, REPO, commit_id=seeded.main[0]))

    assert change.title == "Initial commit"


def test_client_is_built_only_with_a_token() -> None:
    """No GITHUB_TOKEN means no client; a bad GITHUB_URL is a ConfigError."""
    assert build_github_client(Settings(_env_file=None)) is None
    with pytest.raises(ConfigError, match="GITHUB_URL"):
        build_github_client(
            Settings(_env_file=None, github_token=TOKEN, github_url="ftp://x")
        )


def test_missing_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    """GITHUB_CA_BUNDLE naming no file is refused before any request."""
    settings = github_settings(
        "https://github.example.com/api/v3", github_ca_bundle=tmp_path / "none.pem"
    )

    with pytest.raises(ConfigError, match="GITHUB_CA_BUNDLE"):
        build_github_client(settings)


def tls_client(url: str, **overrides: Any) -> GitHubClient:
    """Build a client of ``url`` from settings with ``overrides``."""
    built = build_github_client(github_settings(url, **overrides))
    assert built is not None
    return built


async def test_tls_settings_are_honoured(tmp_path: Path) -> None:
    """A private CA is trusted with the bundle, refused without, unchecked when off."""
    ca_file, server_files = issue_tls_files(tmp_path)
    with serving_github(tls=server_files) as server:
        repo = server.add_repo(OWNER, REPO)
        target = Target(
            OWNER, REPO, commit_id=repo.add_commit("Initial commit", A_DIFF)
        )
        trusting = tls_client(server.base_url, github_ca_bundle=ca_file)
        default = tls_client(server.base_url)
        unchecked = tls_client(server.base_url, github_verify_tls=False)

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

"""The Bitbucket client against a fake Bitbucket Data Center server on loopback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import trustme

from ai_code_reviewer import __version__
from ai_code_reviewer.errors import (
    ConfigError,
    GitHostError,
    NotFound,
    RateLimited,
    TransientError,
)
from ai_code_reviewer.githost.base import ZERO_HASH, Person, Publication, Target
from ai_code_reviewer.githost.bitbucket import (
    BitbucketClient,
    build_bitbucket_client,
)
from ai_code_reviewer.githost.bitbucket_publish import (
    SUMMARY_MARKER,
    fingerprint,
)
from ai_code_reviewer.review.bitbucket_diff import WHOLE_DIFF
from ai_code_reviewer.review.diff import parse_unified_diff
from ai_code_reviewer.review.model import Finding
from tests.bitbucketserver import TOKEN, FakeBitbucketServer, FakeUser, serving
from tests.integration.githost.conftest import (
    A_DIFF,
    B_DIFF,
    C_DIFF,
    PROJECT,
    REPO,
    Seeded,
    bitbucket_settings,
    seed,
)

EVAL = Finding("a.py", 2, "major", "security", "Eval of input", "Do not eval.")
AREA = Finding("b.py", 2, "minor", "maintainability", "Magic number", "Use math.pi.")
SECRET = Finding("c.py", 1, "critical", "security", "Hard-coded password", "Move it.")


def commit_target(commit_id: str) -> Target:
    """Return the target of a commit of PROJ/app."""
    return Target(PROJECT, REPO, commit_id=commit_id)


def pr_target(pr_id: int = 1) -> Target:
    """Return the target of a pull request of PROJ/app."""
    return Target(PROJECT, REPO, pr_id=pr_id)


def publication(
    markdown: str = "## Review\n\nTwo problems.", *findings: Finding
) -> Publication:
    """Return a publication of review 1 with ``findings``."""
    return Publication(1, markdown, "Two problems.", findings)


def make_client(url: str, **overrides: object) -> BitbucketClient:
    """Build a client of ``url`` from settings."""
    built = build_bitbucket_client(bitbucket_settings(url, **overrides))
    assert built is not None
    return built


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# Reading commits


async def test_commit_has_author_title_and_unified_diff(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """A commit comes with its author's name and email, its first line and its diff."""
    commit_id = seeded.main[1]

    change = await client.fetch_commit(commit_target(commit_id))

    assert change.author == Person("Ada Lovelace", "ada@example.com")
    assert change.title == "Add settings"
    assert change.diff == seeded.repo.commits[commit_id].diff
    assert change.url == (
        f"{bitbucket.base_url}/projects/PROJ/repos/app/commits/{commit_id}"
    )
    diff_request = bitbucket.sent("GET", f"/commits/{commit_id}/diff")[0]
    assert diff_request.headers["accept"] == "text/plain"
    assert diff_request.headers["authorization"] == f"Bearer {TOKEN}"
    assert diff_request.headers["user-agent"] == f"ai-code-reviewer/{__version__}"


async def test_unmapped_author_keeps_the_commit_identity(
    client: BitbucketClient, bitbucket: FakeBitbucketServer
) -> None:
    """An author with no Bitbucket account is named by the commit's name and email."""
    repo = bitbucket.add_repository(PROJECT, REPO)
    stranger = FakeUser("Jo Doe", "Jo Doe", "jo@example.org", mapped=False)
    commit_id = repo.add_commit("Fix", A_DIFF, author=stranger)

    change = await client.fetch_commit(commit_target(commit_id))

    assert change.author == Person("Jo Doe", "jo@example.org")


async def test_json_diff_answer_is_rendered_as_unified_text(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """A server that answers the JSON diff model anyway yields the same unified diff."""
    bitbucket.json_only = True

    change = await client.fetch_commit(commit_target(seeded.feature[0]))

    assert change.diff.startswith("diff --git a/a.py b/a.py")
    assert parse_unified_diff(change.diff) == parse_unified_diff(A_DIFF)


async def test_truncated_json_diff_says_what_was_cut(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """What Bitbucket cut from a JSON diff reaches the change, not just a log."""
    bitbucket.json_only = bitbucket.truncate_diffs = True

    change = await client.fetch_commit(commit_target(seeded.feature[0]))

    assert change.truncated == ("a.py", WHOLE_DIFF)


async def test_merge_commit_has_an_empty_diff(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """A commit that changes nothing has an empty diff, also in the JSON model."""
    bitbucket.json_only = True

    change = await client.fetch_commit(commit_target(seeded.feature[2]))

    assert change.diff == ""
    assert change.title == "Merge main"


# Reading pull requests


async def test_pull_request_has_people_title_and_whole_diff(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """A pull request comes with its author, reviewers, title and text diff."""
    change = await client.fetch_pull_request(pr_target(), None)

    assert change.author == Person("Ada Lovelace", "ada@example.com")
    assert change.reviewers == (Person("Grace Hopper", "grace@example.com"),)
    assert change.title == "Add the feature"
    assert change.diff == A_DIFF + B_DIFF + C_DIFF
    assert change.url == f"{bitbucket.base_url}/projects/PROJ/repos/app/pull-requests/1"
    assert bitbucket.sent("GET", "/pull-requests/1.diff")[0].headers["accept"] == (
        "text/plain"
    )


async def test_pull_request_since_a_commit_has_only_the_new_changes(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """With ``since`` only what the source gained after that commit is fetched."""
    change = await client.fetch_pull_request(pr_target(), seeded.feature[0])

    paths = [f.path for f in parse_unified_diff(change.diff).files]
    assert paths == ["b.py", "c.py"]
    query = bitbucket.sent("GET", "/pull-requests/1/diff")[0].query
    assert query == {"sinceId": seeded.feature[0], "untilId": seeded.feature[3]}


async def test_pull_request_metadata_has_draft_flag_and_refs(
    client: BitbucketClient, seeded: Seeded
) -> None:
    """The pull request's draft flag, branches and source commit are read."""
    seeded.pull_request.draft = True

    pull_request = await client.pull_request(pr_target())

    assert pull_request.draft is True
    assert pull_request.source_branch == "feature"
    assert pull_request.target_branch == "main"
    assert pull_request.source_commit == seeded.feature[3]
    assert pull_request.state == "OPEN"


# Listing pushed commits


async def test_pushed_commits_are_listed_oldest_first_without_merges(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """A push's commits are listed across pages, oldest first, without merges."""
    f1, f2, _, f3 = seeded.feature

    pushed = await client.list_pushed_commits(PROJECT, REPO, seeded.main[1], f3, 10)

    assert [c.id for c in pushed.commits] == [f1, f2, f3]
    assert [c.title for c in pushed.commits] == ["Add a", "Add b", "Add c"]
    assert pushed.more is False
    pages = bitbucket.sent("GET", "/repos/app/commits")
    assert len(pages) == 2
    assert pages[0].query["merges"] == "exclude"
    assert pages[1].query["start"] == "2"


async def test_pushed_commits_are_capped_by_the_limit(
    client: BitbucketClient, seeded: Seeded
) -> None:
    """Past ``limit`` the oldest commits are returned and ``more`` is set."""
    f1, f2, _, f3 = seeded.feature

    pushed = await client.list_pushed_commits(PROJECT, REPO, seeded.main[1], f3, 2)

    assert [c.id for c in pushed.commits] == [f1, f2]
    assert pushed.more is True


async def test_new_branch_lists_only_commits_not_on_the_default_branch(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """A new branch (zero old hash) lists the commits since the default head."""
    f1, f2, _, f3 = seeded.feature

    for since in (ZERO_HASH, None):
        pushed = await client.list_pushed_commits(PROJECT, REPO, since, f3, 10)
        assert [c.id for c in pushed.commits] == [f1, f2, f3]

    assert bitbucket.sent("GET", "/branches/default")
    assert bitbucket.sent("GET", "/commits")[0].query["since"] == seeded.main[1]


async def test_default_branch_is_read(client: BitbucketClient, seeded: Seeded) -> None:
    """The default branch comes with its ref and head commit."""
    branch = await client.default_branch(PROJECT, REPO)

    assert (branch.id, branch.display_id) == ("refs/heads/main", "main")
    assert branch.latest_commit == seeded.main[1]


async def test_paging_stops_at_the_page_cap(
    client: BitbucketClient, seeded: Seeded
) -> None:
    """A list longer than the page cap is cut, the last page read not being the last."""
    url = f"{client.paths(PROJECT, REPO).api}/commits"
    params = {"until": "feature"}
    listed = client.http.pages(url, what="commits", params=params, max_pages=1)

    pages = [page async for page in listed]

    assert len(pages) == 1
    assert len(pages[0].values) == 2
    assert pages[0].last is False


# The health check


async def test_check_names_the_version_when_the_token_works(
    client: BitbucketClient, bitbucket: FakeBitbucketServer
) -> None:
    """check() reads the server's version with the token, for the health check."""
    answer = await client.check()

    assert answer == "Bitbucket 9.2.0 accepted the token"
    [request] = bitbucket.sent("GET", "/rest/api/1.0/application-properties")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


async def test_check_fails_on_a_wrong_token(bitbucket: FakeBitbucketServer) -> None:
    """check() raises the token's refusal, so the health check reports it."""
    client = make_client(bitbucket.base_url, bitbucket_token="BBDC-wrong-1")

    with pytest.raises(GitHostError, match="refused the token"):
        await client.check()
    await client.aclose()


# Errors


async def test_wrong_token_is_refused_without_showing_it(
    bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """A 401 is a GitHostError naming the setting, never the token itself."""
    wrong = "BBDC-wrong-token-77"
    client = make_client(bitbucket.base_url, bitbucket_token=wrong)

    with pytest.raises(GitHostError, match="refused the token") as caught:
        await client.fetch_commit(commit_target(seeded.main[0]))
    await client.aclose()

    assert not isinstance(caught.value, TransientError)
    assert "BITBUCKET_TOKEN" in str(caught.value)
    assert wrong not in str(caught.value)
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(
    ("target", "named"),
    [
        (commit_target("0123abcd" * 5), "commit 0123abcd"),
        (Target(PROJECT, "nope", commit_id="0123abcd" * 5), "PROJ/nope"),
        (pr_target(42), "pull request 42 in PROJ/app"),
    ],
)
async def test_unknown_things_are_not_found(
    client: BitbucketClient, seeded: Seeded, target: Target, named: str
) -> None:
    """A 404 is NotFound naming the commit, repository or pull request."""
    with pytest.raises(NotFound, match=named):
        if target.pr_id is None:
            await client.fetch_commit(target)
        else:
            await client.fetch_pull_request(target, None)


async def test_rate_limit_carries_retry_after(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """A 429 is RateLimited, transient, with the Retry-After seconds."""
    bitbucket.fail_next(429, retry_after="7")

    with pytest.raises(RateLimited) as caught:
        await client.fetch_commit(commit_target(seeded.main[0]))

    assert isinstance(caught.value, TransientError)
    assert caught.value.retry_after == 7.0


async def test_server_error_is_transient(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """A 500 is a TransientError, and the next request succeeds."""
    bitbucket.fail_next(500)

    with pytest.raises(TransientError, match="HTTP 500"):
        await client.fetch_commit(commit_target(seeded.main[0]))
    change = await client.fetch_commit(commit_target(seeded.main[0]))

    assert change.title == "Initial commit"


async def test_slow_server_times_out_as_transient(
    bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """A request longer than GITHOST_TIMEOUT is a TransientError."""
    client = make_client(bitbucket.base_url, githost_timeout=0.3)
    bitbucket.delay_next(3)

    with pytest.raises(TransientError, match="did not answer in time"):
        await client.fetch_commit(commit_target(seeded.main[0]))
    await client.aclose()


async def test_refused_connection_is_transient() -> None:
    """A server that does not listen is a TransientError."""
    client = make_client(f"http://127.0.0.1:{free_port()}")

    with pytest.raises(TransientError, match="could not reach Bitbucket"):
        await client.fetch_commit(commit_target("a" * 40))
    await client.aclose()


# Publishing to pull requests


async def test_summary_comment_is_posted_once_then_edited_in_place(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """A second review edits the summary comment instead of adding another."""
    first = await client.publish(pr_target(), publication("## Review\n\nFirst."))
    second = await client.publish(pr_target(), publication("## Review\n\nSecond."))

    comments = list(seeded.pull_request.comments.values())
    assert (first, second) == ("published", "published")
    assert len(comments) == 1
    assert comments[0]["text"] == f"## Review\n\nSecond.\n\n{SUMMARY_MARKER}"
    assert comments[0]["version"] == 1
    assert len(bitbucket.sent("POST", "/pull-requests/1/comments")) == 1
    edit = bitbucket.sent("PUT", f"/comments/{comments[0]['id']}")[0]
    assert edit.body == {"text": comments[0]["text"], "version": 0}


async def test_unchanged_summary_is_not_edited(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """Publishing the same review twice leaves the comment as it is."""
    await client.publish(pr_target(), publication())
    await client.publish(pr_target(), publication())

    assert len(seeded.pull_request.comments) == 1
    assert not bitbucket.sent("PUT", "")


async def test_stale_comment_version_is_read_again_and_retried(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """A 409 on the edit makes the client read the comment again and edit once more."""
    await client.publish(pr_target(), publication("First."))
    bitbucket.stale_edits = 1

    status = await client.publish(pr_target(), publication("Second."))

    (comment,) = seeded.pull_request.comments.values()
    assert status == "published"
    assert comment["text"].startswith("Second.")
    assert [r.body["version"] for r in bitbucket.sent("PUT", "")] == [0, 1]
    assert len(bitbucket.sent("GET", f"/comments/{comment['id']}")) == 1


async def test_inline_comments_are_posted_once_across_reviews(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """Each finding on a line gets one inline comment, even when its line moves."""
    moved = Finding("a.py", 3, "major", "security", "eval  of INPUT", "Still there.")
    await client.publish(pr_target(), publication("R1", EVAL, AREA))

    await client.publish(pr_target(), publication("R2", moved, AREA, SECRET))

    inline = [c for c in seeded.pull_request.comments.values() if "anchor" in c]
    assert sorted(c["anchor"]["path"] for c in inline) == ["a.py", "b.py", "c.py"]
    first = next(c for c in inline if c["anchor"]["path"] == "a.py")
    assert first["anchor"] == {
        "path": "a.py",
        "line": 2,
        "lineType": "ADDED",
        "fileType": "TO",
        "diffType": "EFFECTIVE",
    }
    assert first["text"].endswith(f"_ai-code-reviewer finding {fingerprint(EVAL)}_")
    assert fingerprint(moved) == fingerprint(EVAL)


async def test_inline_comment_off_the_diff_is_skipped(
    client: BitbucketClient, seeded: Seeded
) -> None:
    """A finding whose line left the diff is skipped; the others are still posted."""
    gone = Finding("a.py", 40, "minor", "bug", "Off by one", "Check the bound.")
    whole_file = Finding("b.py", None, "info", "style", "Naming", "Use longer names.")

    status = await client.publish(pr_target(), publication("R", gone, whole_file, EVAL))

    inline = [c for c in seeded.pull_request.comments.values() if "anchor" in c]
    assert status == "published"
    assert [c["anchor"]["line"] for c in inline] == [2]


async def test_pull_request_switches_are_honoured(
    bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """With the summary off only inline comments go out; with both off nothing does."""
    inline_only = make_client(bitbucket.base_url, publish_pr_comment=False)
    nothing = make_client(
        bitbucket.base_url, publish_pr_comment=False, publish_inline_comments=False
    )

    skipped = await nothing.publish(pr_target(), publication("R", EVAL))
    requests_after_skip = len(bitbucket.requests)
    published = await inline_only.publish(pr_target(), publication("R", EVAL))
    await inline_only.aclose()
    await nothing.aclose()

    assert (skipped, published) == ("skipped", "published")
    assert requests_after_skip == 0
    (comment,) = seeded.pull_request.comments.values()
    assert "anchor" in comment


# Publishing to commits


async def test_code_insights_report_is_replaced_not_piled_up(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """A second report replaces the first, with its own annotations only."""
    commit_id = seeded.feature[3]
    await client.publish(commit_target(commit_id), publication("R1", EVAL, AREA))

    status = await client.publish(commit_target(commit_id), publication("R2", SECRET))

    key = (commit_id, "ai-code-reviewer")
    report, annotations = seeded.repo.reports[key], seeded.repo.annotations[key]
    assert status == "published"
    assert report["result"] == "FAIL"
    assert report["details"] == "Two problems."
    assert {d["title"]: d["value"] for d in report["data"]}["Critical"] == 1
    assert annotations == [
        {
            "externalId": fingerprint(SECRET),
            "message": "Hard-coded password: Move it.",
            "severity": "HIGH",
            "type": "VULNERABILITY",
            "path": "c.py",
            "line": 1,
        }
    ]
    assert len(bitbucket.sent("DELETE", "/reports/ai-code-reviewer")) == 2


async def test_annotations_are_mapped_batched_and_capped(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """Findings map to Code Insights annotations; at most 1000 go, in batches."""
    many = tuple(
        Finding("a.py", 2, "minor", "style", f"Style {n}", "Tidy.") for n in range(1005)
    )
    commit_id = seeded.feature[0]

    await client.publish(commit_target(commit_id), publication("R", AREA, *many))

    annotations = seeded.repo.annotations[(commit_id, "ai-code-reviewer")]
    report = seeded.repo.reports[(commit_id, "ai-code-reviewer")]
    assert len(annotations) == 1000
    assert (annotations[0]["severity"], annotations[0]["type"]) == (
        "MEDIUM",
        "CODE_SMELL",
    )
    assert report["result"] == "PASS"
    assert len(bitbucket.sent("POST", "/reports/ai-code-reviewer/annotations")) == 10


async def test_build_status_reports_failure_on_a_major_finding(
    client: BitbucketClient, bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """With PUBLISH_BUILD_STATUS the commit gets a build status, FAILED on a major."""
    commit_id = seeded.main[1]

    await client.publish(commit_target(commit_id), publication("R", EVAL))

    (build,) = seeded.repo.builds[commit_id]
    assert build["state"] == "FAILED"
    assert build["key"] == "ai-code-reviewer"
    assert (
        build["url"]
        == f"{bitbucket.base_url}/projects/PROJ/repos/app/commits/{commit_id}"
    )


async def test_commit_switches_are_honoured(
    bitbucket: FakeBitbucketServer, seeded: Seeded
) -> None:
    """Code Insights off and build status off publish nothing on a commit."""
    client = make_client(bitbucket.base_url, publish_code_insights=False)
    commit_id = seeded.main[1]

    status = await client.publish(commit_target(commit_id), publication("R", EVAL))
    await client.aclose()

    assert status == "skipped"
    assert bitbucket.requests == []
    assert seeded.repo.reports == {}


# Settings and TLS


def test_no_url_means_no_client() -> None:
    """Without BITBUCKET_URL there is no Bitbucket client."""
    assert build_bitbucket_client(bitbucket_settings("")) is None


def test_url_without_token_is_a_config_error() -> None:
    """BITBUCKET_URL without BITBUCKET_TOKEN is refused before any request."""
    settings = bitbucket_settings("https://bitbucket.example.com", bitbucket_token=None)

    with pytest.raises(ConfigError, match="BITBUCKET_TOKEN"):
        build_bitbucket_client(settings)


def test_missing_ca_bundle_is_a_config_error(tmp_path: Path) -> None:
    """BITBUCKET_CA_BUNDLE naming no file is refused before any request."""
    settings = bitbucket_settings(
        "https://bitbucket.example.com", bitbucket_ca_bundle=tmp_path / "none.pem"
    )

    with pytest.raises(ConfigError, match="BITBUCKET_CA_BUNDLE"):
        build_bitbucket_client(settings)


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, tuple[str, str]]:
    """Return a CA file, and a certificate and key it signed for 127.0.0.1."""
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    ca_file, cert_file, key_file = (tmp_path / n for n in ("ca.pem", "c.pem", "k.pem"))
    ca.cert_pem.write_to_path(str(ca_file))
    issued.cert_chain_pems[0].write_to_path(str(cert_file))
    issued.private_key_pem.write_to_path(str(key_file))
    return ca_file, (str(cert_file), str(key_file))


async def test_tls_settings_are_honoured(
    tls_files: tuple[Path, tuple[str, str]],
) -> None:
    """A private CA is trusted with the bundle, refused without, unchecked when off."""
    ca_file, server_files = tls_files
    with serving(server_files) as server:
        commit_id = seed(server).main[0]
        trusting = make_client(server.base_url, bitbucket_ca_bundle=ca_file)
        default = make_client(server.base_url)
        unchecked = make_client(server.base_url, bitbucket_verify_tls=False)

        trusted = await trusting.fetch_commit(commit_target(commit_id))
        with pytest.raises(GitHostError, match="not trusted") as refused:
            await default.fetch_commit(commit_target(commit_id))
        unverified = await unchecked.fetch_commit(commit_target(commit_id))
        for client in (trusting, default, unchecked):
            await client.aclose()

    assert server.base_url.startswith("https://")
    assert trusted.title == unverified.title == "Initial commit"
    assert not isinstance(refused.value, TransientError)

"""The Bitbucket client fetches a range of commits as one diff."""

from __future__ import annotations

from ai_code_reviewer.githost.bitbucket import BitbucketClient
from tests.bitbucketserver import GRACE, FakeBitbucketServer
from tests.integration.githost.conftest import PROJECT, REPO, Seeded, new_file


async def test_range_is_one_diff_by_the_newest_author(
    client: BitbucketClient, seeded: Seeded, bitbucket: FakeBitbucketServer
) -> None:
    """fetch_range: the diff as text, the newest author, the size in the title."""
    c2 = seeded.main[1]
    seeded.repo.add_commit("Add d", new_file("d.py", "D = 1"))
    d2 = seeded.repo.add_commit("Add e", new_file("e.py", "E = 1"), author=GRACE)

    change = await client.fetch_range(PROJECT, REPO, c2, d2)

    assert "d.py" in change.diff and "e.py" in change.diff and "s.py" not in change.diff
    assert change.author.email == "grace@example.com"
    assert change.title == f"2 commits since {c2[:11]}"
    [sent] = bitbucket.sent("GET", f"/commits/{d2}/diff")
    assert (sent.query["since"], sent.headers["accept"]) == (c2, "text/plain")


async def test_range_diff_read_from_the_json_model(
    client: BitbucketClient, seeded: Seeded, bitbucket: FakeBitbucketServer
) -> None:
    """A range answered with the JSON diff model is read all the same."""
    bitbucket.json_only = True
    f1, _f2, _merge, f3 = seeded.feature

    change = await client.fetch_range(PROJECT, REPO, f1, f3)

    assert "b.py" in change.diff and "c.py" in change.diff and "a.py" not in change.diff
    assert change.title == f"2 commits since {f1[:11]}"

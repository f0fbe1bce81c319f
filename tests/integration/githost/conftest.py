"""Fixtures of the Git host client tests: a fake Bitbucket server, one repository."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ai_code_reviewer.githost.bitbucket import BitbucketClient, build_bitbucket_client
from ai_code_reviewer.settings import Settings
from tests.bitbucketserver import (
    TOKEN,
    FakeBitbucketServer,
    FakePullRequest,
    FakeRepository,
    serving,
)

PROJECT, REPO = "PROJ", "app"


def new_file(path: str, *lines: str) -> str:
    """Return the unified diff of a new file holding ``lines``."""
    body = "".join(f"+{line}\n" for line in lines)
    return (
        f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n"
        f"+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}"
    )


A_DIFF = new_file("a.py", "import os", "x = eval(os.environ['X'])", "y = 2")
B_DIFF = new_file("b.py", "def area(r):", "    return 3.14 * r * r")
C_DIFF = new_file("c.py", "PASSWORD = 'hunter2'")


def bitbucket_settings(url: str, **overrides: Any) -> Settings:
    """Build settings for the Bitbucket client, ignoring any .env file."""
    values: dict[str, Any] = {
        "bitbucket_url": url,
        "bitbucket_token": TOKEN,
        "githost_timeout": 5.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass(frozen=True)
class Seeded:
    """The repository the tests read: main with two commits, a feature branch, a PR.

    ``feature`` holds f1, f2, a merge of main, then f3; the pull request
    brings the feature into main.
    """

    repo: FakeRepository
    main: tuple[str, str]
    feature: tuple[str, str, str, str]
    pull_request: FakePullRequest


def seed(server: FakeBitbucketServer) -> Seeded:
    """Fill the fake server with the repository PROJ/app."""
    repo = server.add_repository(PROJECT, REPO)
    c1 = repo.add_commit("Initial commit", new_file("README.md", "# app"))
    c2 = repo.add_commit(
        "Add settings\n\nRead from the environment.", new_file("s.py", "A = 1")
    )
    f1 = repo.add_commit("Add a", A_DIFF, branch="feature", parents=[c2])
    f2 = repo.add_commit("Add b", B_DIFF, branch="feature")
    merge = repo.add_commit("Merge main", "", branch="feature", parents=[f2, c2])
    f3 = repo.add_commit("Add c", C_DIFF, branch="feature")
    pull_request = repo.add_pull_request(
        "Add the feature", "feature", A_DIFF + B_DIFF + C_DIFF
    )
    return Seeded(repo, (c1, c2), (f1, f2, merge, f3), pull_request)


@pytest.fixture
def bitbucket() -> Iterator[FakeBitbucketServer]:
    """Yield a running fake Bitbucket Data Center server."""
    with serving() as server:
        yield server


@pytest.fixture
def seeded(bitbucket: FakeBitbucketServer) -> Seeded:
    """Return the seeded repository of the fake server."""
    return seed(bitbucket)


@pytest.fixture
async def client(bitbucket: FakeBitbucketServer) -> AsyncIterator[BitbucketClient]:
    """Yield a client of the fake server with every publishing part on."""
    settings = bitbucket_settings(bitbucket.base_url, publish_build_status=True)
    built = build_bitbucket_client(settings)
    assert built is not None
    yield built
    await built.aclose()

"""A local Git repository read with the git program: revisions, ranges, the index."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from ai_code_reviewer.errors import ConfigError, InvalidRequest
from ai_code_reviewer.githost.base import Person
from ai_code_reviewer.githost.local import LocalRepository

AUTHOR = Person("Ada Lovelace", "ada@example.com")


def git_env(home: Path) -> dict[str, str]:
    """Return an environment for git with a fixed author and no user configuration."""
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GIT_") and key != "DATABASE_URL"
    }
    return kept | {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": str(AUTHOR.name),
        "GIT_AUTHOR_EMAIL": str(AUTHOR.email),
        "GIT_COMMITTER_NAME": "Charles Babbage",
        "GIT_COMMITTER_EMAIL": "charles@example.com",
    }


@dataclass
class GitRepo:
    """A Git repository in a temporary folder, changed through the git program."""

    path: Path
    env: dict[str, str]

    @classmethod
    def create(cls, path: Path, home: Path) -> GitRepo:
        """Run git init in ``path`` with ``home`` as the user's home folder."""
        path.mkdir(parents=True, exist_ok=True)
        home.mkdir(parents=True, exist_ok=True)
        repo = cls(path, git_env(home))
        repo.git("init", "--quiet", "--initial-branch=main")
        return repo

    def git(self, *args: str) -> str:
        """Run git with ``args`` in the repository and return its output."""
        done = subprocess.run(
            ["git", *args],
            cwd=self.path,
            env=self.env,
            capture_output=True,
            check=True,
            timeout=30,
        )
        return done.stdout.decode().strip()

    def stage(self, files: Mapping[str, str | bytes | None]) -> None:
        """Write ``files`` (None deletes one) and stage every change."""
        for name, content in files.items():
            target = self.path / name
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            data = content.encode() if isinstance(content, str) else content
            target.write_bytes(data)
        self.git("add", "--all")

    def commit(self, message: str, files: Mapping[str, str | bytes | None]) -> str:
        """Commit ``files`` with ``message`` and return the new commit's id."""
        self.stage(files)
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitRepo:
    """Return an empty repository, with the process's git environment set for it."""
    made = GitRepo.create(tmp_path / "repo", tmp_path / "home")
    for key in [key for key in os.environ if key.startswith("GIT_")]:
        monkeypatch.delenv(key)
    for key, value in made.env.items():
        monkeypatch.setenv(key, value)
    return made


def changed(repository: LocalRepository, spec: str | None = None) -> list[str]:
    """Return the paths and statuses of the files that ``spec`` changes."""
    return [f"{f.status} {f.path}" for f in repository.diff(spec).files]


def test_a_commit_is_its_change_against_its_first_parent(repo: GitRepo) -> None:
    """REV shows only that commit's change, with added lines at their numbers."""
    repo.commit("Start", {"app.py": "a = 1\n"})
    repo.commit("Grow", {"app.py": "a = 1\nb = 2\n", "new.py": "c = 3\n"})

    diff = LocalRepository(repo.path).diff("HEAD")

    assert [(f.status, f.path) for f in diff.files] == [
        ("modified", "app.py"),
        ("added", "new.py"),
    ]
    assert [(x.new_number, x.text) for x in diff.files[0].added_lines()] == [
        (2, "b = 2")
    ]


def test_nothing_given_means_head(repo: GitRepo) -> None:
    """Without a revision, the last commit is reviewed."""
    repo.commit("Start", {"a.py": "a = 1\n"})
    repo.commit("Second", {"b.py": "b = 1\n"})

    assert changed(LocalRepository(repo.path)) == ["added b.py"]


def test_a_root_commit_is_compared_with_the_empty_tree(repo: GitRepo) -> None:
    """The first commit of a repository shows all its files as added."""
    root = repo.commit("Start", {"a.py": "a = 1\n", "b.py": "b = 2\n"})

    assert changed(LocalRepository(repo.path), root) == ["added a.py", "added b.py"]


def test_a_merge_is_its_change_against_the_first_parent(repo: GitRepo) -> None:
    """A merge commit shows what the merged branch brought to the first parent."""
    repo.commit("Start", {"a.py": "a = 1\n"})
    repo.git("switch", "--quiet", "-c", "topic")
    repo.commit("Topic", {"topic.py": "t = 1\n"})
    repo.git("switch", "--quiet", "main")
    repo.commit("Main", {"main.py": "m = 1\n"})
    repo.git("merge", "--quiet", "--no-edit", "topic")

    assert changed(LocalRepository(repo.path)) == ["added topic.py"]


def test_ranges_use_two_dots_and_three_dots_as_git_does(repo: GitRepo) -> None:
    """A..B compares the two commits; A...B starts from their common commit."""
    start = repo.commit("Start", {"a.py": "a = 1\n"})
    repo.git("switch", "--quiet", "-c", "topic")
    repo.commit("Topic", {"topic.py": "t = 1\n"})
    repo.git("switch", "--quiet", "main")
    repo.commit("Main", {"main.py": "m = 1\n"})
    repository = LocalRepository(repo.path)

    assert changed(repository, f"{start}..topic") == ["added topic.py"]
    assert changed(repository, "topic..main") == ["added main.py", "deleted topic.py"]
    assert changed(repository, "main...topic") == ["added topic.py"]


def test_staged_changes_are_the_index_against_head(repo: GitRepo) -> None:
    """--staged shows what is staged, not what is only in the work tree."""
    repo.commit("Start", {"a.py": "a = 1\n"})
    repo.stage({"a.py": "a = 2\n"})
    (repo.path / "a.py").write_text("a = 3\n")
    repository = LocalRepository(repo.path)

    selection = repository.select(staged=True)
    diff = repository.diff_of(selection)

    assert [line.text for line in diff.files[0].added_lines()] == ["a = 2"]
    assert repository.reader(selection)("a.py") == "a = 2\n"


def test_staged_changes_before_the_first_commit(repo: GitRepo) -> None:
    """In a repository without commits, every staged file is added."""
    repo.stage({"a.py": "a = 1\n"})

    assert [f.path for f in LocalRepository(repo.path).diff(staged=True).files] == [
        "a.py"
    ]


def test_nothing_staged_is_said_in_one_sentence(repo: GitRepo) -> None:
    """An empty index is an error that says there is nothing to review."""
    repo.commit("Start", {"a.py": "a = 1\n"})

    with pytest.raises(InvalidRequest, match="Nothing is staged"):
        LocalRepository(repo.path).diff(staged=True)


def test_author_and_title_of_a_commit(repo: GitRepo) -> None:
    """author() is the commit's author (not its committer); title() its subject."""
    repo.commit("Add the parser\n\nWith a long body.", {"a.py": "a = 1\n"})
    repository = LocalRepository(repo.path)

    assert repository.author() == AUTHOR
    assert repository.title("HEAD") == "Add the parser"


def test_source_is_the_text_in_the_reviewed_version(repo: GitRepo) -> None:
    """source() reads a commit's version; deleted and binary files give None."""
    first = repo.commit("Start", {"a.py": "old\n", "logo.png": b"\x89PNG\0\0"})
    second = repo.commit("Change", {"a.py": "new\n", "logo.png": None})
    repo.commit("Drop", {"a.py": None})
    repository = LocalRepository(repo.path)

    assert repository.source(first, "a.py") == "old\n"
    assert repository.source(second, "a.py") == "new\n"
    assert repository.source("HEAD", "a.py") is None
    assert repository.source(first, "logo.png") is None
    assert repository.source(second, "logo.png") is None
    assert repository.source(first, "missing.py") is None


def test_paths_with_spaces_and_accents_are_read_as_they_are(repo: GitRepo) -> None:
    """Non-ASCII and spaced paths come out unquoted, and their text is readable."""
    repo.commit("Start", {"docs/été notes.py": "x = 1\n"})
    repository = LocalRepository(repo.path)

    [file] = repository.diff().files

    assert file.path == "docs/été notes.py"
    assert repository.source("HEAD", file.path) == "x = 1\n"


@pytest.mark.parametrize("revision", ["nope", "HEAD..nope", "--output=x", "a...b"])
def test_unknown_revisions_are_refused_by_name(repo: GitRepo, revision: str) -> None:
    """A name that is no commit (an option among them) fails with one sentence."""
    repo.commit("Start", {"a.py": "a = 1\n"})

    with pytest.raises(InvalidRequest, match="is not a commit of"):
        LocalRepository(repo.path).select(revision)
    assert not (repo.path / "x").exists()


def test_a_folder_outside_git_is_refused(tmp_path: Path, repo: GitRepo) -> None:
    """A folder that is no repository, or no folder at all, is an InvalidRequest."""
    plain = tmp_path / "plain"
    plain.mkdir()

    with pytest.raises(InvalidRequest, match="is not in a Git repository"):
        LocalRepository(plain)
    with pytest.raises(InvalidRequest, match="does not exist"):
        LocalRepository(tmp_path / "missing")


def test_missing_git_is_a_configuration_error(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without a git program on PATH, the error says git is not installed."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))

    with pytest.raises(ConfigError, match="git is not installed"):
        LocalRepository(repo.path)

"""``ai-code-reviewer review`` as installed, on temporary Git repositories."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.unit.githost.test_local import GitRepo, git_env

COMMAND = str(Path(sys.executable).parent / "ai-code-reviewer")
# Made up, and assembled at run time so that this file does not hold one.
PASSWORD = "Tr0ub4dor" + "-and-3-horses"

CLEAN = "def add(a, b):\n    return a + b\n"
RISKY = f"""import os


def run(expression):
    return eval(expression)


PASSWORD = "{PASSWORD}"


def use():
    return missing_name + 1
"""


def review(
    *args: str, cwd: Path, home: Path, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``ai-code-reviewer review *args`` with the built-in reviewer."""
    env = {
        key: value
        for key, value in git_env(home).items()
        if not key.startswith(("LLM_", "REVIEW_"))
    }
    done = subprocess.run(
        [COMMAND, "review", *args],
        cwd=cwd,
        env=env | {"LLM_PROVIDER": "builtin"},
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Return an empty home folder, so that no user .gitconfig is read."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def repo(tmp_path: Path, home: Path) -> GitRepo:
    """Return a repository whose clean first commit is followed by a risky one."""
    made = GitRepo.create(tmp_path / "repo", home)
    made.commit("Add the adder", {"calc.py": CLEAN})
    made.commit("Run expressions", {"run.py": RISKY})
    return made


def titles(output: str) -> list[str]:
    """Return the finding titles of a JSON review."""
    return [finding["title"] for finding in json.loads(output)["findings"]]


def assert_one_sentence(done: subprocess.CompletedProcess[str]) -> str:
    """Check a failure: exit 2, nothing on stdout, one line on stderr."""
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_commit_is_reviewed_as_markdown(repo: GitRepo, home: Path) -> None:
    """REV prints Markdown titled by the commit, with rule and ruff findings."""
    done = review("--repo", str(repo.path), "HEAD", cwd=home, home=home)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Review of ")
    assert "Run expressions" in done.stdout.splitlines()[0]
    assert "Code run from a string" in done.stdout
    assert "Secret in the code" in done.stdout
    assert "Undefined name `missing_name` (ruff F821)" in done.stdout
    assert PASSWORD not in done.stdout
    assert done.stderr == ""


def test_json_output_has_the_review_fields(repo: GitRepo, home: Path) -> None:
    """--format json prints one object with findings, coverage and usage."""
    done = review("--format", "json", cwd=repo.path, home=home)

    document = json.loads(done.stdout)
    assert done.returncode == 0, done.stderr
    assert set(document) == {
        "summary",
        "provider",
        "model",
        "findings",
        "coverage",
        "usage",
    }
    assert document["provider"] == "builtin"
    assert document["coverage"]["reviewed"] == ["run.py"]
    assert document["usage"]["prompt_tokens"] == 0
    assert {(f["line"], f["severity"]) for f in document["findings"]} >= {
        (5, "major"),
        (8, "critical"),
        (12, "major"),
    }


def test_the_first_commit_alone_has_no_findings(repo: GitRepo, home: Path) -> None:
    """HEAD~1 is the clean root commit: no findings, and ruff ran on it."""
    done = review("--format", "json", "HEAD~1", cwd=repo.path, home=home)

    document = json.loads(done.stdout)
    assert document["findings"] == []
    assert "ruff" in document["summary"]
    assert "checked 1 of 1 Python file" in document["summary"]


def test_a_range_covers_every_commit_in_it(repo: GitRepo, home: Path) -> None:
    """REV1..REV2 reviews the files of all the commits after REV1."""
    repo.commit("Print it", {"calc.py": CLEAN + "\nprint(add(1, 2))\n"})

    done = review("--format", "json", "HEAD~2..HEAD", cwd=repo.path, home=home)

    document = json.loads(done.stdout)
    assert document["coverage"]["reviewed"] == ["calc.py", "run.py"]
    assert "Debug output left in" in titles(done.stdout)


def test_staged_changes_are_reviewed(repo: GitRepo, home: Path) -> None:
    """--staged reviews the index, where ruff reads the staged text."""
    repo.stage({"calc.py": CLEAN + "\n\ndef total():\n    return add(x, 1)\n"})

    done = review("--staged", "--format", "json", cwd=repo.path, home=home)

    assert titles(done.stdout) == ["Undefined name `x` (ruff F821)"]


def test_a_diff_file_and_standard_input_are_reviewed(repo: GitRepo, home: Path) -> None:
    """--diff FILE and --diff - review the diff text, without ruff."""
    diff_text = repo.git("show", "--format=", "HEAD") + "\n"
    path = home / "change.diff"
    path.write_text(diff_text)

    from_file = review("--diff", str(path), cwd=home, home=home)
    from_stdin = review("--diff", "-", cwd=home, home=home, stdin=diff_text.encode())

    assert from_file.returncode == from_stdin.returncode == 0, from_file.stderr
    assert from_file.stdout.startswith("# Review of change.diff")
    assert from_stdin.stdout.startswith("# Review of the diff on standard input")
    for done in (from_file, from_stdin):
        assert "Code run from a string" in done.stdout
        assert "ruff did not run" in done.stdout


@pytest.mark.parametrize(
    ("revision", "threshold", "code"),
    [
        ("HEAD", "critical", 1),
        ("HEAD", "major", 1),
        ("HEAD", "info", 1),
        ("HEAD~1", "info", 0),
    ],
)
def test_fail_on_sets_the_exit_code(
    repo: GitRepo, home: Path, revision: str, threshold: str, code: int
) -> None:
    """--fail-on exits 1 when a finding is at or above the severity, else 0."""
    done = review(revision, "--fail-on", threshold, cwd=repo.path, home=home)

    assert done.returncode == code, done.stderr
    assert done.stdout.startswith("# Review of ")


def test_fail_on_ignores_findings_below_the_threshold(
    repo: GitRepo, home: Path
) -> None:
    """A change with only a minor finding passes --fail-on major."""
    repo.commit("Print it", {"calc.py": CLEAN + "\nprint(add(1, 2))\n"})

    done = review("--fail-on", "major", cwd=repo.path, home=home)

    assert done.returncode == 0, done.stderr
    assert "**minor**" in done.stdout


def test_a_folder_outside_git_ends_with_one_sentence(home: Path) -> None:
    """Reviewing a plain folder exits 2 with one line and no traceback."""
    done = review("--repo", str(home), cwd=home, home=home)

    assert "is not in a Git repository" in assert_one_sentence(done)


def test_an_unknown_revision_ends_with_one_sentence(repo: GitRepo, home: Path) -> None:
    """An unknown revision exits 2 and names it."""
    done = review("no-such-branch", cwd=repo.path, home=home)

    assert "'no-such-branch' is not a commit of" in assert_one_sentence(done)


@pytest.mark.parametrize(
    "args",
    [("HEAD", "--staged"), ("--diff", "-", "HEAD"), ("--format", "yaml")],
)
def test_conflicting_arguments_are_usage_errors(
    repo: GitRepo, home: Path, args: tuple[str, ...]
) -> None:
    """Bad combinations of arguments exit 2 before anything is reviewed."""
    done = review(*args, cwd=repo.path, home=home, stdin=b"")

    assert done.returncode == 2
    assert done.stdout == ""
    assert "Error:" in done.stderr


def test_a_text_that_is_not_a_diff_ends_with_one_sentence(home: Path) -> None:
    """--diff - with text that is no diff exits 2 with the parser's sentence."""
    done = review("--diff", "-", cwd=home, home=home, stdin=b"hello\n")

    assert "not a unified diff" in assert_one_sentence(done)


def test_this_repository_can_review_itself(home: Path) -> None:
    """The installed command reviews this project's HEAD (and HEAD~3..HEAD)."""
    commits = subprocess.run(
        ["git", "rev-list", "--count", "HEAD"],
        cwd=REPO_ROOT,
        env=git_env(home),
        capture_output=True,
        text=True,
        check=True,
    )
    specs = ["HEAD", "HEAD~3..HEAD"] if int(commits.stdout) > 3 else ["HEAD"]

    for spec in specs:
        done = review("--repo", str(REPO_ROOT), spec, cwd=home, home=home)

        assert done.returncode in (0, 1), done.stderr
        assert done.stdout.startswith("# Review of ")
        assert "_Reviewed by builtin (builtin-rules-1)._" in done.stdout

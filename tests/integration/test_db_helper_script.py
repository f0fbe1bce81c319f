"""scripts/db_helper.py as users run it: a real process from the repository root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, sqlite_url

SCRIPT = "scripts/db_helper.py"
SYSTEM_PYTHON = Path("/usr/bin/python3")


def run_script(
    python: str, *args: str, database_url: str, cwd: Path = REPO_ROOT
) -> subprocess.CompletedProcess[str]:
    """Run ``python scripts/db_helper.py *args`` with DATABASE_URL set."""
    env = {**os.environ, "DATABASE_URL": database_url}
    env.pop("AI_CODE_REVIEWER_DB_HELPER_REEXEC", None)
    return subprocess.run(
        [python, SCRIPT, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def system_python_lacks_dependencies() -> bool:
    """Tell whether /usr/bin/python3 exists and cannot import SQLAlchemy."""
    if not SYSTEM_PYTHON.is_file():
        return False
    probe = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sqlalchemy"],
        capture_output=True,
        check=False,
    )
    return probe.returncode != 0


needs_bare_python = pytest.mark.skipif(
    not system_python_lacks_dependencies(),
    reason="needs /usr/bin/python3 without the project's dependencies",
)


def test_help_lists_the_commands(sqlite_db_url: str) -> None:
    """python scripts/db_helper.py --help lists every command of the guide."""
    result = run_script(sys.executable, "--help", database_url=sqlite_db_url)

    assert result.returncode == 0, result.stderr
    for command in ("create", "reset", "clean", "stats", "seed", "list", "backup"):
        assert f"  {command} " in result.stdout


def test_stats_runs_from_the_repository_root(sqlite_db_url: str) -> None:
    """python scripts/db_helper.py stats reads DATABASE_URL and prints counts."""
    result = run_script(sys.executable, "stats", database_url=sqlite_db_url)

    assert result.returncode == 0, result.stderr
    assert "Reviews:   0" in result.stdout


def test_errors_end_in_one_sentence_in_a_real_process(tmp_path: Path) -> None:
    """A missing database gives one line on stderr, exit 2 and no traceback."""
    url = sqlite_url(tmp_path / "missing.db")

    result = run_script(sys.executable, "list", database_url=url)

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "python scripts/db_helper.py create" in result.stderr


@needs_bare_python
def test_a_python_without_dependencies_hands_over_to_the_venv(
    sqlite_db_url: str,
) -> None:
    """Run by a Python lacking the dependencies, the script re-runs with .venv."""
    if not (REPO_ROOT / ".venv" / "bin" / "python").is_file():
        pytest.skip("the checkout has no .venv")

    result = run_script(str(SYSTEM_PYTHON), "stats", database_url=sqlite_db_url)

    assert result.returncode == 0, result.stderr
    assert "Reviews:" in result.stdout


@needs_bare_python
def test_without_a_venv_it_says_how_to_install(tmp_path: Path) -> None:
    """With no dependencies and no .venv, one sentence says to install first."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO_ROOT / SCRIPT, tmp_path / SCRIPT)

    result = run_script(
        str(SYSTEM_PYTHON),
        "stats",
        database_url=sqlite_url(tmp_path / "x.db"),
        cwd=tmp_path,
    )

    assert result.returncode == 2
    assert "make install" in result.stderr
    assert "Traceback" not in result.stderr

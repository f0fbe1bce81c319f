"""The ``ai-code-reviewer`` command as installed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

COMMAND = str(Path(sys.executable).parent / "ai-code-reviewer")


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed command with ``args`` in ``cwd``."""
    return subprocess.run(
        [COMMAND, *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_help_lists_serve_and_db(tmp_path: Path) -> None:
    """--help names the serve and db commands."""
    result = run("--help", cwd=tmp_path)

    assert result.returncode == 0
    assert "serve" in result.stdout
    assert "db" in result.stdout


def test_serve_with_bad_settings_ends_with_a_sentence(tmp_path: Path) -> None:
    """serve with an unusable DATABASE_URL exits 2 with one line, no traceback."""
    result = run("serve", cwd=tmp_path, DATABASE_URL="mysql://root@localhost/x")

    assert result.returncode == 2
    assert "DATABASE_URL must start with one of" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    """An unknown command exits 2 and says so."""
    result = run("frobnicate", cwd=tmp_path)

    assert result.returncode == 2
    assert "No such command" in result.stderr

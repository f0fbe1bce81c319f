"""Confirmations and the translation of errors into one sentence."""

from __future__ import annotations

import sqlite3

import click
import pytest
from click.testing import CliRunner
from sqlalchemy.exc import OperationalError

from ai_code_reviewer.dbtools.console import DbGroup, confirm
from ai_code_reviewer.errors import RecordNotFound


def group_raising(error: BaseException | None) -> click.Group:
    """Build a DbGroup whose one command confirms, then raises ``error``."""

    @click.group(cls=DbGroup)
    def group() -> None:
        """Test group."""

    @group.command()
    @click.option("--yes", is_flag=True)
    def act(yes: bool) -> None:
        confirm("Really?", yes)
        if error is not None:
            raise error
        click.echo("done")

    return group


@pytest.mark.parametrize("answer", ["n\n", "\n", None])
def test_no_or_no_answer_declines(answer: str | None) -> None:
    """ "n", a bare Enter and an empty stdin all end with exit 1 and do nothing."""
    result = CliRunner().invoke(group_raising(None), ["act"], input=answer)

    assert result.exit_code == 1
    assert "done" not in result.stdout
    assert result.stderr.strip() == "Aborted; nothing was changed."


def test_yes_answer_goes_on() -> None:
    """Answering "y" lets the command run."""
    result = CliRunner().invoke(group_raising(None), ["act"], input="y\n")

    assert result.exit_code == 0
    assert "done" in result.stdout


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (RecordNotFound("failure log 9 not found"), "failure log 9 not found"),
        (
            OperationalError(
                "SELECT 1", {}, sqlite3.OperationalError("disk I/O error")
            ),
            "the database refused the command: disk I/O error",
        ),
        (sqlite3.DatabaseError("file is not a database"), "file is not a database"),
        (PermissionError(13, "Permission denied", "/backups"), "Permission denied"),
    ],
)
def test_errors_end_with_one_sentence(error: BaseException, expected: str) -> None:
    """Project, driver and OS errors become one line on stderr and exit code 2."""
    result = CliRunner().invoke(group_raising(error), ["act", "--yes"])

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert expected in result.stderr
    assert "Traceback" not in result.output

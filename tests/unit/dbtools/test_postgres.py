"""Connection settings for pg_dump and pg_restore, and a missing pg_dump."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from ai_code_reviewer.dbtools.postgres import libpq_target
from tests.unit.dbtools.support import DbCli, assert_one_sentence_error

URL = "postgresql+asyncpg://reviewer:s3cr3t-pw@db.internal:6543/reviews?ssl=require"


def test_password_goes_to_the_environment_only() -> None:
    """The password is in PGPASSWORD, never in the tool's arguments."""
    target = libpq_target(make_url(URL))

    arguments = target.arguments()
    environment = target.environment()

    assert "s3cr3t-pw" not in " ".join(arguments)
    assert environment["PGPASSWORD"] == "s3cr3t-pw"
    assert arguments == [
        "--host",
        "db.internal",
        "--port",
        "6543",
        "--username",
        "reviewer",
        "--dbname",
        "reviews",
    ]


def test_asyncpg_ssl_becomes_pgsslmode() -> None:
    """asyncpg's ?ssl=require reaches libpq as PGSSLMODE=require."""
    target = libpq_target(make_url(URL))

    assert target.environment()["PGSSLMODE"] == "require"


def test_a_bare_url_sets_no_connection_flags() -> None:
    """Without host, port and user, libpq's own defaults apply."""
    target = libpq_target(make_url("postgresql+asyncpg:///reviews"))

    assert target.arguments() == ["--dbname", "reviews"]
    assert target.password is None


def test_backup_without_pg_dump_says_what_to_run(tmp_path: Path) -> None:
    """With no pg_dump on PATH, backup names the command to run, not the password."""
    empty = tmp_path / "bin"
    empty.mkdir()
    cli = DbCli(URL, tmp_path / "backups", extra_env={"PATH": str(empty)})

    result = cli("backup")

    message = assert_one_sentence_error(result)
    assert "pg_dump was not found" in message
    assert "pg_dump --format=custom" in message
    assert "PGPASSWORD=<password>" in message
    assert "s3cr3t-pw" not in result.output
    assert list((tmp_path / "backups").iterdir()) == []

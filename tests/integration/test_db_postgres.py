"""The db commands on a real PostgreSQL server, through pg_dump and pg_restore."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from ai_code_reviewer.api.db.migrations import head_revision
from tests.conftest import drop_pg_database
from tests.unit.dbtools.support import DbCli, assert_one_sentence_error

pytestmark = pytest.mark.postgres

SECRET = "not-needed-by-trust-auth"


@pytest.fixture
def missing_database_url(postgres_server: str) -> Iterator[str]:
    """Yield the URL of a database that does not exist yet; drop it afterwards."""
    url = make_url(postgres_server).set(database=f"acr_create_{uuid.uuid4().hex[:10]}")
    rendered = url.render_as_string(hide_password=False)
    yield rendered
    drop_pg_database(rendered)


@pytest.fixture
def pgcli(fresh_postgres_url: str, tmp_path: Path) -> DbCli:
    """Return a runner on a fresh PostgreSQL database migrated by db create, whose
    URL carries a password that must never be shown."""
    url = make_url(fresh_postgres_url)
    with_password = url.set(password=url.password or SECRET)
    dbcli = DbCli(with_password.render_as_string(hide_password=False), tmp_path / "bk")
    assert dbcli("create").exit_code == 0
    return dbcli


def counts(dbcli: DbCli) -> tuple[int, int]:
    """Return the review and failure counts that db stats prints."""
    output = dbcli("stats").stdout
    reviews = re.search(r"^Reviews:\s+(\d+)", output, re.M)
    failures = re.search(r"^Failures:\s+(\d+)", output, re.M)
    assert reviews and failures, output
    return int(reviews.group(1)), int(failures.group(1))


def test_create_makes_the_database_on_the_server(
    missing_database_url: str, tmp_path: Path
) -> None:
    """create issues CREATE DATABASE when needed, migrates, and stats then works."""
    dbcli = DbCli(missing_database_url, tmp_path / "bk")

    created = dbcli("create")
    again = dbcli("create")

    assert created.exit_code == 0, created.output
    assert created.stdout.startswith("Created and migrated")
    assert again.stdout.startswith("Migrated")
    assert (
        f"{head_revision()} (head {head_revision()}, up to date)"
        in dbcli("stats").stdout
    )


def test_seed_stats_list_and_clean(pgcli: DbCli) -> None:
    """seed adds records that stats counts and list shows; clean removes them and
    restarts ids."""
    pgcli("seed", "--reviews", "15", "--failures", "6")

    seeded = counts(pgcli)
    listing = pgcli("list", "--limit", "5").stdout.strip().splitlines()
    stats = pgcli("stats").stdout
    pgcli("clean", "--yes")
    after_clean = counts(pgcli)
    pgcli("seed", "--reviews", "1", "--failures", "0")
    first_id = pgcli("list").stdout.splitlines()[2].split()[0]

    assert seeded == (15, 6)
    assert after_clean == (0, 0)
    assert first_id == "1"
    assert len(listing) == 2 + 5
    assert re.search(r"^Size:\s+\d+\.\d MiB", stats, re.M)
    assert SECRET not in stats


def test_backup_and_restore_round_trip(pgcli: DbCli) -> None:
    """A pg_dump backup restored with pg_restore brings cleaned records back."""
    pgcli("seed", "--reviews", "12", "--failures", "3")
    backup = pgcli("backup")
    pgcli("clean", "--yes")

    latest = pgcli.backup_dir / "latest_backup.dump"
    restored = pgcli("restore", "--file", str(latest), "--yes")

    assert backup.exit_code == 0, backup.output
    assert restored.exit_code == 0, restored.output
    assert Path(backup.stdout.strip()).name.endswith(".dump")
    assert counts(pgcli) == (12, 3)
    assert len(list(pgcli.backup_dir.glob("ai_code_reviewer_*.dump"))) == 2
    assert SECRET not in backup.output + restored.output


def test_restore_refuses_a_sqlite_file(
    pgcli: DbCli, migrated_sqlite_template: Path
) -> None:
    """A SQLite file offered to a PostgreSQL database is refused; nothing changes."""
    pgcli("seed", "--reviews", "4", "--failures", "0")

    result = pgcli("restore", "--file", str(migrated_sqlite_template), "--yes")

    message = assert_one_sentence_error(result)
    assert "nothing was changed" in message
    assert counts(pgcli) == (4, 0)
    assert not pgcli.backup_dir.exists()


def test_declined_pg_restore_changes_nothing(pgcli: DbCli) -> None:
    """Answering no to a PostgreSQL restore keeps the records and takes no backup."""
    pgcli("seed", "--reviews", "3", "--failures", "0")
    pgcli("backup")
    pgcli("seed", "--reviews", "2", "--failures", "0")

    latest = pgcli.backup_dir / "latest_backup.dump"
    result = pgcli("restore", "--file", str(latest), answer="n\n")

    assert result.exit_code == 1
    assert counts(pgcli) == (5, 0)
    assert len(list(pgcli.backup_dir.glob("ai_code_reviewer_*.dump"))) == 1

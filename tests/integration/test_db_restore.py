"""db restore on a real SQLite file: checks first, a backup, then the copy."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from ai_code_reviewer.api.db.migrations import head_revision
from tests.unit.dbtools.support import (
    DbCli,
    assert_one_sentence_error,
    corrupt_index,
    count_rows,
    snapshot,
)


@pytest.fixture
def seeded(sqlite_db_url: str, tmp_path: Path) -> DbCli:
    """Return a runner of db commands on a database holding 20 reviews."""
    dbcli = DbCli(sqlite_db_url, tmp_path / "backups")
    result = dbcli("seed", "--reviews", "20", "--failures", "4", "--seed", "5")
    assert result.exit_code == 0, result.output
    return dbcli


def take_backup(dbcli: DbCli) -> Path:
    """Run db backup and return the path it prints."""
    result = dbcli("backup")
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


def test_restore_brings_records_back_and_backs_up_first(seeded: DbCli) -> None:
    """Restoring a backup after clean returns the rows; the cleaned state is saved."""
    saved = take_backup(seeded)
    seeded("clean", "--yes")

    result = seeded("restore", "--file", str(saved), "--yes")

    assert result.exit_code == 0, result.output
    assert count_rows(seeded.sqlite_path, "review_records") == 20
    assert f"schema revision {head_revision()}" in result.stdout
    safety = sorted(seeded.backup_dir.glob("ai_code_reviewer_*.db"))[-1]
    assert safety != saved
    assert count_rows(safety, "review_records") == 0


def test_restore_of_the_latest_link_restores_what_it_pointed_at(seeded: DbCli) -> None:
    """restore --file backups/latest_backup.db restores that backup, not the
    safety backup that re-points the link."""
    take_backup(seeded)
    seeded("clean", "--yes")

    latest = seeded.backup_dir / "latest_backup.db"
    result = seeded("restore", "--file", str(latest), "--yes")

    assert result.exit_code == 0, result.output
    assert count_rows(seeded.sqlite_path, "review_records") == 20


def test_restore_reaches_connections_left_open(seeded: DbCli) -> None:
    """A connection open during the restore reads the restored rows afterwards."""
    saved = take_backup(seeded)
    seeded("clean", "--yes")
    with closing(sqlite3.connect(seeded.sqlite_path)) as reader:
        assert reader.execute("SELECT count(*) FROM review_records").fetchone()[0] == 0

        seeded("restore", "--file", str(saved), "--yes")

        restored = reader.execute("SELECT count(*) FROM review_records").fetchone()[0]
        assert reader.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert restored == 20


def test_declined_restore_changes_nothing(seeded: DbCli) -> None:
    """Answering no leaves the database byte for byte and takes no backup."""
    saved = take_backup(seeded)
    seeded("clean", "--yes")
    before = snapshot(seeded.sqlite_path)

    result = seeded("restore", "--file", str(saved), answer="n\n")

    assert result.exit_code == 1
    assert snapshot(seeded.sqlite_path) == before
    assert len(list(seeded.backup_dir.glob("ai_code_reviewer_*.db"))) == 1


def write_text_file(path: Path, _template: Path) -> None:
    """Write a file that is not a database at all."""
    path.write_text("review_records,review_failure_logs\n1,2\n")


def write_foreign_database(path: Path, _template: Path) -> None:
    """Write a SQLite database that holds none of our tables."""
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        connection.commit()


def write_newer_release_database(path: Path, template: Path) -> None:
    """Write our schema stamped with a revision this release does not know."""
    shutil.copyfile(template, path)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dcafe9999'")
        connection.commit()


def write_damaged_database(path: Path, template: Path) -> None:
    """Write our schema with a damaged index."""
    shutil.copyfile(template, path)
    with closing(sqlite3.connect(path)) as connection:
        rows = [("PAY", f"{n:040x}") for n in range(200)]
        connection.executemany(
            "INSERT INTO review_records (review_type, trigger_type, project_key, "
            "repo_slug, commit_id, diff_content, review_feedback) "
            "VALUES ('auto', 'commit', ?, 'api', ?, 'diff', 'ok')",
            rows,
        )
        connection.commit()
    corrupt_index(path)


def write_other_page_size_database(path: Path, template: Path) -> None:
    """Write our schema with 8 KiB pages, which cannot be copied into WAL."""
    shutil.copyfile(template, path)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
        connection.execute("PRAGMA page_size=8192")
        connection.execute("VACUUM")


@pytest.mark.parametrize(
    ("write", "reason"),
    [
        (write_text_file, "not a SQLite database"),
        (write_foreign_database, "not our backup"),
        (write_newer_release_database, "f00dcafe9999"),
        (write_damaged_database, "integrity check"),
        (write_other_page_size_database, "page size"),
    ],
)
def test_unusable_files_are_refused_without_change(
    seeded: DbCli,
    tmp_path: Path,
    migrated_sqlite_template: Path,
    write: Callable[[Path, Path], None],
    reason: str,
) -> None:
    """A non-database, a foreign, newer, damaged or differently paged database is
    refused in one sentence, the live file left byte for byte."""
    offered = tmp_path / "offered.db"
    write(offered, migrated_sqlite_template)
    before = snapshot(seeded.sqlite_path)
    offered_before = offered.read_bytes()

    message = assert_one_sentence_error(
        seeded("restore", "--file", str(offered), "--yes")
    )

    assert reason in message
    assert "nothing was changed" in message
    assert snapshot(seeded.sqlite_path) == before
    assert offered.read_bytes() == offered_before
    assert not seeded.backup_dir.exists()


def test_restore_of_a_missing_file_is_a_usage_error(
    seeded: DbCli, tmp_path: Path
) -> None:
    """A --file that does not exist is refused before anything runs."""
    result = seeded("restore", "--file", str(tmp_path / "nope.db"), "--yes")

    assert result.exit_code == 2
    assert "does not exist" in result.stderr

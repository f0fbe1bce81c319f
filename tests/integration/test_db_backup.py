"""db backup on a real SQLite file: consistency under writers, names, rotation."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.unit.dbtools.support import (
    DbCli,
    assert_one_sentence_error,
    count_rows,
    row_ids,
)

WRITERS = 20
INSERT = (
    "INSERT INTO review_records (review_type, trigger_type, project_key, "
    "repo_slug, commit_id, diff_content, review_feedback) "
    "VALUES ('auto', 'commit', 'LOAD', 'writers', ?, ?, 'fine')"
)


@pytest.fixture
def dbcli(sqlite_db_url: str, tmp_path: Path) -> DbCli:
    """Return a runner of db commands on an empty SQLite database at head."""
    return DbCli(sqlite_db_url, tmp_path / "backups")


def backup_path(dbcli: DbCli, *args: str) -> Path:
    """Run db backup and return the path, the one line it prints on stdout."""
    result = dbcli("backup", *args)
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip())


def test_backup_is_a_standalone_copy(dbcli: DbCli) -> None:
    """The backup is named by time, holds every row, passes the check, has no WAL."""
    dbcli("seed", "--reviews", "25", "--failures", "5")

    path = backup_path(dbcli)

    assert path.parent == dbcli.backup_dir
    assert path.name.startswith("ai_code_reviewer_") and path.suffix == ".db"
    assert count_rows(path, "review_records") == 25
    assert count_rows(path, "review_failure_logs") == 5
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert not path.with_name(path.name + "-wal").exists()


def test_keep_rotates_and_latest_points_at_the_newest(dbcli: DbCli) -> None:
    """With --keep 2, four backups leave the newest two, and latest is the last."""
    made = [backup_path(dbcli, "--keep", "2") for _ in range(4)]

    kept = sorted(dbcli.backup_dir.glob("ai_code_reviewer_*.db"))
    latest = dbcli.backup_dir / "latest_backup.db"

    assert len(set(made)) == 4
    assert all(path.parent == dbcli.backup_dir for path in made)
    assert kept == sorted(made[2:])
    assert latest.is_symlink()
    assert latest.resolve() == made[-1].resolve()


def test_backup_keep_defaults_to_the_setting(dbcli: DbCli) -> None:
    """Without --keep, BACKUP_KEEP decides how many backups stay."""
    limited = DbCli(dbcli.database_url, dbcli.backup_dir, {"BACKUP_KEEP": "1"})

    for _ in range(3):
        backup_path(limited)

    assert len(list(dbcli.backup_dir.glob("ai_code_reviewer_*.db"))) == 1


def test_guide_copy_of_latest_backup_works(dbcli: DbCli, tmp_path: Path) -> None:
    """cp ./backups/latest_backup.db ./ai_code_reviewer.db copies the database."""
    dbcli("seed", "--reviews", "7", "--failures", "0")
    workdir = dbcli.backup_dir.parent
    backup_path(dbcli)

    subprocess.run(
        ["cp", "./backups/latest_backup.db", "./ai_code_reviewer.db"],
        cwd=workdir,
        check=True,
    )

    copied = workdir / "ai_code_reviewer.db"
    assert not copied.is_symlink()
    assert count_rows(copied, "review_records") == 7


def test_backup_of_a_missing_database_is_refused(tmp_path: Path) -> None:
    """Backing up a file that does not exist says so and writes no file."""
    dbcli = DbCli(f"sqlite+aiosqlite:///{tmp_path / 'none.db'}", tmp_path / "backups")

    message = assert_one_sentence_error(dbcli("backup"))

    assert "no database" in message
    assert not list(tmp_path.glob("backups/*"))


class Writers:
    """Insert rows from many threads, each with its own connection, until stopped."""

    def __init__(self, path: Path, count: int) -> None:
        self.path = path
        self.committed: list[int] = []
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self.write, args=(n,)) for n in range(count)
        ]

    def write(self, number: int) -> None:
        """Insert and commit rows one by one, recording each committed id."""
        try:
            with closing(sqlite3.connect(self.path, timeout=30)) as connection:
                connection.execute("PRAGMA synchronous=NORMAL")
                row = 0
                while not self.stop.is_set():
                    row += 1
                    commit = f"{number:08x}{row:032x}"
                    cursor = connection.execute(INSERT, (commit, "+" * 2000))
                    connection.commit()
                    self.committed.append(int(cursor.lastrowid or 0))
        except sqlite3.Error as exc:  # handed to the test, which fails on it
            self.errors.append(exc)

    def wait_for(self, rows: int) -> None:
        """Block until at least ``rows`` rows are committed."""
        deadline = time.monotonic() + 20
        while len(self.committed) < rows and time.monotonic() < deadline:
            time.sleep(0.01)


@pytest.fixture
def writers(dbcli: DbCli) -> Iterator[Writers]:
    """Start 20 writer threads on the test's database; stop them afterwards."""
    running = Writers(dbcli.sqlite_path, WRITERS)
    for thread in running.threads:
        thread.start()
    yield running
    running.stop.set()
    for thread in running.threads:
        thread.join(timeout=30)


def test_backup_under_20_writers_is_consistent(dbcli: DbCli, writers: Writers) -> None:
    """A backup taken while 20 writers insert passes integrity_check and holds
    every row committed before it started."""
    writers.wait_for(1000)
    committed_before = set(writers.committed)

    path = backup_path(dbcli)
    committed_after = len(writers.committed)

    assert writers.errors == []
    assert committed_after > len(committed_before)
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert committed_before <= row_ids(path, "review_records")

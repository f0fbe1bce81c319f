"""Helpers shared by the db command tests: run the group, read SQLite files."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy.engine import make_url

from ai_code_reviewer.dbtools.commands import db


@dataclass(frozen=True)
class DbCli:
    """Run ``db`` commands in process against one database and backup folder."""

    database_url: str
    backup_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    def __call__(self, *args: str, answer: str | None = None) -> Result:
        """Invoke ``db *args``, typing ``answer`` on stdin; exceptions propagate."""
        env = {
            "DATABASE_URL": self.database_url,
            "BACKUP_DIR": str(self.backup_dir),
            **self.extra_env,
        }
        return CliRunner().invoke(
            db, list(args), input=answer, env=env, catch_exceptions=False
        )

    @property
    def sqlite_path(self) -> Path:
        """Return the SQLite file of the database URL."""
        return Path(str(make_url(self.database_url).database))


def assert_one_sentence_error(result: Result) -> str:
    """Check that a command failed with one line on stderr and no traceback."""
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def count_rows(path: Path, table: str) -> int:
    """Count the rows of ``table`` in the SQLite file ``path``."""
    with closing(sqlite3.connect(path)) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def row_ids(path: Path, table: str) -> set[int]:
    """Return the ids of ``table`` in the SQLite file ``path``."""
    with closing(sqlite3.connect(path)) as connection:
        return {int(row[0]) for row in connection.execute(f"SELECT id FROM {table}")}


def snapshot(path: Path) -> dict[str, bytes]:
    """Return the bytes of a SQLite file and of its -wal and -shm companions."""
    return {
        found.name: found.read_bytes()
        for found in sorted(path.parent.glob(path.name + "*"))
        if found.is_file()
    }


def corrupt_index(path: Path, index: str = "ix_review_records_project_key") -> None:
    """Rewrite the keys of one index page so that integrity_check reports it."""
    with closing(sqlite3.connect(path)) as connection:
        query = "SELECT rootpage FROM sqlite_master WHERE name = ?"
        root = int(connection.execute(query, (index,)).fetchone()[0])
        page_size = int(connection.execute("PRAGMA page_size").fetchone()[0])
    data = bytearray(path.read_bytes())
    start = (root - 1) * page_size
    page = data[start : start + page_size]
    for project in (b"PAY", b"WEB", b"OPS", b"DATA"):
        page = page.replace(project, b"Z" * len(project))
    data[start : start + page_size] = page
    path.write_bytes(bytes(data))

"""Read, check and copy SQLite files with the standard library's sqlite3.

Copies use SQLite's online backup API (``Connection.backup``): in one step it
reads every page inside one read transaction, so the copy is a consistent
snapshot while other connections write, and writing into a live database
goes through its pager, so WAL files and open connections stay coherent
(https://www.sqlite.org/backup.html).
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

HEADER = b"SQLite format 3\x00"
DEFAULT_TIMEOUT_S = 5.0


def connect_existing(
    path: Path, timeout: float = DEFAULT_TIMEOUT_S
) -> sqlite3.Connection:
    """Open an existing SQLite file for reading and writing; never create one."""
    uri = f"{path.resolve().as_uri()}?mode=rw"
    return sqlite3.connect(uri, uri=True, timeout=timeout)


def copy_database(
    source: Path, target: Path, timeout: float = DEFAULT_TIMEOUT_S
) -> None:
    """Copy the database ``source`` into ``target`` with the online backup API."""
    with (
        closing(connect_existing(source, timeout)) as reader,
        closing(sqlite3.connect(target, timeout=timeout)) as writer,
    ):
        reader.backup(writer)


def make_standalone(path: Path) -> None:
    """Switch a copied file to a rollback journal, so that it is one file alone."""
    with closing(connect_existing(path)) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")


def has_header(path: Path) -> bool:
    """Tell whether ``path`` starts with the SQLite file header."""
    with path.open("rb") as handle:
        return handle.read(len(HEADER)) == HEADER


def page_size(path: Path) -> int:
    """Read the page size from the file header (bytes 16-17; 1 means 65536)."""
    with path.open("rb") as handle:
        header = handle.read(18)
    size = int.from_bytes(header[16:18], "big")
    return 65536 if size == 1 else size


def integrity_problems(connection: sqlite3.Connection) -> list[str]:
    """Run PRAGMA integrity_check; return its findings, empty when "ok"."""
    rows = [str(row[0]) for row in connection.execute("PRAGMA integrity_check")]
    return [] if rows == ["ok"] else rows


def table_names(connection: sqlite3.Connection) -> set[str]:
    """Return the names of the tables in the database."""
    query = "SELECT name FROM sqlite_master WHERE type = 'table'"
    return {str(row[0]) for row in connection.execute(query)}


def stamped_revisions(connection: sqlite3.Connection) -> list[str]:
    """Return the rows of alembic_version."""
    query = "SELECT version_num FROM alembic_version"
    return [str(row[0]) for row in connection.execute(query)]


def file_size(path: Path) -> int:
    """Return the bytes the database uses on disk: its file plus its -wal file."""
    total = 0
    for part in (path, path.with_name(path.name + "-wal")):
        if part.is_file():
            total += part.stat().st_size
    return total

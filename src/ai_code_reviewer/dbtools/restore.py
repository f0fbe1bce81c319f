"""Check a backup, then restore it over the live database after backing that up.

Nothing is changed until the offered file has passed every check. A SQLite
file is first copied aside (with its -wal, if any) so that checking it never
touches the user's file and so that what was checked is what gets restored.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from ai_code_reviewer.api.db.database import run_migrations, sqlite_file
from ai_code_reviewer.api.db.migrations import head_revision
from ai_code_reviewer.dbtools import backup, postgres, sqlite
from ai_code_reviewer.dbtools.schema import ALEMBIC_TABLE, known_revisions
from ai_code_reviewer.errors import DatabaseError, InvalidBackupError
from ai_code_reviewer.settings import Settings

logger = logging.getLogger(__name__)

REQUIRED_TABLES = frozenset({"review_records", "review_failure_logs", ALEMBIC_TABLE})


@dataclass(frozen=True)
class StagedBackup:
    """Hold a checked backup, ready to restore: the file to read and its revision."""

    offered: Path
    path: Path
    revision: str


@dataclass(frozen=True)
class RestoreResult:
    """Say what ``restore`` did: the safety backup taken and the revision now."""

    safety_backup: Path | None
    revision: str


def refuse(offered: Path, reason: str) -> InvalidBackupError:
    """Build the error that refuses ``offered`` for ``reason``."""
    return InvalidBackupError(
        f"refusing to restore {offered}: {reason}; nothing was changed"
    )


def check_revision(offered: Path, tables: set[str], revisions: list[str]) -> str:
    """Return the backup's one known revision; refuse a foreign or newer file."""
    missing = sorted(REQUIRED_TABLES - tables)
    if missing:
        reason = f"it has no {', '.join(missing)} table, so it is not our backup"
        raise refuse(offered, reason)
    if len(revisions) != 1:
        raise refuse(offered, f"its {ALEMBIC_TABLE} table holds {len(revisions)} rows")
    if revisions[0] not in known_revisions():
        reason = (
            f"it is at schema revision {revisions[0]!r}, which this release does "
            f"not know (its newest is {head_revision()!r}); restore it with the "
            "release that wrote it"
        )
        raise refuse(offered, reason)
    return revisions[0]


def check_sqlite_file(offered: Path, path: Path) -> str:
    """Check that ``path`` is an intact SQLite backup of ours; return its revision."""
    if not sqlite.has_header(path):
        raise refuse(offered, "it is not a SQLite database (no SQLite header)")
    try:
        with closing(sqlite.connect_existing(path)) as connection:
            problems = sqlite.integrity_problems(connection)
            if problems:
                raise refuse(offered, f"it fails the integrity check: {problems[0]}")
            tables = sqlite.table_names(connection)
            revisions = (
                sqlite.stamped_revisions(connection) if ALEMBIC_TABLE in tables else []
            )
    except sqlite3.DatabaseError as exc:
        raise refuse(offered, f"SQLite cannot read it ({exc})") from None
    return check_revision(offered, tables, revisions)


def check_postgres_archive(offered: Path, path: Path) -> str:
    """Check that ``path`` is a pg_dump archive of ours; return its revision."""
    try:
        tables = postgres.archive_tables(path)
        revisions = postgres.archive_revisions(path) if tables else []
    except DatabaseError as exc:
        raise refuse(offered, f"pg_restore cannot read it ({exc})") from None
    return check_revision(offered, tables, revisions)


@contextmanager
def staged(settings: Settings, offered: Path) -> Iterator[StagedBackup]:
    """Check ``offered`` for the configured database; yield it ready to restore."""
    live = sqlite_file(make_url(settings.database_url))
    if live is None:
        # Resolved now: the safety backup re-points latest_backup.dump, which
        # may be the very link offered.
        archive = offered.resolve()
        yield StagedBackup(offered, archive, check_postgres_archive(offered, archive))
        return
    live.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=live.parent, prefix=".restore-") as scratch:
        copy = Path(scratch) / "candidate.db"
        shutil.copyfile(offered, copy)
        wal = offered.with_name(offered.name + "-wal")
        if wal.is_file():
            shutil.copyfile(wal, copy.with_name(copy.name + "-wal"))
        revision = check_sqlite_file(offered, copy)
        check_page_size(offered, copy, live)
        yield StagedBackup(offered, copy, revision)


def check_page_size(offered: Path, candidate: Path, live: Path) -> None:
    """Refuse a file whose page size differs from the live database's.

    SQLite's backup API cannot write pages of another size into a database
    in WAL mode, which the service's database always is.
    """
    if not live.is_file() or live.stat().st_size == 0:
        return
    theirs, ours = sqlite.page_size(candidate), sqlite.page_size(live)
    if theirs != ours:
        reason = (
            f"its page size ({theirs} bytes) differs from {live}'s ({ours} bytes); "
            f"stop the service and copy the file over {live} instead"
        )
        raise refuse(offered, reason)


def apply(settings: Settings, candidate: StagedBackup) -> RestoreResult:
    """Back up the live database, restore ``candidate`` over it, migrate to head."""
    url = make_url(settings.database_url)
    live = sqlite_file(url)
    safety: Path | None = None
    if live is None or live.is_file():
        safety = backup.backup(settings, settings.backup_keep).path
    if live is None:
        postgres.restore(url, candidate.path)
    else:
        timeout = settings.sqlite_busy_timeout_ms / 1000
        sqlite.copy_database(candidate.path, live, timeout)
    revision = run_migrations(settings)
    logger.info(
        "db.restored",
        extra={"source": str(candidate.offered), "from_revision": candidate.revision},
    )
    return RestoreResult(safety_backup=safety, revision=revision)

"""Write timestamped backups, keep the newest N, and link the newest as latest.

SQLite backups are ``ai_code_reviewer_YYYYMMDD_HHMMSS.db`` copies made with
the online backup API; PostgreSQL backups are ``….dump`` pg_dump custom
archives. A name is never reused: a backup in the same second gets ``_2``,
``_3``… ``latest_backup.db`` (or ``.dump``) is a relative symbolic link to
the newest, so ``cp ./backups/latest_backup.db ./ai_code_reviewer.db`` works.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from ai_code_reviewer.api.db.database import sqlite_file
from ai_code_reviewer.dbtools import postgres, sqlite
from ai_code_reviewer.dbtools.target import require_existing_file
from ai_code_reviewer.errors import InvalidRequest
from ai_code_reviewer.settings import Settings

logger = logging.getLogger(__name__)

PREFIX = "ai_code_reviewer_"
LATEST_STEM = "latest_backup"
NAME = re.compile(r"^ai_code_reviewer_(\d{8}_\d{6})(?:_(\d+))?\.(db|dump)$")


@dataclass(frozen=True)
class BackupResult:
    """Say where a backup was written and which old backups were deleted."""

    path: Path
    removed: list[Path]


def backup(settings: Settings, keep: int, now: datetime | None = None) -> BackupResult:
    """Back up the configured database into settings.backup_dir; keep ``keep``."""
    if keep < 1:
        raise InvalidRequest(f"--keep must be at least 1, not {keep}")
    url = make_url(settings.database_url)
    source = _sqlite_source(settings, url)
    extension = "db" if source is not None else "dump"
    path = reserve_path(settings.backup_dir, extension, now or datetime.now())
    try:
        if source is None:
            postgres.dump(url, path)
        else:
            timeout = settings.sqlite_busy_timeout_ms / 1000
            sqlite.copy_database(source, path, timeout)
            sqlite.make_standalone(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    link_latest(path)
    removed = rotate(settings.backup_dir, extension, keep, written=path)
    logger.info("db.backup_written", extra={"path": str(path), "removed": len(removed)})
    return BackupResult(path=path, removed=removed)


def _sqlite_source(settings: Settings, url: URL) -> Path | None:
    """Return the SQLite file to back up, None for PostgreSQL; check it exists."""
    if url.get_backend_name() == "postgresql":
        return None
    source = sqlite_file(url)
    if source is None:
        raise InvalidRequest("an in-memory SQLite database cannot be backed up")
    require_existing_file(settings)
    return source


def reserve_path(directory: Path, extension: str, now: datetime) -> Path:
    """Create an empty, never used backup file named after ``now``; return it.

    Within one second the number goes past every backup of that second still
    on disk, so that a new backup never sorts before an older one that
    rotation left in place.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stamp = now.strftime("%Y%m%d_%H%M%S")
    numbers = [n for s, n, _path in _parsed(directory, extension) if s == stamp]
    number = max(numbers, default=0) + 1
    while True:
        suffix = "" if number == 1 else f"_{number}"
        path = directory / f"{PREFIX}{stamp}{suffix}.{extension}"
        try:
            # Mode "x" fails when the name exists, even against another process.
            path.open("xb").close()
        except FileExistsError:
            number += 1
            continue
        return path


def _parsed(directory: Path, extension: str) -> list[tuple[str, int, Path]]:
    """Return (stamp, number, path) of the backups of one kind, oldest first."""
    found: list[tuple[str, int, Path]] = []
    if not directory.is_dir():
        return found
    for path in directory.iterdir():
        match = NAME.match(path.name)
        if match and match.group(3) == extension and not path.is_symlink():
            found.append((match.group(1), int(match.group(2) or 1), path))
    return sorted(found)


def list_backups(directory: Path, extension: str) -> list[Path]:
    """Return the backups of one kind in ``directory``, oldest first."""
    return [path for _stamp, _number, path in _parsed(directory, extension)]


def rotate(directory: Path, extension: str, keep: int, written: Path) -> list[Path]:
    """Delete all but the newest ``keep`` backups, never the one just ``written``."""
    backups = list_backups(directory, extension)
    doomed = [
        path for path in backups[: max(len(backups) - keep, 0)] if path != written
    ]
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def latest_link(directory: Path, extension: str) -> Path:
    """Return the path of the link to the newest backup of one kind."""
    return directory / f"{LATEST_STEM}.{extension}"


def link_latest(path: Path) -> Path:
    """Point ``latest_backup.<ext>`` at ``path``, replacing the old link at once."""
    link = latest_link(path.parent, path.suffix.lstrip("."))
    staging = path.parent / f".{LATEST_STEM}.{os.getpid()}.tmp"
    staging.unlink(missing_ok=True)
    staging.symlink_to(path.name)
    staging.replace(link)
    return link

"""Backup file names, rotation and the latest_backup link."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ai_code_reviewer.dbtools.backup import (
    link_latest,
    list_backups,
    reserve_path,
    rotate,
)

NOON = datetime(2025, 1, 7, 12, 0, 0)


def make_backups(folder: Path, names: list[str]) -> list[Path]:
    """Create empty files called ``names`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / name for name in names]
    for path in paths:
        path.write_bytes(b"backup")
    return paths


def test_reserve_path_names_the_file_after_the_time(tmp_path: Path) -> None:
    """A backup is named ai_code_reviewer_YYYYMMDD_HHMMSS.db in a new folder."""
    path = reserve_path(tmp_path / "backups", "db", NOON)

    assert path == tmp_path / "backups" / "ai_code_reviewer_20250107_120000.db"
    assert path.is_file()


def test_reserve_path_never_reuses_a_name_in_the_same_second(tmp_path: Path) -> None:
    """Backups within one second get _2 and _3 and leave the first untouched."""
    first = reserve_path(tmp_path, "db", NOON)
    first.write_bytes(b"first backup")

    second = reserve_path(tmp_path, "db", NOON)
    third = reserve_path(tmp_path, "db", NOON)

    assert second.name == "ai_code_reviewer_20250107_120000_2.db"
    assert third.name == "ai_code_reviewer_20250107_120000_3.db"
    assert first.read_bytes() == b"first backup"


def test_list_backups_orders_by_time_then_number(tmp_path: Path) -> None:
    """Backups sort by timestamp, and _10 comes after _2 within one second."""
    names = [
        "ai_code_reviewer_20250107_120000_10.db",
        "ai_code_reviewer_20250108_090000.db",
        "ai_code_reviewer_20250107_120000.db",
        "ai_code_reviewer_20250107_120000_2.db",
    ]
    make_backups(tmp_path, names)

    found = [path.name for path in list_backups(tmp_path, "db")]

    assert found == [names[2], names[3], names[0], names[1]]


def test_list_backups_ignores_other_files(tmp_path: Path) -> None:
    """Only backups of the asked kind count; links, dumps and strangers do not."""
    make_backups(
        tmp_path,
        ["ai_code_reviewer_20250107_120000.dump", "notes.db", "ai_code_reviewer.db"],
    )
    (tmp_path / "latest_backup.db").symlink_to("notes.db")

    assert list_backups(tmp_path, "db") == []
    assert len(list_backups(tmp_path, "dump")) == 1


def test_rotate_keeps_the_newest(tmp_path: Path) -> None:
    """Rotation deletes all but the newest N backups and reports them."""
    paths = make_backups(
        tmp_path, [f"ai_code_reviewer_2025010{day}_120000.db" for day in range(1, 6)]
    )

    removed = rotate(tmp_path, "db", keep=2, written=paths[-1])

    assert removed == paths[:3]
    assert list_backups(tmp_path, "db") == paths[3:]


def test_rotate_never_deletes_the_backup_just_written(tmp_path: Path) -> None:
    """A backup written with an older stamp (clock set back) survives rotation."""
    paths = make_backups(
        tmp_path,
        ["ai_code_reviewer_20240101_000000.db", "ai_code_reviewer_20250101_000000.db"],
    )

    rotate(tmp_path, "db", keep=1, written=paths[0])

    assert paths[0].exists()


def test_link_latest_points_at_the_newest(tmp_path: Path) -> None:
    """latest_backup.db is a relative link, moved to each new backup in turn."""
    older, newer = make_backups(
        tmp_path,
        ["ai_code_reviewer_20250101_000000.db", "ai_code_reviewer_20250102_000000.db"],
    )
    link_latest(older)

    link = link_latest(newer)

    assert link == tmp_path / "latest_backup.db"
    assert link.is_symlink()
    assert str(link.readlink()) == newer.name
    assert link.read_bytes() == b"backup"


def test_reserve_path_numbers_past_backups_left_by_rotation(tmp_path: Path) -> None:
    """When rotation removed the first backup of a second, the next gets _3, not the
    freed name, so that it still sorts as the newest."""
    make_backups(tmp_path, ["ai_code_reviewer_20250107_120000_2.db"])

    path = reserve_path(tmp_path, "db", NOON)

    assert path.name == "ai_code_reviewer_20250107_120000_3.db"

"""The db commands on a real SQLite file: schema, records and maintenance."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from ai_code_reviewer.api.db.migrations import head_revision
from ai_code_reviewer.cli import cli
from tests.conftest import sqlite_url
from tests.unit.dbtools.support import (
    DbCli,
    assert_one_sentence_error,
    corrupt_index,
    count_rows,
    snapshot,
)


@pytest.fixture
def dbcli(sqlite_db_url: str, tmp_path: Path) -> DbCli:
    """Return a runner of db commands on an empty SQLite database at head."""
    return DbCli(sqlite_db_url, tmp_path / "backups")


@pytest.fixture
def seeded(dbcli: DbCli) -> DbCli:
    """Return the runner after seeding 30 reviews and 10 failure logs."""
    result = dbcli("seed", "--reviews", "30", "--failures", "10", "--seed", "11")
    assert result.exit_code == 0, result.output
    return dbcli


def stamped_revision(path: Path) -> str:
    """Read alembic_version of a SQLite file."""
    with closing(sqlite3.connect(path)) as connection:
        return str(
            connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        )


def test_create_makes_a_new_file_at_head(tmp_path: Path) -> None:
    """create makes the file and its folder and migrates to head, twice harmlessly."""
    dbcli = DbCli(sqlite_url(tmp_path / "data" / "new.db"), tmp_path / "backups")

    first = dbcli("create")
    second = dbcli("create")

    assert first.exit_code == second.exit_code == 0
    assert f"schema revision {head_revision()}" in first.stdout
    assert stamped_revision(dbcli.sqlite_path) == head_revision()


def test_commands_on_a_missing_file_point_to_create(tmp_path: Path) -> None:
    """stats on a missing file says how to create it and creates nothing."""
    dbcli = DbCli(sqlite_url(tmp_path / "absent.db"), tmp_path / "backups")

    message = assert_one_sentence_error(dbcli("stats"))

    assert "db create" in message
    assert not (tmp_path / "absent.db").exists()


def test_invalid_configuration_is_one_sentence(tmp_path: Path) -> None:
    """An unsupported DATABASE_URL ends with one sentence naming the setting."""
    dbcli = DbCli("mysql://localhost/reviews", tmp_path / "backups")

    message = assert_one_sentence_error(dbcli("stats"))

    assert "DATABASE_URL" in message


def test_seed_on_an_empty_folder_creates_the_database(tmp_path: Path) -> None:
    """seed migrates a missing database first, then adds the default 40 and 8."""
    dbcli = DbCli(sqlite_url(tmp_path / "fresh.db"), tmp_path / "backups")

    result = dbcli("seed")

    assert result.exit_code == 0, result.output
    assert count_rows(dbcli.sqlite_path, "review_records") == 40
    assert count_rows(dbcli.sqlite_path, "review_failure_logs") == 8


def test_stats_reports_counts_projects_revision_and_size(seeded: DbCli) -> None:
    """stats shows the counts, reviews by project, revision against head and size."""
    result = seeded("stats")

    assert result.exit_code == 0
    assert re.search(r"^Reviews:\s+30 ", result.stdout, re.M)
    assert re.search(r"^Failures:\s+10 \(unresolved: \d+\)", result.stdout, re.M)
    assert "Reviews by project:" in result.stdout
    assert f"{head_revision()} (head {head_revision()}, up to date)" in result.stdout
    assert re.search(r"^Size:\s+\d+\.\d KiB", result.stdout, re.M)


def test_list_shows_the_newest_reviews_first(seeded: DbCli) -> None:
    """list --limit 3 prints a header and the three highest ids, descending."""
    result = seeded("list", "--limit", "3")

    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["ID", "CREATED", "REPOSITORY"]
    assert [int(line.split()[0]) for line in lines[2:]] == [30, 29, 28]


def test_failures_unresolved_lists_open_ones_only(seeded: DbCli) -> None:
    """failures --unresolved shows only rows whose RESOLVED column says no."""
    every = seeded("failures", "--limit", "50").stdout.strip().splitlines()[2:]
    open_only = seeded("failures", "--unresolved").stdout.strip().splitlines()[2:]

    assert len(every) == 10
    assert open_only and all(line.endswith("no") for line in open_only)
    assert len(open_only) < len(every)


def test_resolve_marks_a_failure_resolved(seeded: DbCli) -> None:
    """resolve ID --notes stores the notes and sets resolved."""
    result = seeded("resolve", "3", "--notes", "model endpoint was down")

    assert result.exit_code == 0
    with closing(sqlite3.connect(seeded.sqlite_path)) as connection:
        row = connection.execute(
            "SELECT resolved, resolution_notes FROM review_failure_logs WHERE id = 3"
        ).fetchone()
    assert row[0] == 1
    assert row[1].endswith("model endpoint was down")


def test_resolve_an_unknown_id_fails_clearly(seeded: DbCli) -> None:
    """An id that does not exist ends with one sentence naming it."""
    message = assert_one_sentence_error(seeded("resolve", "999", "--notes", "x"))

    assert "999" in message and "not found" in message


@pytest.mark.parametrize("command", [["clean"], ["reset"], ["prune", "--days", "1"]])
@pytest.mark.parametrize("answer", ["n\n", None])
def test_declined_destructive_commands_change_nothing(
    seeded: DbCli, command: list[str], answer: str | None
) -> None:
    """Answering no, or giving no stdin, leaves the database byte for byte."""
    before = snapshot(seeded.sqlite_path)

    result = seeded(*command, answer=answer)

    assert result.exit_code == 1
    assert "nothing was changed" in result.stderr
    assert snapshot(seeded.sqlite_path) == before


def test_clean_deletes_every_record(seeded: DbCli) -> None:
    """clean, confirmed, empties both tables and keeps the schema."""
    result = seeded("clean", answer="y\n")

    assert "Deleted 30 reviews and 10 failure logs." in result.stdout
    assert count_rows(seeded.sqlite_path, "review_records") == 0
    assert count_rows(seeded.sqlite_path, "review_failure_logs") == 0
    assert stamped_revision(seeded.sqlite_path) == head_revision()


def test_clean_restarts_ids_at_one(seeded: DbCli) -> None:
    """After clean, the next seeded review and failure log get id 1 again."""
    seeded("clean", "--yes")

    seeded("seed", "--reviews", "1", "--failures", "1")

    resolved = seeded("resolve", "1", "--notes", "first after clean")
    assert resolved.exit_code == 0, resolved.output
    assert seeded("list").stdout.splitlines()[2].split()[0] == "1"


def test_reset_recovers_from_an_unknown_revision(seeded: DbCli) -> None:
    """reset --yes drops tables and a broken alembic_version, then migrates."""
    with closing(sqlite3.connect(seeded.sqlite_path)) as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'ffff0000'")
        connection.commit()

    result = seeded("reset", "--yes")

    assert result.exit_code == 0, result.output
    assert stamped_revision(seeded.sqlite_path) == head_revision()
    assert count_rows(seeded.sqlite_path, "review_records") == 0


def test_prune_deletes_old_reviews_only(seeded: DbCli) -> None:
    """prune --days 14 --yes deletes the reviews older than 14 days, keeps newer."""
    with closing(sqlite3.connect(seeded.sqlite_path)) as connection:
        recent = connection.execute(
            "SELECT count(*) FROM review_records "
            "WHERE created_at >= datetime('now', '-13 days')"
        ).fetchone()[0]

    result = seeded("prune", "--days", "14", "--yes")

    assert result.exit_code == 0, result.output
    remaining = count_rows(seeded.sqlite_path, "review_records")
    assert recent <= remaining < 30


def test_vacuum_gives_space_back_after_clean(tmp_path: Path) -> None:
    """After deleting many reviews, vacuum shrinks the file; analyze succeeds."""
    dbcli = DbCli(sqlite_url(tmp_path / "big.db"), tmp_path / "backups")
    dbcli("seed", "--reviews", "400", "--failures", "0")
    dbcli("clean", "--yes")
    before = dbcli.sqlite_path.stat().st_size

    vacuumed = dbcli("vacuum")
    analyzed = dbcli("analyze")

    assert vacuumed.exit_code == analyzed.exit_code == 0
    assert dbcli.sqlite_path.stat().st_size < before


def test_integrity_says_ok_on_a_sound_file(seeded: DbCli) -> None:
    """integrity prints ok and exits 0 on an intact database."""
    result = seeded("integrity")

    assert result.exit_code == 0
    assert result.stdout.strip() == "ok"


def test_integrity_fails_on_a_damaged_index(tmp_path: Path) -> None:
    """integrity prints SQLite's findings and exits 1 when an index is damaged."""
    dbcli = DbCli(sqlite_url(tmp_path / "damaged.db"), tmp_path / "backups")
    dbcli("seed", "--reviews", "200", "--failures", "0")
    corrupt_index(dbcli.sqlite_path)

    result = dbcli("integrity")

    assert result.exit_code == 1
    assert "missing from index" in result.stdout
    assert "problem" in result.stderr


def test_the_group_is_registered_in_the_main_command(seeded: DbCli) -> None:
    """ai-code-reviewer db stats runs the same command."""
    env = {"DATABASE_URL": seeded.database_url, "BACKUP_DIR": str(seeded.backup_dir)}

    result = CliRunner().invoke(cli, ["db", "stats"], env=env)

    assert result.exit_code == 0
    assert "Reviews:" in result.stdout

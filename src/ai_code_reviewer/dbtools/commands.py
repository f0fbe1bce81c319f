"""The ``ai-code-reviewer db`` command group, also run by scripts/db_helper.py.

Each command reads the database from the settings (DATABASE_URL, .env),
does one thing, and prints what it did. Destructive commands ask first
unless given ``--yes``.
"""

from __future__ import annotations

from pathlib import Path

import click

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.retention import PruneResult
from ai_code_reviewer.dbtools import (
    backup,
    maintenance,
    records,
    render,
    restore,
    schema,
    seed,
)
from ai_code_reviewer.dbtools.console import CheckFailed, DbGroup, confirm
from ai_code_reviewer.dbtools.target import (
    describe_location,
    require_existing_file,
    require_schema,
    run_with_database,
)
from ai_code_reviewer.settings import Settings, load_settings

yes_option = click.option(
    "--yes", "-y", is_flag=True, help="Do not ask for confirmation."
)
limit_option = click.option(
    "--limit",
    default=10,
    show_default=True,
    type=click.IntRange(min=1, max=10_000),
    help="How many rows to show, newest first.",
)


@click.group(cls=DbGroup)
def db() -> None:
    """Create, inspect, back up and restore the database."""


@db.command()
def create() -> None:
    """Create the database if needed and migrate it to the newest schema."""
    settings = load_settings()
    result = run_with_database(settings, schema.create, must_exist=False)
    made = "Created and migrated" if result.created_database else "Migrated"
    where = describe_location(settings)
    click.echo(f"{made} {where} to schema revision {result.revision}.")


def confirmed_settings(question: str, yes: bool, *, needs_schema: bool) -> Settings:
    """Load the settings, check the database is there, and ask ``question``.

    ``question`` may name the database as ``{where}``.
    """
    settings = load_settings()
    require_existing_file(settings)
    if needs_schema:
        run_with_database(settings, require_schema)
    confirm(question.format(where=describe_location(settings)), yes)
    return settings


@db.command()
@yes_option
def reset(yes: bool) -> None:
    """Drop every table and record, then migrate to the newest schema."""
    question = "Drop every table and record of {where}?"
    settings = confirmed_settings(question, yes, needs_schema=False)
    revision = run_with_database(settings, schema.reset)
    click.echo(f"Reset {describe_location(settings)}; schema revision {revision}.")


@db.command()
@yes_option
def clean(yes: bool) -> None:
    """Delete every review and failure log, keeping the schema; ids restart at 1."""
    question = "Delete every review and failure log in {where}?"
    settings = confirmed_settings(question, yes, needs_schema=True)
    result = run_with_database(settings, records.clean)
    click.echo(f"Deleted {render.count_records(result.reviews, result.failures)}.")


@db.command()
def stats() -> None:
    """Show counts, reviews by project, the schema revision and the size."""
    settings = load_settings()
    gathered = run_with_database(settings, records.gather_stats)
    click.echo(render.stats_text(describe_location(settings), gathered))


@db.command("list")
@limit_option
def list_reviews(limit: int) -> None:
    """List the most recent reviews."""

    async def work(database: Database) -> str:
        return render.reviews_table(await records.recent_reviews(database, limit))

    click.echo(run_with_database(load_settings(), work))


@db.command()
@click.option("--unresolved", is_flag=True, help="Only failures not yet resolved.")
@limit_option
def failures(unresolved: bool, limit: int) -> None:
    """List the most recent failure logs."""

    async def work(database: Database) -> str:
        found = await records.failure_logs(database, unresolved=unresolved, limit=limit)
        return render.failures_table(found)

    click.echo(run_with_database(load_settings(), work))


@db.command()
@click.argument("failure_id", metavar="ID", type=int)
@click.option("--notes", required=True, help="What was done about the failure.")
def resolve(failure_id: int, notes: str) -> None:
    """Mark the failure log ID resolved, with notes."""

    async def work(database: Database) -> None:
        await records.resolve(database, failure_id, notes)

    run_with_database(load_settings(), work)
    click.echo(f"Marked failure log {failure_id} resolved.")


@db.command("seed")
@click.option("--reviews", default=40, show_default=True, type=click.IntRange(0))
@click.option("--failures", default=8, show_default=True, type=click.IntRange(0))
@click.option("--seed", "random_seed", type=int, help="Same records every time.")
def seed_command(reviews: int, failures: int, random_seed: int | None) -> None:
    """Add realistic sample reviews and failure logs (creating the schema if needed)."""

    async def work(database: Database) -> seed.SeedResult:
        return await seed.seed(database, reviews, failures, random_seed)

    result = run_with_database(load_settings(), work, must_exist=False)
    click.echo(
        f"Added {render.count_records(result.reviews, result.failures)} "
        f"({result.resolved} resolved)."
    )


@db.command("backup")
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    help="How many backups to keep [default: BACKUP_KEEP, 10].",
)
def backup_command(keep: int | None) -> None:
    """Back up the database into BACKUP_DIR, keeping the newest backups."""
    settings = load_settings()
    result = backup.backup(settings, keep or settings.backup_keep)
    for old in result.removed:
        click.echo(f"Removed old backup {old}", err=True)
    click.echo(str(result.path))


@db.command("restore")
@click.option(
    "--file",
    "offered",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The backup to restore.",
)
@yes_option
def restore_command(offered: Path, yes: bool) -> None:
    """Restore a backup over the database, after backing the database up."""
    settings = load_settings()
    where = describe_location(settings)
    with restore.staged(settings, offered) as candidate:
        question = f"Replace {where} by {offered} (schema {candidate.revision})?"
        confirm(question, yes)
        result = restore.apply(settings, candidate)
    if result.safety_backup is not None:
        click.echo(f"Backed up the replaced database to {result.safety_backup}")
    click.echo(f"Restored {offered}; schema revision {result.revision}.")


@db.command()
def vacuum() -> None:
    """Rebuild the database to give free space back to the disk."""
    before, after = run_with_database(load_settings(), maintenance.vacuum)
    click.echo(f"Vacuumed: {render.human_size(before)} -> {render.human_size(after)}.")


@db.command()
def analyze() -> None:
    """Refresh the statistics the query planner uses."""
    run_with_database(load_settings(), maintenance.analyze)
    click.echo("Analyzed.")


@db.command()
def integrity() -> None:
    """Check the SQLite file with PRAGMA integrity_check."""

    async def work(database: Database) -> list[str]:
        return maintenance.integrity_problems(database)

    problems = run_with_database(load_settings(), work)
    if problems:
        click.echo("\n".join(problems))
        raise CheckFailed(f"the integrity check found {len(problems)} problem(s)")
    click.echo("ok")


@db.command()
@click.option("--days", required=True, type=click.IntRange(min=1), help="Age limit.")
@yes_option
def prune(days: int, yes: bool) -> None:
    """Delete reviews, and resolved failure logs, older than --days days."""
    question = f"Delete reviews older than {days} days from {{where}}?"
    settings = confirmed_settings(question, yes, needs_schema=True)

    async def work(database: Database) -> PruneResult:
        return await records.prune(database, days)

    result = run_with_database(settings, work)
    click.echo(
        f"Deleted {render.count_records(result.reviews, result.failures, 'resolved ')}."
    )

"""The ``jobs`` and ``failures`` command groups: look at review jobs, retry them.

Each command opens the database of the settings (DATABASE_URL, .env), runs
one function of ``api/jobs/operations.py`` and prints what it did. As with
the db commands, an error ends the command with one sentence on stderr and
exit code 2.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import click
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from ai_code_reviewer.api.db.database import Database, sqlite_file
from ai_code_reviewer.api.db.models import ReviewJob, utcnow
from ai_code_reviewer.api.db.repository import (
    FailureFilter,
    FailureLogRepository,
    PageRequest,
)
from ai_code_reviewer.api.jobs import operations
from ai_code_reviewer.api.jobs.queue import STATUSES
from ai_code_reviewer.api.jobs.specs import KINDS
from ai_code_reviewer.api.schemas import JobItem
from ai_code_reviewer.dbtools import render
from ai_code_reviewer.dbtools.commands import limit_option
from ai_code_reviewer.dbtools.console import DbGroup
from ai_code_reviewer.dbtools.target import run_with_database
from ai_code_reviewer.errors import DatabaseError
from ai_code_reviewer.settings import load_settings

T = TypeVar("T")

id_argument = click.argument("record_id", metavar="ID", type=click.IntRange(min=1))


def in_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one session on the configured database."""
    settings = load_settings()
    path = sqlite_file(make_url(settings.database_url))
    if path is not None and not path.is_file():
        # Checked here: the db group's own check names its commands as ours.
        raise DatabaseError(
            f"there is no database at {path}; `ai-code-reviewer db create` creates it"
        )

    async def run(database: Database) -> T:
        async with database.session() as session:
            return await work(session)

    return run_with_database(settings, run, must_exist=False)


def subject(payload: Mapping[str, Any]) -> str:
    """Name what a job reviews: a pull request, a commit or an uploaded diff."""
    where = f"{payload.get('project_key') or '-'}/{payload.get('repo_slug') or '-'}"
    if payload.get("pr_id") is not None:
        return f"{where} PR #{payload['pr_id']}"
    if commit := payload.get("commit_id"):
        return f"{where} commit {str(commit)[:12]}"
    return f"{where} diff"


def jobs_table(found: list[ReviewJob]) -> str:
    """Show jobs, one row each."""
    headers = ["ID", "KIND", "STATUS", "TRIES", "SUBJECT", "CREATED", "LAST ERROR"]
    rows = [
        [
            job.id,
            job.kind,
            job.status,
            f"{job.attempts}/{job.max_attempts}",
            subject(job.payload),
            job.created_at,
            job.last_error,
        ]
        for job in found
    ]
    return render.table(headers, rows)


def stats_text(stats: operations.JobStats) -> str:
    """Show the number of jobs in each status and the oldest queued job's age."""
    width = max(len(status) for status in stats.by_status)
    lines = [f"{status:<{width}}  {n}" for status, n in stats.by_status.items()]
    age = stats.oldest_queued_seconds
    waited = "no job is queued" if age is None else f"{age:.0f} s"
    return "\n".join([*lines, f"Oldest queued job: {waited}"])


@click.group(cls=DbGroup)
def jobs() -> None:
    """List, inspect, retry and cancel review jobs."""


@jobs.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only jobs in this status.")
@click.option("--kind", type=click.Choice(KINDS), help="Only jobs of this kind.")
@limit_option
def list_jobs(status: str | None, kind: str | None, limit: int) -> None:
    """List the most recent jobs."""

    async def work(session: AsyncSession) -> str:
        page = await operations.list_jobs(session, status, kind, PageRequest(limit))
        return jobs_table(list(page.items))

    click.echo(in_session(work))


@jobs.command()
@id_argument
def show(record_id: int) -> None:
    """Show the job ID as JSON (an uploaded diff as its size)."""

    async def work(session: AsyncSession) -> str:
        job = await operations.get_job(session, record_id)
        return JobItem.model_validate(job).model_dump_json(indent=2)

    click.echo(in_session(work))


@jobs.command()
@id_argument
def retry(record_id: int) -> None:
    """Queue the failed, dead or cancelled job ID again."""

    in_session(lambda session: operations.retry_job(session, record_id, utcnow()))
    click.echo(f"Queued job {record_id} again.")


@jobs.command()
@id_argument
def cancel(record_id: int) -> None:
    """Cancel the queued or running job ID."""

    in_session(lambda session: operations.cancel_job(session, record_id, utcnow()))
    click.echo(f"Cancelled job {record_id}.")


@jobs.command()
def stats() -> None:
    """Count jobs by status and show how long the oldest queued job has waited."""

    found = in_session(lambda session: operations.job_stats(session, utcnow()))
    click.echo(stats_text(found))


@click.group(cls=DbGroup)
def failures() -> None:
    """List, resolve and retry the failure logs of review jobs."""


@failures.command("list")
@click.option("--unresolved", is_flag=True, help="Only failures not yet resolved.")
@limit_option
def list_failures(unresolved: bool, limit: int) -> None:
    """List the most recent failure logs."""
    filters = FailureFilter(resolved=False if unresolved else None)

    async def work(session: AsyncSession) -> str:
        page = await FailureLogRepository(session).list(filters, PageRequest(limit))
        return render.failures_table(page.items)

    click.echo(in_session(work))


@failures.command()
@id_argument
@click.option("--notes", required=True, help="What was done about the failure.")
def resolve(record_id: int, notes: str) -> None:
    """Mark the failure log ID resolved, with notes."""

    in_session(lambda session: operations.resolve_failure(session, record_id, notes))
    click.echo(f"Marked failure log {record_id} resolved.")


@failures.command("retry")
@id_argument
def retry_failure(record_id: int) -> None:
    """Queue the job of the failure log ID again."""

    retried = in_session(
        lambda session: operations.retry_failure(session, record_id, utcnow())
    )
    click.echo(
        f"Queued job {retried.job.id} again for failure log {record_id} "
        f"(retry {retried.failure.retry_count})."
    )

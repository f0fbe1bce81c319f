"""The jobs and failures commands, run in process on both databases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import ReviewFailureLog, ReviewJob
from ai_code_reviewer.api.jobs import queue
from ai_code_reviewer.api.jobs.specs import REVIEW_DIFF
from ai_code_reviewer.dbtools.target import run_with_database
from ai_code_reviewer.jobcli import failures, jobs
from ai_code_reviewer.settings import Settings
from tests.conftest import sqlite_url
from tests.integration.test_api_jobs import DIFF, add_job
from tests.unit.dbtools.support import assert_one_sentence_error


class Cli:
    """Run the jobs and failures groups against one database."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, group: click.Group, *args: str) -> Result:
        """Invoke ``group *args`` with DATABASE_URL set; exceptions propagate."""
        env = {"DATABASE_URL": self.settings.database_url}
        return CliRunner().invoke(group, list(args), env=env, catch_exceptions=False)

    def job(self, **overrides: Any) -> ReviewJob:
        """Store a job, queued unless ``overrides`` say otherwise."""

        async def work(database: Database) -> ReviewJob:
            return await add_job(database, **overrides)

        return run_with_database(self.settings, work)

    def failure(self, **overrides: Any) -> ReviewFailureLog:
        """Store a failure log of the llm_review stage."""
        values: dict[str, Any] = {
            "event_type": "manual",
            "failure_stage": "llm_review",
            "error_type": "TimeoutError",
            "error_message": "the model did not answer",
            "project_key": "PROJ",
            "repo_slug": "svc",
        }
        record = ReviewFailureLog(**(values | overrides))

        async def work(database: Database) -> ReviewFailureLog:
            async with database.session() as session:
                session.add(record)
                await session.commit()
            return record

        return run_with_database(self.settings, work)


@pytest.fixture
def cli(settings: Settings) -> Cli:
    """Return a runner of the job commands on the test's empty database."""
    return Cli(settings)


def test_list_shows_jobs_newest_first_and_filters(cli: Cli) -> None:
    """jobs list shows a row per job, newest first, and --status narrows it."""
    dead = cli.job(status=queue.DEAD, last_error="the model is down")
    queued = cli.job(payload={"project_key": "WEB", "repo_slug": "ui", "pr_id": 7})

    everything = cli(jobs, "list")
    only_dead = cli(jobs, "list", "--status", "dead")

    assert everything.exit_code == 0, everything.output
    rows = everything.stdout.splitlines()[2:]
    assert [int(row.split()[0]) for row in rows] == [queued.id, dead.id]
    assert "WEB/ui PR #7" in rows[0]
    assert "the model is down" in rows[1]
    assert [row.split()[0] for row in only_dead.stdout.splitlines()[2:]] == [
        str(dead.id)
    ]


def test_show_prints_the_job_as_json_without_its_diff(cli: Cli) -> None:
    """jobs show prints the job as JSON with the diff as its size."""
    job = cli.job(kind=REVIEW_DIFF, payload={"diff": DIFF})

    result = cli(jobs, "show", str(job.id))

    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["id"], shown["kind"]) == (job.id, REVIEW_DIFF)
    assert shown["payload"] == {"diff": {"bytes": len(DIFF.encode())}}


def test_retry_and_cancel_change_the_job(cli: Cli) -> None:
    """jobs retry queues a dead job; jobs cancel cancels it again."""
    job = cli.job(status=queue.DEAD, attempts=5)

    retried = cli(jobs, "retry", str(job.id))
    cancelled = cli(jobs, "cancel", str(job.id))

    assert retried.stdout == f"Queued job {job.id} again.\n"
    assert cancelled.stdout == f"Cancelled job {job.id}.\n"
    shown = json.loads(cli(jobs, "show", str(job.id)).stdout)
    assert (shown["status"], shown["attempts"]) == (queue.CANCELLED, 0)


def test_refusals_are_one_sentence(cli: Cli) -> None:
    """A missing job or a state that forbids the change ends with one sentence."""
    running = cli.job(status=queue.RUNNING)

    shown = cli(jobs, "show", "99")
    busy = assert_one_sentence_error(cli(jobs, "retry", str(running.id)))
    no_failure = assert_one_sentence_error(cli(failures, "retry", "5"))

    assert shown.exit_code == 2
    assert assert_one_sentence_error(shown).endswith("job 99 not found")
    assert busy.endswith(
        f"job {running.id} is running; only failed, dead or "
        "cancelled jobs can be retried"
    )
    assert no_failure.endswith("failure log 5 not found")


def test_stats_count_jobs_by_status(cli: Cli) -> None:
    """jobs stats shows a count per status and the oldest queued job's wait."""
    queued = cli.job()
    cli.job(status=queue.FAILED)

    result = cli(jobs, "stats")
    cli(jobs, "cancel", str(queued.id))
    none_queued = cli(jobs, "stats")

    lines = result.stdout.splitlines()
    assert lines[0].split() == ["queued", "1"]
    assert lines[3].split() == ["failed", "1"]
    assert lines[-1].startswith("Oldest queued job: ")
    assert none_queued.stdout.endswith("Oldest queued job: no job is queued\n")


def test_failures_list_resolve_and_retry(cli: Cli) -> None:
    """failures list, resolve and retry act on the failure logs and their jobs."""
    job = cli.job(status=queue.DEAD)
    retryable = cli.failure(job_id=job.id, retry_count=2)
    other = cli.failure()

    listed = cli(failures, "list", "--unresolved")
    resolved = cli(failures, "resolve", str(other.id), "--notes", "known outage")
    retried = cli(failures, "retry", str(retryable.id))
    still_open = cli(failures, "list", "--unresolved")

    assert [row.split()[0] for row in listed.stdout.splitlines()[2:]] == [
        str(other.id),
        str(retryable.id),
    ]
    assert resolved.stdout == f"Marked failure log {other.id} resolved.\n"
    assert retried.stdout == (
        f"Queued job {job.id} again for failure log {retryable.id} (retry 3).\n"
    )
    assert [row.split()[0] for row in still_open.stdout.splitlines()[2:]] == [
        str(retryable.id)
    ]


def test_a_missing_database_file_points_to_db_create(tmp_path: Path) -> None:
    """On a SQLite file that does not exist, the commands say how to create it."""
    env = {"DATABASE_URL": sqlite_url(tmp_path / "absent.db")}

    result = CliRunner().invoke(jobs, ["list"], env=env, catch_exceptions=False)

    message = assert_one_sentence_error(result)
    assert "`ai-code-reviewer db create`" in message
    assert not (tmp_path / "absent.db").exists()

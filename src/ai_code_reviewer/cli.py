"""The ``ai-code-reviewer`` command."""

from __future__ import annotations

import sys

import click

from ai_code_reviewer import __version__
from ai_code_reviewer.dbtools.commands import db
from ai_code_reviewer.emailcli import email
from ai_code_reviewer.errors import ReviewerError
from ai_code_reviewer.jobcli import failures, jobs
from ai_code_reviewer.reviewcli import review


@click.group()
@click.version_option(__version__, prog_name="ai-code-reviewer")
def cli() -> None:
    """Review every commit and pull request of a Git server with a language model."""


@cli.command()
def serve() -> None:
    """Run the API service (and its worker) on HOST:PORT from the settings."""
    from ai_code_reviewer.api.main import main as serve_main

    sys.exit(serve_main())


@cli.command()
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=None,
    help="Jobs run at once (default: WORKER_CONCURRENCY, at least 1).",
)
def worker(concurrency: int | None) -> None:
    """Run review jobs from the database until SIGTERM or Ctrl-C."""
    from ai_code_reviewer.api.jobs.runner import run_worker_process
    from ai_code_reviewer.settings import load_settings

    overrides = {} if concurrency is None else {"worker_concurrency": concurrency}
    run_worker_process(load_settings(**overrides))


cli.add_command(db)
cli.add_command(jobs)
cli.add_command(failures)
cli.add_command(email)
cli.add_command(review)


def main() -> None:
    """Run the command line; a ReviewerError ends with one sentence and exit 2."""
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted; nothing was changed.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ReviewerError as exc:
        click.echo(f"ai-code-reviewer: {exc}", err=True)
        sys.exit(2)
    # Without standalone mode, click returns the code a command passed to
    # ctx.exit() instead of exiting with it.
    sys.exit(code if isinstance(code, int) else 0)

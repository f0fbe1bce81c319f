"""Talk to the user of the db commands: confirmations and one-sentence errors.

Every failure a user can act on ends a command with one sentence on stderr
and a non-zero exit code: ``DbGroup`` turns the project's errors, the
database driver's errors and operating-system errors into ``CommandError``.
Exit codes: 1 when the user declined or a check found problems, 2 when the
command could not run.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import IO, Any

import click
from sqlalchemy.exc import SQLAlchemyError

from ai_code_reviewer.errors import ReviewerError

logger = logging.getLogger(__name__)

HANDLED = (ReviewerError, SQLAlchemyError, sqlite3.Error, OSError)


class CommandError(click.ClickException):
    """End a command that could not run, with one sentence and exit code 2."""

    exit_code = 2


class CheckFailed(click.ClickException):
    """End a command whose check found problems, with exit code 1."""

    exit_code = 1


class Declined(click.ClickException):
    """End a destructive command the user did not confirm; nothing was changed."""

    exit_code = 1

    def __init__(self) -> None:
        super().__init__("Aborted; nothing was changed.")

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the sentence without click's ``Error:`` prefix."""
        click.echo(self.format_message(), err=True)


def confirm(question: str, assume_yes: bool) -> None:
    """Ask ``question``; raise Declined on "no" or when stdin gives no answer."""
    if assume_yes:
        return
    try:
        agreed = click.confirm(question, default=False)
    except click.Abort:
        click.echo()  # end the unanswered prompt's line
        raise Declined() from None
    if not agreed:
        raise Declined()


def describe(exc: BaseException) -> str:
    """Say in one sentence what went wrong, without a traceback."""
    if isinstance(exc, ReviewerError):
        return str(exc)
    if isinstance(exc, SQLAlchemyError):
        detail = getattr(exc, "orig", None) or exc
        return f"the database refused the command: {_first_line(detail)}"
    if isinstance(exc, sqlite3.Error):
        return f"SQLite refused the command: {_first_line(exc)}"
    return f"the command could not complete: {_first_line(exc)}"


def _first_line(exc: BaseException) -> str:
    """Return the first line of an exception's text, or its class name."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def command_hint(name: str) -> str:
    """Spell the db command ``name`` as the user invoked the group, in backquotes."""
    ctx = click.get_current_context(silent=True)
    group = ctx.parent.command_path if ctx is not None and ctx.parent else "db"
    return f"`{group} {name}`"


class DbGroup(click.Group):
    """Run db commands, ending each handled error with one sentence."""

    def invoke(self, ctx: click.Context) -> Any:
        """Invoke the chosen command and translate the errors a user can act on."""
        try:
            return super().invoke(ctx)
        except HANDLED as exc:
            # The stack is kept for debugging; the user gets one sentence.
            logger.debug("db.command_failed", exc_info=True)
            raise CommandError(describe(exc)) from exc

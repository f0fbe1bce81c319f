"""Open the database a db command works on, and check that it holds our schema."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.engine import make_url

from ai_code_reviewer.api.db.database import Database, sqlite_file
from ai_code_reviewer.dbtools.console import command_hint
from ai_code_reviewer.errors import DatabaseError
from ai_code_reviewer.settings import Settings

T = TypeVar("T")


def describe_location(settings: Settings) -> str:
    """Name the configured database for people: its file, or its URL sans password."""
    url = make_url(settings.database_url)
    path = sqlite_file(url)
    if path is not None:
        return str(path)
    return url.render_as_string(hide_password=True)


def require_existing_file(settings: Settings) -> None:
    """Raise DatabaseError when the configured SQLite file does not exist yet."""
    path = sqlite_file(make_url(settings.database_url))
    if path is not None and not path.is_file():
        raise DatabaseError(
            f"there is no database at {path}; {command_hint('create')} creates it"
        )


def run_with_database(
    settings: Settings,
    work: Callable[[Database], Awaitable[T]],
    *,
    must_exist: bool = True,
) -> T:
    """Run ``work`` on the configured database in a new event loop, then close it."""
    if must_exist:
        require_existing_file(settings)

    async def main() -> T:
        database = Database(settings)
        try:
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(main())


async def require_schema(database: Database) -> str:
    """Return the schema revision; raise DatabaseError when there is none."""
    revision = await database.revision()
    if revision is None:
        raise DatabaseError(
            "the database has no ai-code-reviewer schema yet; "
            f"{command_hint('create')} creates it"
        )
    return revision

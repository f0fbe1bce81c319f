"""Run a worker as its own process: ``ai-code-reviewer worker``."""

from __future__ import annotations

import asyncio
import logging
import signal

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.migrations import head_revision
from ai_code_reviewer.api.jobs.services import (
    build_services,
    build_worker,
    close_services,
)
from ai_code_reviewer.errors import DatabaseError
from ai_code_reviewer.logs import configure_logging
from ai_code_reviewer.settings import Settings

logger = logging.getLogger(__name__)


async def check_schema(database: Database) -> None:
    """Refuse to work on a database whose schema is not this release's head.

    Workers never migrate: several may start at once, and the service (or
    ``alembic upgrade head``) owns the schema.
    """
    current, head = await database.revision(), head_revision()
    if current != head:
        raise DatabaseError(
            f"the database is at schema revision {current!r} and this worker needs "
            f"{head!r}; start the service or run `alembic upgrade head` first"
        )


async def serve_jobs(settings: Settings) -> None:
    """Run jobs until SIGTERM or SIGINT, then drain within the grace period."""
    database = Database(settings)
    try:
        await check_schema(database)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        services = build_services(settings)
        try:
            await build_worker(database, settings, services).run(stop)
        finally:
            await close_services(services)
    finally:
        await database.dispose()


def run_worker_process(settings: Settings) -> None:
    """Configure logging and run the worker until it is told to stop."""
    configure_logging(settings)
    asyncio.run(serve_jobs(settings))

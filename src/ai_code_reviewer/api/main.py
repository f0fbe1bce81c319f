"""Serve the API: ``python -m ai_code_reviewer.api.main``."""

from __future__ import annotations

import asyncio
import sys

import uvicorn

from ai_code_reviewer.api.app import create_app
from ai_code_reviewer.api.db.database import run_migrations
from ai_code_reviewer.api.jobs.services import build_services, close_services
from ai_code_reviewer.errors import ReviewerError
from ai_code_reviewer.logs import configure_logging
from ai_code_reviewer.settings import Settings, load_settings


def serve(settings: Settings) -> None:
    """Run the service with uvicorn until it is stopped."""
    configure_logging(settings)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,  # RequestLogMiddleware writes one line per request
        lifespan="on",
        server_header=False,
    )


def check_services(settings: Settings) -> None:
    """Build and close the model, mail and Git host clients to check their settings.

    Raises:
        ConfigError: one of their settings is missing or wrong.
    """
    asyncio.run(close_services(build_services(settings)))


def main() -> int:
    """Start the service from the environment; exit 2 when it cannot start.

    The clients are built and the migrations run once before the server
    starts, so that a bad configuration or a database newer than this release
    ends with one clear sentence instead of a server traceback; the lifespan
    then finds the schema at head.
    """
    try:
        settings = load_settings()
        check_services(settings)
        run_migrations(settings)
    except ReviewerError as exc:
        sys.stderr.write(f"ai-code-reviewer: {exc}\n")
        return 2
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Build the FastAPI application and its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from ai_code_reviewer import __version__
from ai_code_reviewer.api.db import database as db
from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.retention import run_retention_daily
from ai_code_reviewer.api.errors import install_error_handlers
from ai_code_reviewer.api.jobs.services import (
    build_services,
    build_worker,
    close_services,
)
from ai_code_reviewer.api.middleware import RequestLogMiddleware
from ai_code_reviewer.api.routes import (
    failures,
    health,
    jobs,
    manual,
    metrics,
    reviews,
    webhooks,
    webhooks_hosts,
)
from ai_code_reviewer.settings import Settings, load_settings

logger = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Migrate the database, start background duties, and close all on shutdown."""
    settings: Settings = app.state.settings
    database = Database(settings)
    revision = await database.migrate()
    db.configure(database)
    app.state.database = database
    logger.info(
        "app.started", extra={"database": database.dialect, "revision": revision}
    )

    retention: asyncio.Task[None] | None = None
    if settings.retention_days is not None:
        retention = asyncio.create_task(
            run_retention_daily(database, settings.retention_days)
        )
    stop_worker = asyncio.Event()
    worker_task = start_worker(app, database, settings, stop_worker)
    try:
        yield
    finally:
        stop_worker.set()
        if worker_task is not None:
            await worker_task
        await close_services(app.state.services)
        if retention is not None:
            retention.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await retention
        await db.close_db()
        await database.dispose()
        logger.info("app.stopped")


def start_worker(
    app: FastAPI, database: Database, settings: Settings, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """Start the in-process worker unless WORKER_CONCURRENCY is 0."""
    services = build_services(settings)
    app.state.services = services
    app.state.githosts = services.githosts
    app.state.reviewer = services.reviewer  # named by /api/health/detailed
    if settings.worker_concurrency == 0:
        return None
    worker = build_worker(database, settings, services)
    app.state.wake_worker = worker.wake
    task = asyncio.create_task(worker.run(stop), name="worker")
    app.state.worker_task = task  # watched by /api/health/detailed
    return task


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for ``settings`` (read from the environment if None)."""
    app = FastAPI(
        title="ai-code-reviewer",
        version=__version__,
        summary="Reviews of commits and pull requests, kept and served.",
        lifespan=lifespan,
    )
    app.state.settings = settings or load_settings()
    app.state.githosts = {}
    app.state.wake_worker = lambda: None
    app.add_middleware(RequestLogMiddleware)
    install_error_handlers(app)
    routers = (health, metrics, reviews, manual, failures, jobs, webhooks)
    for module in (*routers, webhooks_hosts):
        app.include_router(module.router)
    return app

"""Liveness, readiness, and the detailed health of every dependency (admin only)."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.migrations import head_revision
from ai_code_reviewer.api.deps import AdminDep, DatabaseDep, SettingsDep
from ai_code_reviewer.review.redact import redact
from ai_code_reviewer.settings import Settings

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

OK, DEGRADED, FAILED, NOT_CONFIGURED = "ok", "degraded", "failed", "not_configured"

Probe = Callable[[], Awaitable[tuple[str, str]]]


async def schema_state(database: Database) -> tuple[str | None, str]:
    """Ask the database for SELECT 1 and its schema revision; return (it, head)."""
    async with database.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return await database.revision(), head_revision()


@router.get("/health")
async def health() -> dict[str, str]:
    """Answer while the process is alive; touches nothing else."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "Not ready; reason given"}})
async def ready(database: DatabaseDep) -> JSONResponse:
    """Answer 200 when the database answers and its schema is at this release's head."""
    try:
        current, head = await schema_state(database)
    except (SQLAlchemyError, OSError) as exc:
        logger.warning(
            "ready.database_unreachable", extra={"error": type(exc).__name__}
        )
        return JSONResponse(
            {"status": "unavailable", "reason": "database unreachable"},
            status_code=503,
        )
    body = {"database": database.dialect, "revision": current, "head": head}
    if current != head:
        reason = f"schema at revision {current!r}, this release needs {head!r}"
        return JSONResponse(
            {"status": "unavailable", "reason": reason, **body}, status_code=503
        )
    return JSONResponse({"status": "ready", **body})


@router.get(
    "/api/health/detailed",
    responses={
        401: {"description": "No or wrong Authorization: Bearer <ADMIN_TOKEN>"},
        403: {"description": "ADMIN_TOKEN is not set"},
        503: {"description": "A check failed; the body says which"},
    },
)
async def health_detailed(
    request: Request, _admin: AdminDep, settings: SettingsDep, database: DatabaseDep
) -> JSONResponse:
    """Check the database, Git hosts, model, email and worker; 503 if one failed."""
    probes = {
        "database": lambda: check_database(database),
        **githost_probes(getattr(request.app.state, "githosts", {})),
        "model": lambda: check_model(getattr(request.app.state, "reviewer", None)),
        "email": email_probe(request.app.state, settings),
        "worker": lambda: check_worker(getattr(request.app.state, "worker_task", None)),
    }
    timeout = settings.health_check_timeout
    checks = await asyncio.gather(
        *(run_check(name, probe, timeout) for name, probe in probes.items())
    )
    statuses = {check["status"] for check in checks}
    overall = next((s for s in (FAILED, DEGRADED) if s in statuses), OK)
    return JSONResponse(
        {"status": overall, "checks": checks},
        status_code=503 if overall == FAILED else 200,
    )


async def run_check(name: str, probe: Probe, timeout: float) -> dict[str, Any]:
    """Run one probe within ``timeout``; an error or no answer is a failure."""
    started = time.perf_counter()
    try:
        status, detail = await asyncio.wait_for(probe(), timeout)
    except TimeoutError:
        status, detail = FAILED, f"no answer within {timeout:g} s"
    except Exception as exc:  # any error is the check's answer; logged with it
        logger.warning("health.check_failed", exc_info=exc, extra={"check": name})
        status, detail = FAILED, f"{type(exc).__name__}: {exc}"
    return {
        "name": name,
        "status": status,
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        # A driver's or a host's message may quote a URL or a header.
        "detail": redact(detail).text,
    }


async def check_database(database: Database) -> tuple[str, str]:
    """Say whether the database answers and its schema is at this release's head."""
    current, head = await schema_state(database)
    if current != head:
        return DEGRADED, (
            f"{database.dialect} at schema revision {current!r}; "
            f"this release needs {head!r}"
        )
    return OK, f"{database.dialect} at schema revision {current}"


def githost_probes(githosts: Mapping[str, Any]) -> dict[str, Probe]:
    """Make a probe for each Git host: its own ``check()`` when it has one."""
    if not githosts:
        return {"githost": lambda: _answer(NOT_CONFIGURED, "no Git host configured")}
    return {f"githost:{name}": _probe_of(host) for name, host in githosts.items()}


def _probe_of(component: Any) -> Probe:
    """Return a probe calling ``component.check()``, or saying there is none."""
    check = getattr(component, "check", None)
    if check is None:
        return lambda: _answer(NOT_CONFIGURED, "no check available")

    async def probe() -> tuple[str, str]:
        return OK, str(await check())

    return probe


async def _answer(status: str, detail: str) -> tuple[str, str]:
    """Answer a probe without looking at anything."""
    return status, detail


async def check_model(reviewer: Any) -> tuple[str, str]:
    """Name the reviewer in use; ask it with its ``check()`` when it has one."""
    if reviewer is None:
        return NOT_CONFIGURED, "no reviewer: the service runs no pipeline"
    name = f"{reviewer.provider}/{reviewer.model}"
    if reviewer.provider == "builtin":
        return OK, f"{name}: offline, always available"
    status, detail = await _probe_of(reviewer)()
    return status, f"{name}: {detail}"


def email_probe(state: Any, settings: Settings) -> Probe:
    """Make the email probe: the notifier's check with SMTP_HOST, else the outbox's."""
    if not settings.smtp_host:
        return lambda: check_outbox(settings.email_outbox_dir)
    services = getattr(state, "services", None)
    if services is None:
        return lambda: _answer(
            NOT_CONFIGURED, "no notifier: the service sends no email"
        )
    return _probe_of(services.notifier)


async def check_outbox(outbox: Path) -> tuple[str, str]:
    """Say that there is no SMTP server, and whether the outbox can be written."""
    await asyncio.to_thread(_write_probe_file, outbox)
    return NOT_CONFIGURED, f"not configured: emails go to the outbox at {outbox}"


def _write_probe_file(folder: Path) -> None:
    """Create ``folder`` if needed, then write and delete a file in it."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".health-"):
        pass


async def check_worker(task: asyncio.Task[None] | None) -> tuple[str, str]:
    """Say whether the service's own worker task is running."""
    if task is None:
        return NOT_CONFIGURED, (
            "WORKER_CONCURRENCY is 0: jobs run in `ai-code-reviewer worker` processes"
        )
    if not task.done():
        return OK, "the in-process worker is running"
    error = None if task.cancelled() else task.exception()
    reason = f": {type(error).__name__}" if error is not None else ""
    return FAILED, f"the in-process worker stopped{reason}"

"""Liveness and readiness."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ai_code_reviewer.api.db.migrations import head_revision
from ai_code_reviewer.api.deps import DatabaseDep

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """Answer while the process is alive; touches nothing else."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "Not ready; reason given"}})
async def ready(database: DatabaseDep) -> JSONResponse:
    """Answer 200 when the database answers and its schema is at this release's head."""
    head = head_revision()
    try:
        async with database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        current = await database.revision()
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

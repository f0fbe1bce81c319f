"""Turn the project's exceptions into HTTP answers, in one place."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ai_code_reviewer.errors import (
    ConfigError,
    Conflict,
    DatabaseError,
    InvalidDiff,
    InvalidRequest,
    PayloadTooLarge,
    RecordNotFound,
    ReviewerError,
    Unauthorized,
)

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: tuple[tuple[type[ReviewerError], int], ...] = (
    (RecordNotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (Unauthorized, 401),
    (InvalidRequest, 422),
    (InvalidDiff, 422),
    (ConfigError, 500),
    (DatabaseError, 503),
)


def status_for(error: ReviewerError) -> int:
    """Return the HTTP status that answers ``error``."""
    for kind, status in STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return 500


async def handle_reviewer_error(request: Request, exc: Exception) -> JSONResponse:
    """Answer a ReviewerError with its status and message."""
    assert isinstance(exc, ReviewerError)  # noqa: S101  # registered for this class only
    status = status_for(exc)
    if status >= 500:
        logger.error("http.error", exc_info=exc, extra={"path": request.url.path})
    return JSONResponse({"detail": str(exc)}, status_code=status)


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Log an unexpected error with its stack and answer 500 without details."""
    logger.error("http.unhandled", exc_info=exc, extra={"path": request.url.path})
    return JSONResponse(
        {"detail": "internal error; the server log has the details"}, status_code=500
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(ReviewerError, handle_reviewer_error)
    app.add_exception_handler(Exception, handle_unexpected)

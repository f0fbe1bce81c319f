"""Log and measure each HTTP request, with an id carried in X-Request-Id.

Every line logged while a request is handled carries its ``request_id``.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ai_code_reviewer.logs import log_context
from ai_code_reviewer.metrics import HTTP_SECONDS

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = b"x-request-id"
# A caller's id is kept only when it is short and plain, so that a log line
# cannot be forged or flooded through the header.
SAFE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
# Metric labels take only these methods and route templates, so that a caller
# cannot make new time series by inventing methods or paths.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def request_id_of(scope: Scope) -> str:
    """Return the caller's X-Request-Id when it is safe, else a new one."""
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER and SAFE_ID.fullmatch(value):
            caller_id: str = value.decode("ascii")
            return caller_id
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    """Return the template of the route that answered, e.g. ``/api/jobs/{job_id}``."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else UNMATCHED


def observe(scope: Scope, status: int, seconds: float) -> None:
    """Add the request's duration to the latency histogram."""
    method = scope["method"] if scope["method"] in METHODS else "OTHER"
    HTTP_SECONDS.labels(method, route_of(scope), f"{status // 100}xx").observe(seconds)


class RequestLogMiddleware:
    """Log ``http.request`` with method, path, status and duration; time it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode("ascii")))
                message["headers"] = headers
            await send(message)

        try:
            with log_context(request_id=request_id):
                await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            observe(scope, status, seconds)
            logger.info(
                "http.request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route_of(scope),
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                    "request_id": request_id,
                },
            )

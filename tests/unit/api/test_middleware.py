"""The request log: one line per request, and the request id carried through."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI

from ai_code_reviewer.api.middleware import RequestLogMiddleware


@pytest.fixture
def plain_client() -> httpx.AsyncClient:
    """Return a client for a bare app wrapped in the middleware."""
    app = FastAPI()
    app.add_middleware(RequestLogMiddleware)

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_one_line_per_request_with_its_fields(
    plain_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Each request logs http.request with method, path, status and duration."""
    caplog.set_level(logging.INFO, logger="ai_code_reviewer.api.middleware")

    async with plain_client:
        await plain_client.get("/ping")

    [record] = [r for r in caplog.records if r.getMessage() == "http.request"]
    fields = vars(record)
    assert (fields["method"], fields["path"], fields["status"]) == ("GET", "/ping", 200)
    assert fields["duration_ms"] >= 0


async def test_callers_request_id_is_echoed(plain_client: httpx.AsyncClient) -> None:
    """A plain X-Request-Id from the caller comes back unchanged."""
    async with plain_client:
        response = await plain_client.get("/ping", headers={"X-Request-Id": "abc-1"})

    assert response.headers["x-request-id"] == "abc-1"


async def test_unsafe_request_id_is_replaced(plain_client: httpx.AsyncClient) -> None:
    """An id too long or with odd characters is replaced by a new one."""
    async with plain_client:
        response = await plain_client.get("/ping", headers={"X-Request-Id": "x" * 500})

    assert len(response.headers["x-request-id"]) == 32

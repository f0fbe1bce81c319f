"""GET /api/health/detailed: admin only, every dependency checked, no secret told."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.errors import GitHostError
from ai_code_reviewer.settings import Settings
from tests.conftest import make_settings

URL = "/api/health/detailed"
ADMIN_TOKEN = "admin-token-for-tests-0123456789"
WEBHOOK_SECRET = "hook-secret-for-tests-9876543210"
HOST_TOKEN = "BBDC-" + "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Return settings with an admin token, a webhook secret and quick checks."""
    return make_settings(
        db_url,
        tmp_path,
        admin_token=ADMIN_TOKEN,
        webhook_secret=WEBHOOK_SECRET,
        health_check_timeout=0.5,
    )


@dataclass
class CheckedHost:
    """A Git host whose check answers, raises or hangs as told."""

    answer: str | None = "Bitbucket 9.4.0 answered"
    error: Exception | None = None
    hang: bool = False

    async def check(self) -> str:
        """Answer, fail or never answer."""
        if self.hang:
            await asyncio.sleep(60)
        if self.error is not None:
            raise self.error
        return str(self.answer)


def checks_of(response: httpx.Response) -> dict[str, dict[str, Any]]:
    """Return the answer's checks by name."""
    return {check["name"]: check for check in response.json()["checks"]}


def assert_no_secret(response: httpx.Response) -> None:
    """Check that no secret of the test is in the answer."""
    for secret in (ADMIN_TOKEN, WEBHOOK_SECRET, HOST_TOKEN, "secret-db-password"):
        assert secret not in response.text


async def test_unset_admin_token_is_403(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Without ADMIN_TOKEN the endpoint is closed and says how to open it."""
    app.state.settings = app.state.settings.model_copy(update={"admin_token": None})

    response = await client.get(URL, headers=AUTH)

    assert response.status_code == 403
    assert response.json() == {"detail": "set ADMIN_TOKEN to use this endpoint"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
    ],
)
async def test_missing_or_wrong_token_is_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    """A missing, wrong or non-bearer credential is refused with 401."""
    response = await client.get(URL, headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert_no_secret(response)


async def test_all_checks_answer_200(
    app: FastAPI, client: httpx.AsyncClient, database: Database, settings: Settings
) -> None:
    """With the admin token every check is reported, with latency and detail."""
    app.state.githosts = {"bitbucket": CheckedHost(), "gitlab": object()}

    response = await client.get(URL, headers=AUTH)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    checks = checks_of(response)
    assert {name: check["status"] for name, check in checks.items()} == {
        "database": "ok",
        "githost:bitbucket": "ok",
        "githost:gitlab": "not_configured",
        "model": "ok",
        "email": "not_configured",
        "worker": "not_configured",
    }
    assert checks["database"]["detail"].startswith(database.dialect)
    assert checks["githost:bitbucket"]["detail"] == "Bitbucket 9.4.0 answered"
    assert checks["githost:gitlab"]["detail"] == "no check available"
    assert "offline, always available" in checks["model"]["detail"]
    outbox = settings.email_outbox_dir
    assert checks["email"]["detail"] == (
        f"not configured: emails go to the outbox at {outbox}"
    )
    assert all(check["latency_ms"] >= 0 for check in checks.values())
    assert_no_secret(response)


async def test_unreachable_database_is_503(
    client: httpx.AsyncClient, unreachable_database: Database
) -> None:
    """A database that does not answer fails its check and the answer is 503."""
    response = await client.get(URL, headers=AUTH)

    assert response.status_code == 503
    assert response.json()["status"] == "failed"
    database = checks_of(response)["database"]
    assert database["status"] == "failed"
    assert_no_secret(response)


@pytest.mark.parametrize(
    ("host", "detail"),
    [
        (CheckedHost(error=GitHostError(f"401 for token {HOST_TOKEN}")), "401"),
        (CheckedHost(hang=True), "no answer within 0.5 s"),
    ],
)
async def test_failing_git_host_is_503(
    app: FastAPI, client: httpx.AsyncClient, host: CheckedHost, detail: str
) -> None:
    """A Git host whose check raises or hangs fails; its token is not repeated."""
    app.state.githosts = {"bitbucket": host}

    response = await client.get(URL, headers=AUTH)

    assert response.status_code == 503
    check = checks_of(response)["githost:bitbucket"]
    assert check["status"] == "failed"
    assert detail in check["detail"]
    assert check["latency_ms"] < 5000
    assert_no_secret(response)


async def test_unwritable_outbox_fails(
    app: FastAPI, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    """An outbox that cannot be written to fails the email check."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    app.state.settings = app.state.settings.model_copy(
        update={"email_outbox_dir": blocker / "outbox"}
    )

    response = await client.get(URL, headers=AUTH)

    assert response.status_code == 503
    assert checks_of(response)["email"]["status"] == "failed"


async def test_worker_task_is_watched(app: FastAPI, client: httpx.AsyncClient) -> None:
    """A running in-process worker is ok; one that stopped on an error fails."""

    async def crash() -> None:
        raise RuntimeError("worker bug")

    running = asyncio.create_task(asyncio.sleep(60))
    crashed = asyncio.create_task(crash())
    await asyncio.wait([crashed])
    try:
        app.state.worker_task = running
        alive = checks_of(await client.get(URL, headers=AUTH))["worker"]
        app.state.worker_task = crashed
        dead = await client.get(URL, headers=AUTH)
    finally:
        running.cancel()

    assert alive["status"] == "ok"
    assert dead.status_code == 503
    assert checks_of(dead)["worker"]["detail"] == (
        "the in-process worker stopped: RuntimeError"
    )

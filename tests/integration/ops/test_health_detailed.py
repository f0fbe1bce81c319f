"""GET /api/health/detailed: admin only, every dependency checked, no secret told."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ai_code_reviewer.api.app import create_app
from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.errors import GitHostError
from ai_code_reviewer.settings import Settings
from tests import modelservers, smtpserver
from tests.conftest import make_settings
from tests.modelservers import FakeModelServer, Slow, unauthorized

URL = "/api/health/detailed"
ADMIN_TOKEN = "admin-token-for-tests-0123456789"
WEBHOOK_SECRET = "hook-secret-for-tests-9876543210"
HOST_TOKEN = "BBDC-" + "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg"
LLM_KEY = "sk-health-7c1e9b3a5d2f"
# Provider, the protocol of its fake server, and the base URL's path.
MODEL_PROVIDERS: list[tuple[str, modelservers.Protocol, str]] = [
    ("openai", "openai", "/v1"),
    ("azure", "openai", ""),
    ("anthropic", "anthropic", ""),
    ("ollama", "ollama", ""),
]
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def health_settings(db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Return settings with an admin token, a webhook secret and quick checks."""
    values: dict[str, Any] = {
        "admin_token": ADMIN_TOKEN,
        "webhook_secret": WEBHOOK_SECRET,
        "health_check_timeout": 0.5,
    }
    return make_settings(db_url, tmp_path, **{**values, **overrides})


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Return settings with an admin token, a webhook secret and quick checks."""
    return health_settings(db_url, tmp_path)


AppClient = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def client_with(db_url: str, tmp_path: Path) -> AsyncIterator[AppClient]:
    """Return a factory of clients of an app started with extra settings."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(**overrides: Any) -> httpx.AsyncClient:
            application = create_app(health_settings(db_url, tmp_path, **overrides))
            await stack.enter_async_context(
                application.router.lifespan_context(application)
            )
            transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
            return await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://test")
            )

        yield make


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
    secrets = (ADMIN_TOKEN, WEBHOOK_SECRET, HOST_TOKEN, LLM_KEY, smtpserver.PASSWORD)
    for secret in (*secrets, "secret-db-password"):
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


def free_port() -> int:
    """Return a port of 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def model_settings(provider: str, base_url: str) -> dict[str, Any]:
    """Return the settings of a model on ``base_url``, with a key to keep secret."""
    return {
        "llm_provider": provider,
        "llm_model": "test-model",
        "llm_base_url": base_url,
        "llm_api_key": LLM_KEY,
        "llm_context_tokens": 8192,
    }


@pytest.fixture(params=MODEL_PROVIDERS, ids=[p for p, *_ in MODEL_PROVIDERS])
def model_server(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[FakeModelServer, dict[str, Any]]]:
    """Yield a fake model server of each protocol and the settings that use it."""
    provider, protocol, path = request.param
    with modelservers.serving(protocol) as server:
        yield server, model_settings(provider, server.base_url + path)


async def test_model_check_asks_the_server(
    client_with: AppClient, model_server: tuple[FakeModelServer, dict[str, Any]]
) -> None:
    """A configured model is checked on its server, read-only, and named."""
    server, llm = model_server
    client = await client_with(**llm)

    response = await client.get(URL, headers=AUTH)

    assert response.status_code == 200
    model = checks_of(response)["model"]
    assert model["status"] == "ok"
    provider = llm["llm_provider"]
    assert model["detail"].startswith(f"{provider}/test-model: reachable")
    assert model["detail"].endswith("models in order: test-model")
    assert [request.body for request in server.requests] == [{}]
    assert_no_secret(response)


async def test_refused_model_key_fails_without_the_key(
    client_with: AppClient, model_server: tuple[FakeModelServer, dict[str, Any]]
) -> None:
    """A 401 that quotes the key fails the model check; the key is not repeated."""
    server, llm = model_server
    server.script = [unauthorized()]
    client = await client_with(**llm)

    response = await client.get(URL, headers=AUTH)

    assert response.status_code == 503
    model = checks_of(response)["model"]
    assert model["status"] == "failed"
    assert "refused the API key (HTTP 401)" in model["detail"]
    assert_no_secret(response)


async def test_slow_model_fails_within_the_timeout(
    client_with: AppClient, model_server: tuple[FakeModelServer, dict[str, Any]]
) -> None:
    """A model server slower than HEALTH_CHECK_TIMEOUT fails when the time is up."""
    server, llm = model_server
    server.script = [Slow(5.0)]
    client = await client_with(**llm)

    response = await client.get(URL, headers=AUTH)

    model = checks_of(response)["model"]
    assert response.status_code == 503
    assert (model["status"], model["detail"]) == ("failed", "no answer within 0.5 s")
    assert model["latency_ms"] < 2000


@pytest.mark.parametrize(("provider", "protocol", "path"), MODEL_PROVIDERS)
async def test_unreachable_model_fails(
    client_with: AppClient, provider: str, protocol: str, path: str
) -> None:
    """A model server where nothing listens fails the model check."""
    base_url = f"http://127.0.0.1:{free_port()}{path}"
    client = await client_with(**model_settings(provider, base_url))

    response = await client.get(URL, headers=AUTH)

    assert response.status_code == 503
    model = checks_of(response)["model"]
    assert model["status"] == "failed"
    assert "could not reach the model server" in model["detail"]


def smtp_settings(port: int, **overrides: Any) -> dict[str, Any]:
    """Return the settings of the SMTP server on ``port``, in clear by default."""
    values: dict[str, Any] = {
        "smtp_host": smtpserver.HOST,
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_timeout": 5.0,
    }
    return {**values, **overrides}


def tls_smtp_settings(port: int, ca_file: Path, password: str) -> dict[str, Any]:
    """Return the settings of the STARTTLS and AUTH server, trusting its CA."""
    return smtp_settings(
        port,
        smtp_security="starttls",
        smtp_ca_bundle=ca_file,
        smtp_username=smtpserver.USERNAME,
        smtp_password=password,
    )


async def test_plain_smtp_server_answers(client_with: AppClient) -> None:
    """A plain SMTP server that answers EHLO and NOOP is ok, and gets no message."""
    with smtpserver.serving() as server:
        client = await client_with(**smtp_settings(server.port))

        response = await client.get(URL, headers=AUTH)

    email = checks_of(response)["email"]
    assert response.status_code == 200
    assert email["status"] == "ok"
    assert email["detail"] == f"127.0.0.1:{server.port} answered"
    assert server.received == []


async def test_starttls_and_auth_are_checked(
    client_with: AppClient, tmp_path: Path
) -> None:
    """A server requiring STARTTLS then AUTH is ok with the right password."""
    authority = smtpserver.make_authority(tmp_path)
    with smtpserver.serving_tls(authority) as server:
        settings = tls_smtp_settings(
            server.port, authority.ca_file, smtpserver.PASSWORD
        )
        client = await client_with(**settings)

        response = await client.get(URL, headers=AUTH)

    email = checks_of(response)["email"]
    assert (email["status"], email["detail"]) == (
        "ok",
        f"127.0.0.1:{server.port} answered, STARTTLS and AUTH ok",
    )
    assert server.received == []
    assert_no_secret(response)


async def test_wrong_smtp_password_fails(
    client_with: AppClient, tmp_path: Path
) -> None:
    """AUTH refused with 535 fails the email check without telling the password."""
    authority = smtpserver.make_authority(tmp_path)
    with smtpserver.serving_tls(authority) as server:
        wrong = "not-the-" + smtpserver.PASSWORD
        client = await client_with(
            **tls_smtp_settings(server.port, authority.ca_file, wrong)
        )

        response = await client.get(URL, headers=AUTH)

    email = checks_of(response)["email"]
    assert response.status_code == 503
    assert email["status"] == "failed"
    assert f"127.0.0.1:{server.port} answered 535" in email["detail"]
    assert wrong not in response.text
    assert_no_secret(response)


async def test_missing_starttls_fails(client_with: AppClient) -> None:
    """SMTP_SECURITY=starttls against a server without STARTTLS fails, in clear."""
    with smtpserver.serving() as server:
        client = await client_with(
            **smtp_settings(server.port, smtp_security="starttls")
        )

        response = await client.get(URL, headers=AUTH)

    email = checks_of(response)["email"]
    assert email["status"] == "failed"
    assert "offers no STARTTLS" in email["detail"]


async def test_unreachable_smtp_server_fails(client_with: AppClient) -> None:
    """An SMTP port where nothing listens fails the email check."""
    port = free_port()
    client = await client_with(**smtp_settings(port))

    response = await client.get(URL, headers=AUTH)

    email = checks_of(response)["email"]
    assert response.status_code == 503
    assert email["status"] == "failed"
    assert f"could not reach the mail server 127.0.0.1:{port}" in email["detail"]

"""The service as users start it: ``python -m ai_code_reviewer.api.main``."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ai_code_reviewer.api.db.migrations import head_revision

STARTUP_SECONDS = 30


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def service_env(**extra: str) -> dict[str, str]:
    """Return the environment of a service process, without the caller's settings."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "PORT"}}
    env.update(extra)
    return env


def wait_until_up(base_url: str, process: subprocess.Popen[bytes]) -> None:
    """Poll /health until the service answers or the process exits."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"service exited with {process.returncode}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("service did not answer /health in time")


def start_once(folder: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    """Start the service in ``folder`` with ``env`` and wait for it to exit."""
    return subprocess.run(
        [sys.executable, "-m", "ai_code_reviewer.api.main"],
        cwd=folder,
        env=service_env(**env),
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def running_service(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Start the service on its embedded defaults in an empty folder."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "ai_code_reviewer.api.main"],
        cwd=tmp_path,
        env=service_env(PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base_url, process)
        yield base_url, tmp_path
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    # uvicorn re-raises SIGTERM after a clean shutdown, so -15 is a clean exit.
    assert process.returncode in (0, -signal.SIGTERM), output.decode()
    assert b"app.stopped" in output
    assert b"Traceback" not in output, output.decode()


def test_service_serves_on_embedded_sqlite(running_service: tuple[str, Path]) -> None:
    """On defaults the service creates ./ai_code_reviewer.db and is ready at head."""
    base_url, folder = running_service

    ready = httpx.get(f"{base_url}/ready", timeout=5)

    assert ready.status_code == 200
    assert ready.json()["revision"] == head_revision()
    assert (folder / "ai_code_reviewer.db").is_file()


def test_service_publishes_openapi_docs(running_service: tuple[str, Path]) -> None:
    """/docs answers the interactive page and /openapi.json lists the routes."""
    base_url, _ = running_service

    docs = httpx.get(f"{base_url}/docs", timeout=5)
    spec = httpx.get(f"{base_url}/openapi.json", timeout=5).json()

    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert "/api/reviews/latest" in spec["paths"]


def test_database_ahead_of_release_stops_start_with_a_sentence(tmp_path: Path) -> None:
    """A database migrated by a newer release ends the start with exit 2, no trace."""
    with sqlite3.connect(tmp_path / "ai_code_reviewer.db") as connection:
        connection.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        connection.execute("INSERT INTO alembic_version VALUES ('9999')")

    result = start_once(tmp_path, PORT=str(free_port()))

    assert result.returncode == 2
    assert b"newer ai-code-reviewer" in result.stderr
    assert b"Traceback" not in result.stderr


def test_bad_setting_stops_start_with_a_sentence(tmp_path: Path) -> None:
    """A malformed setting ends the start with exit 2 naming the variable."""
    result = start_once(tmp_path, PORT="not-a-port")

    assert result.returncode == 2
    assert b"PORT" in result.stderr
    assert b"Traceback" not in result.stderr


def test_unreachable_database_stops_start_without_its_password(tmp_path: Path) -> None:
    """A database that refuses connections ends the start with exit 2, no secret."""
    url = "postgresql+asyncpg://app:s3cret-pw@127.0.0.1:1/reviews"

    result = start_once(tmp_path, DATABASE_URL=url)

    assert result.returncode == 2
    assert b"cannot use the database at postgresql+asyncpg://app:***@" in result.stderr
    assert b"s3cret-pw" not in result.stderr
    assert b"Traceback" not in result.stderr

"""Liveness and readiness over real SQLite and PostgreSQL databases."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.migrations import head_revision


async def stamp(database: Database, revision: str) -> None:
    """Write ``revision`` into the database's Alembic version table."""
    async with database.engine.begin() as connection:
        await connection.execute(
            text("UPDATE alembic_version SET version_num = :revision"),
            {"revision": revision},
        )


async def test_health_answers_ok(client: httpx.AsyncClient) -> None:
    """/health answers 200 and ok while the process lives."""
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_at_head_names_database_and_revision(
    client: httpx.AsyncClient, database: Database
) -> None:
    """/ready answers 200 with the database kind and the schema at head."""
    response = await client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "database": database.dialect,
        "revision": head_revision(),
        "head": head_revision(),
    }


async def test_ready_off_head_is_503_with_reason(
    client: httpx.AsyncClient, database: Database
) -> None:
    """/ready answers 503 and says why when the schema is not at this head."""
    await stamp(database, "0000_older")

    try:
        response = await client.get("/ready")
    finally:
        # The PostgreSQL database is shared by the session's tests.
        await stamp(database, head_revision())

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["revision"] == "0000_older"
    assert "0000_older" in body["reason"]

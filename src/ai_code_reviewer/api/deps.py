"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.ext.asyncio import AsyncSession

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.settings import Settings


def get_database(request: Request) -> Database:
    """Return the database the application opened at startup."""
    database: Database = request.app.state.database
    return database


def get_settings(request: Request) -> Settings:
    """Return the settings the application was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_db_session(
    database: Annotated[Database, Depends(get_database)],
) -> AsyncIterator[AsyncSession]:
    """Open one session for the duration of a request."""
    async with database.session() as session:
        yield session


def require_admin(request: Request) -> None:
    """Let the request through only with ``Authorization: Bearer <ADMIN_TOKEN>``.

    Raises:
        HTTPException: 403 when ADMIN_TOKEN is not set, 401 when the header is
            missing or wrong (compared in constant time).
    """
    token = get_settings(request).admin_token
    if token is None:
        raise HTTPException(403, "set ADMIN_TOKEN to use this endpoint")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected
    ):
        raise HTTPException(
            401,
            "send Authorization: Bearer <ADMIN_TOKEN>",
            headers={"WWW-Authenticate": "Bearer"},
        )


AdminDep = Annotated[None, Depends(require_admin)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[AsyncSession, Depends(get_db_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
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


DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[AsyncSession, Depends(get_db_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

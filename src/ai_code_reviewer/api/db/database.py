"""Open the database: async engine, sessions, migrations and shutdown.

The service builds one ``Database`` from its settings and passes it along.
The module-level functions (``get_session``, ``init_db``, ``close_db``,
``run_migrations``) serve scripts and the database guide's snippets: they use
a default database that the service configures at startup, or that is built
from the environment (``DATABASE_URL``, ``.env``) on first use.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from ai_code_reviewer.api.db.migrations import schema_revision, upgrade_to_head
from ai_code_reviewer.settings import Settings, load_settings

T = TypeVar("T")


def sqlite_file(url: URL) -> Path | None:
    """Return the file behind a SQLite URL, or None for other databases or memory."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(str(url.database))


def _set_sqlite_pragmas(busy_timeout_ms: int) -> Callable[[Any, Any], None]:
    """Make a connect hook that sets WAL, the busy timeout and foreign keys."""

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return on_connect


def create_engine(settings: Settings, pooled: bool = True) -> AsyncEngine:
    """Create the async engine; ``pooled=False`` keeps no connection between uses."""
    url = make_url(settings.database_url)
    options: dict[str, Any] = {"echo": settings.database_echo}
    if not pooled:
        options["poolclass"] = NullPool
    if url.get_backend_name() != "sqlite":
        if pooled:
            options.update(pool_size=settings.database_pool_size, pool_pre_ping=True)
        return create_async_engine(url, **options)

    if (path := sqlite_file(url)) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    timeout = settings.sqlite_busy_timeout_ms / 1000
    engine = create_async_engine(url, connect_args={"timeout": timeout}, **options)
    hook = _set_sqlite_pragmas(settings.sqlite_busy_timeout_ms)
    event.listen(engine.sync_engine, "connect", hook)
    return engine


class Database:
    """Hold one engine and its session factory for the configured database."""

    def __init__(self, settings: Settings, pooled: bool = True) -> None:
        self.settings = settings
        self.url = make_url(settings.database_url)
        self.engine = create_engine(settings, pooled)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """Name the database kind: ``sqlite`` or ``postgresql``."""
        return self.url.get_backend_name()

    @property
    def sqlite_path(self) -> Path | None:
        """Return the SQLite file, or None when the database is not a SQLite file."""
        return sqlite_file(self.url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """Open a session; what is not committed is rolled back when it closes."""
        async with self.sessions() as session:
            yield session

    async def migrate(self) -> str:
        """Upgrade the schema to this release's head; return the revision."""
        return await upgrade_to_head(self.engine)

    async def revision(self) -> str | None:
        """Return the schema revision stamped in the database."""
        return await schema_revision(self.engine)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


class _DefaultDatabase:
    """Keep the process-wide database of the module-level functions.

    One built here from settings holds no connection between sessions (no
    pool): an async connection belongs to the event loop that opened it, and
    a script may call ``asyncio.run`` more than once.
    """

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.database: Database | None = None

    def use(self, database: Database) -> None:
        self.settings, self.database = database.settings, database

    def get(self) -> Database:
        if self.database is None:
            self.settings = self.settings or load_settings()
            self.database = Database(self.settings, pooled=False)
        return self.database

    def forget(self) -> Database | None:
        database, self.database = self.database, None
        return database


_default = _DefaultDatabase()


def configure(settings: Settings | Database) -> Database:
    """Make ``settings`` (or a ready ``Database``) the default of this module."""
    if isinstance(settings, Database):
        database = settings
    else:
        database = Database(settings, pooled=False)
    _default.use(database)
    return database


@asynccontextmanager
async def get_session() -> AsyncIterator[AsyncSession]:
    """Open a session on the default database: ``async with get_session() as s:``."""
    async with _default.get().session() as session:
        yield session


def _run_blocking(work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` to completion from synchronous code, inside a loop or not.

    Inside a running loop the work gets its own loop in a helper thread; the
    caller blocks until it is done, which is what a synchronous call means.
    """

    async def main() -> T:
        return await work()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-sync") as pool:
        return pool.submit(asyncio.run, main()).result()


def run_migrations(settings: Settings | None = None) -> str:
    """Run Alembic ``upgrade head`` on the default database; return the revision.

    Async code should ``await Database.migrate()`` instead, as the service does.
    """
    chosen = settings or _default.settings or load_settings()

    async def migrate() -> str:
        database = Database(chosen, pooled=False)
        try:
            return await database.migrate()
        finally:
            await database.dispose()

    return _run_blocking(migrate)


def init_db(settings: Settings | None = None) -> Database:
    """Make ``settings`` the default database and create its tables if needed."""
    chosen = settings or _default.settings or load_settings()
    run_migrations(chosen)
    return configure(chosen)


async def close_db() -> None:
    """Close the default database's connections."""
    database = _default.forget()
    if database is not None:
        await database.dispose()

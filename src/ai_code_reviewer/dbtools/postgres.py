"""Reach PostgreSQL's own tools: CREATE DATABASE, pg_dump and pg_restore.

The password travels in ``PGPASSWORD`` in the child's environment, never on a
command line (which ``ps`` shows to every user of the machine) nor in output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ai_code_reviewer.errors import DatabaseError

MAINTENANCE_DATABASE = "postgres"
# asyncpg spells the TLS mode ``ssl``; libpq spells it ``sslmode``.
SSL_QUERY_KEYS = ("sslmode", "ssl")


@dataclass(frozen=True)
class LibpqTarget:
    """Say where a libpq tool connects: arguments, and the secret kept apart."""

    dbname: str
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None
    sslmode: str | None = None

    def arguments(self) -> list[str]:
        """Return the connection arguments of pg_dump and pg_restore."""
        found: list[str] = []
        for flag, value in (
            ("--host", self.host),
            ("--port", self.port),
            ("--username", self.user),
        ):
            if value is not None:
                found += [flag, str(value)]
        return [*found, "--dbname", self.dbname]

    def environment(self) -> dict[str, str]:
        """Return the child's environment: ours plus PGPASSWORD and PGSSLMODE."""
        env = dict(os.environ)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        if self.sslmode is not None:
            env["PGSSLMODE"] = self.sslmode
        return env


def libpq_target(url: URL) -> LibpqTarget:
    """Translate a SQLAlchemy PostgreSQL URL into libpq connection settings."""
    sslmode = next(
        (str(url.query[key]) for key in SSL_QUERY_KEYS if key in url.query), None
    )
    return LibpqTarget(
        dbname=url.database or MAINTENANCE_DATABASE,
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        sslmode=sslmode,
    )


async def ensure_database(url: URL) -> bool:
    """Create the database of ``url`` when missing; tell whether it was created.

    CREATE DATABASE cannot run inside a transaction, nor while connected to
    the database being created, so it goes through the maintenance database.
    """
    name = url.database or MAINTENANCE_DATABASE
    engine = create_async_engine(
        url.set(database=MAINTENANCE_DATABASE),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )
    try:
        async with engine.connect() as connection:
            query = text("SELECT 1 FROM pg_database WHERE datname = :name")
            if await connection.scalar(query, {"name": name}):
                return False
            quoted = connection.dialect.identifier_preparer.quote_identifier(name)
            await connection.execute(text(f"CREATE DATABASE {quoted}"))
            return True
    finally:
        await engine.dispose()


def run_tool(tool: str, arguments: list[str], target: LibpqTarget) -> str:
    """Run a PostgreSQL client tool; return its stdout or raise DatabaseError."""
    program = shutil.which(tool)
    if program is None:
        raise DatabaseError(missing_tool_message(tool, arguments, target))
    completed = subprocess.run(  # noqa: S603  # fixed program, no shell
        [program, *arguments],
        env=target.environment(),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        lines = completed.stderr.strip().splitlines() or ["no message"]
        raise DatabaseError(
            f"{tool} failed with exit code {completed.returncode}: {lines[-1]}"
        )
    return completed.stdout


def missing_tool_message(tool: str, arguments: list[str], target: LibpqTarget) -> str:
    """Say that ``tool`` is missing and show the command to run instead."""
    password = "PGPASSWORD=<password> " if target.password is not None else ""
    command = " ".join([tool, *arguments])
    return (
        f"{tool} was not found on PATH; install the PostgreSQL client tools "
        f"(package postgresql-client) or run it yourself: {password}{command}"
    )


def dump(url: URL, path: Path) -> None:
    """Write the database of ``url`` to ``path`` as a pg_dump custom archive."""
    target = libpq_target(url)
    arguments = ["--format=custom", "--file", str(path), *target.arguments()]
    run_tool("pg_dump", arguments, target)


def restore(url: URL, path: Path) -> None:
    """Replace the database of ``url`` by the archive at ``path``, all or nothing."""
    target = libpq_target(url)
    arguments = [
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        *target.arguments(),
        str(path),
    ]
    run_tool("pg_restore", arguments, target)


def archive_tables(path: Path) -> set[str]:
    """Return the names of the tables held by a pg_dump custom archive."""
    listing = run_tool("pg_restore", ["--list", str(path)], LibpqTarget(dbname=""))
    tables = set()
    for line in listing.splitlines():
        fields = line.split()
        # A table entry reads: "215; 1259 16390 TABLE public review_records owner".
        if len(fields) >= 6 and fields[3] == "TABLE" and not line.startswith(";"):
            tables.add(fields[5])
    return tables


def archive_revisions(path: Path) -> list[str]:
    """Return the rows of alembic_version stored in a pg_dump custom archive."""
    arguments = ["--data-only", "--table=alembic_version", "--file=-", str(path)]
    script = run_tool("pg_restore", arguments, LibpqTarget(dbname=""))
    rows: list[str] = []
    copying = False
    for line in script.splitlines():
        if line.startswith("COPY ") and "alembic_version" in line:
            copying = True
        elif copying and line == "\\.":
            copying = False
        elif copying:
            rows.append(line.split("\t")[0])
    return rows

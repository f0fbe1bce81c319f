"""Measure how the read API's list endpoints scale from thousands to a million rows.

Each query is timed on a small and a large database of the same shape, on
SQLite and on PostgreSQL, through the real application (in process, over
httpx's ASGI transport). The report gives ratios measured in one run: a
query that uses an index answers a page of a million-row table about as fast
as a page of a small one.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from ai_code_reviewer.api.app import create_app
from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.settings import Settings

PROJECTS = 20
AUTHORS = 200
START = datetime(2025, 1, 1)
SPAN = timedelta(days=365)
COLUMNS = (
    "created_at",
    "review_type",
    "trigger_type",
    "project_key",
    "repo_slug",
    "commit_id",
    "pr_id",
    "author_name",
    "author_email",
    "diff_content",
    "review_feedback",
    "email_recipients",
    "email_sent",
    "llm_provider",
    "llm_model",
)
FAILURE_COLUMNS = (
    "created_at",
    "event_type",
    "project_key",
    "repo_slug",
    "failure_stage",
    "error_type",
    "error_message",
    "resolved",
)
DIFF = "diff --git a/app.py b/app.py\n@@ -1,2 +1,2 @@\n-x = 1\n+x = 2\n"
FEEDBACK = "## Summary\nOne minor finding.\n\n- app.py:1 (minor) name `x` says nothing"


@dataclass
class Section:
    """Timings of every query on one backend at two sizes."""

    backend: str
    small_rows: int
    rows: int
    small: dict[str, float] = field(default_factory=dict)
    large: dict[str, float] = field(default_factory=dict)


def review_rows(count: int) -> Iterator[tuple[object, ...]]:
    """Yield ``count`` review rows in arrival order, with skewed projects."""
    rng = random.Random(7)
    step = SPAN / count
    for n in range(count):
        project = min(int(rng.expovariate(0.25)), PROJECTS - 1)
        author = rng.randrange(AUTHORS)
        email = f"dev{author:03d}@example.com"
        yield (
            START + step * n,
            "auto",
            "commit" if n % 4 else "pull_request",
            f"PROJ-{project:02d}",
            f"repo-{project}-{n % 5}",
            f"{n:040x}",
            n % 5000 if n % 4 == 0 else None,
            f"Developer {author}",
            email,
            DIFF,
            FEEDBACK,
            json.dumps([email]),
            n % 3 == 0,
            "builtin",
            "builtin",
        )


def failure_rows(count: int) -> Iterator[tuple[object, ...]]:
    """Yield ``count`` failure rows, one in five unresolved."""
    step = SPAN / count
    stages = ("fetch_diff", "llm_review", "email", "publish")
    for n in range(count):
        yield (
            START + step * n,
            "webhook",
            f"PROJ-{n % PROJECTS:02d}",
            f"repo-{n % PROJECTS}-0",
            stages[n % len(stages)],
            "TimeoutError",
            "the model did not answer in time",
            n % 5 != 0,
        )


def queries(rows: int) -> dict[str, str]:
    """Name the requests timed, for a database of ``rows`` reviews."""
    day = (START + SPAN / 2).date().isoformat()
    next_day = (START + SPAN / 2 + timedelta(days=1)).date().isoformat()
    return {
        "latest page": "/api/reviews/latest?limit=50",
        "by project": "/api/reviews/by-project/PROJ-00?limit=50",
        "by small project": "/api/reviews/by-project/PROJ-19?limit=50",
        "by author": "/api/reviews/by-author/dev007@example.com?limit=50",
        "project + repo": "/api/reviews?project_key=PROJ-03&repo_slug=repo-3-1",
        "by commit": f"/api/reviews?commit_id={rows // 2:040x}",
        "one day window": f"/api/reviews?since={day}&until={next_day}",
        "deep keyset page": f"/api/reviews?cursor={max(rows // 100, 2)}&limit=50",
        "one review": f"/api/reviews/{rows // 2}",
        "unresolved failures": "/api/failures?resolved=false&limit=50",
        "by project + total": "/api/reviews/by-project/PROJ-00?include_total=true",
    }


def load_sqlite(path: Path, rows: int) -> None:
    """Bulk-insert ``rows`` reviews and a tenth as many failures into SQLite."""
    with sqlite3.connect(path) as connection:
        marks = ", ".join("?" * len(COLUMNS))
        connection.executemany(
            f"INSERT INTO review_records ({', '.join(COLUMNS)}) VALUES ({marks})",  # noqa: S608  # constant names
            review_rows(rows),
        )
        marks = ", ".join("?" * len(FAILURE_COLUMNS))
        connection.executemany(
            f"INSERT INTO review_failure_logs ({', '.join(FAILURE_COLUMNS)}) "  # noqa: S608  # constant names
            f"VALUES ({marks})",
            failure_rows(max(rows // 10, 1)),
        )
        connection.execute("ANALYZE")


async def load_postgres(url: str, rows: int) -> None:
    """Bulk-copy ``rows`` reviews and a tenth as many failures into PostgreSQL."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.copy_records_to_table(
            "review_records", records=review_rows(rows), columns=COLUMNS
        )
        await connection.copy_records_to_table(
            "review_failure_logs",
            records=failure_rows(max(rows // 10, 1)),
            columns=FAILURE_COLUMNS,
        )
        # A fresh bulk load leaves the visibility map empty; autovacuum would
        # then run during the timings of the large database only.
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


async def time_queries(
    settings: Settings, paths: dict[str, str], repeats: int
) -> dict[str, float]:
    """Return the median seconds of each request through the real application."""
    app = create_app(settings)
    timings: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench"
        ) as client:
            for name, path in paths.items():
                (await client.get(path)).raise_for_status()
                samples = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    (await client.get(path)).raise_for_status()
                    samples.append(time.perf_counter() - started)
                timings[name] = statistics.median(samples)
    return timings


async def prepared(url: str) -> Settings:
    """Migrate the database at ``url`` and return settings for it."""
    settings = Settings(_env_file=None, database_url=url)
    database = Database(settings)
    await database.migrate()
    await database.dispose()
    return settings


async def measure_sqlite(folder: Path, rows: int, repeats: int) -> dict[str, float]:
    """Build a SQLite database of ``rows`` reviews and time the queries on it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"bench_{rows}.db"
    settings = await prepared(f"sqlite+aiosqlite:///{path}")
    load_sqlite(path, rows)
    return await time_queries(settings, queries(rows), repeats)


async def admin(statement: str) -> None:
    """Run one statement on the PostgreSQL maintenance database."""
    url = os.environ.get(
        "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    dsn = make_url(url).set(drivername="postgresql").render_as_string(False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def measure_postgres(rows: int, repeats: int) -> dict[str, float]:
    """Build a PostgreSQL database of ``rows`` reviews and time the queries on it."""
    name = f"acr_bench_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
        settings = await prepared(url)
        await load_postgres(url, rows)
        return await time_queries(settings, queries(rows), repeats)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}"')


async def run(
    rows: int, small_rows: int, repeats: int, postgres: bool
) -> list[Section]:
    """Time every query at both sizes on SQLite, and on PostgreSQL when asked."""
    # The small database is timed again after the large one and the second
    # timing kept: the first requests of a process run slower (imports,
    # caches), which would flatter the large database.
    sections = []
    with tempfile.TemporaryDirectory(prefix="acr-bench-") as folder:
        sqlite = Section("SQLite", small_rows, rows)
        await measure_sqlite(Path(folder), small_rows, repeats)
        sqlite.large = await measure_sqlite(Path(folder), rows, repeats)
        sqlite.small = await measure_sqlite(Path(folder) / "again", small_rows, repeats)
        sections.append(sqlite)
    if postgres:
        pg = Section("PostgreSQL", small_rows, rows)
        await measure_postgres(small_rows, repeats)
        pg.large = await measure_postgres(rows, repeats)
        pg.small = await measure_postgres(small_rows, repeats)
        sections.append(pg)
    return sections


def render_section(sections: list[Section]) -> str:
    """Render this benchmark's section of docs/BENCHMARKS.md from one run."""
    lines = [
        "## Read API at a million rows",
        "",
        __doc__.strip().split("\n\n")[1].replace("\n", " ") if __doc__ else "",
        "",
        "Ratio = median time of the request on the large database divided by",
        "its median time on the small one (1.0: no slower at all).",
        "",
    ]
    for section in sections:
        sizes = f"{section.rows:,} vs {section.small_rows:,} reviews"
        lines += [
            f"### {section.backend}: {sizes}",
            "",
            "| request | large / small |",
            "|---|---:|",
        ]
        for name, small in section.small.items():
            lines.append(f"| {name} | {section.large[name] / small:.2f} |")
        lines.append("")
    lines += [
        "`by project + total` asks for `include_total=true`: counting the",
        "matching rows grows with the table, which is why lists count only",
        "when asked. `one day window` grows because a day holds a hundred",
        "times more reviews in the large database, and the window's rows are",
        "sorted by id before the first 50 are taken. On SQLite, indexed pages",
        "cost up to about 1.8x: the large file no longer fits SQLite's page",
        "cache, so more pages come from the operating system's cache.",
        "",
    ]
    return "\n".join(lines)

"""Measure the webhook's answer and a worker's claim under a deep job queue.

Signed ``repo:refs_changed`` deliveries, each with its own delivery id and
pushed commit, are posted through the real application (in process, over
httpx's ASGI transport) with the application's worker off, so that their jobs
stay queued; then ``queue.claim`` takes jobs one at a time. Both are timed on
a database whose queue holds only those jobs and on one that already holds a
deep queue (100,000 jobs by default), on SQLite and on PostgreSQL. The
webhook's answer waits for its delivery and job to commit, so a queue that
slowed inserts or claims would show here.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import itertools
import json
import os
import secrets
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from ai_code_reviewer.api.app import create_app
from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import utcnow
from ai_code_reviewer.api.jobs import queue
from ai_code_reviewer.settings import Settings

DEPTH = 100_000
JOB_COLUMNS = (
    "kind",
    "status",
    "dedupe_key",
    "payload",
    "attempts",
    "max_attempts",
    "run_after",
    "created_at",
    "updated_at",
)
WARM_UP = 20
_NUMBERS = itertools.count(1)
Timed = Callable[[], Awaitable[float]]


@dataclass
class Section:
    """Median seconds of a webhook answer and a claim, at two queue depths."""

    backend: str
    depth: int
    requests: int
    small: dict[str, float] = field(default_factory=dict)
    large: dict[str, float] = field(default_factory=dict)

    @property
    def claims(self) -> int:
        """Return how many claims are timed: half as many as deliveries."""
        return max(self.requests // 2, 1)


def push_body() -> bytes:
    """Return a ``repo:refs_changed`` body pushing a new commit to main."""
    number = next(_NUMBERS)
    repository = {"slug": "shop", "id": 1, "project": {"key": "BENCH", "id": 1}}
    change = {
        "ref": {"id": "refs/heads/main", "displayId": "main", "type": "BRANCH"},
        "refId": "refs/heads/main",
        "fromHash": f"{number - 1:040x}",
        "toHash": f"{number:040x}",
        "type": "UPDATE",
    }
    body = {
        "eventKey": "repo:refs_changed",
        "date": "2026-01-05T10:00:00+0100",
        "actor": {"name": "ada", "emailAddress": "ada@example.com"},
        "repository": repository,
        "changes": [change],
    }
    return json.dumps(body).encode()


def job_rows(count: int) -> Iterator[tuple[object, ...]]:
    """Yield ``count`` queued push jobs, due over the day before now."""
    now = utcnow()
    step = timedelta(days=1) / count
    for n in range(count):
        due = now - timedelta(days=1) + step * n
        key = f"push:bitbucket:LOAD/repo-{n % 50}:refs/heads/main:{n:040x}"
        payload = {"origin": "webhook", "project_key": "LOAD", "commit_id": f"{n:x}"}
        yield ("expand_push", "queued", key, json.dumps(payload), 0, 5, due, due, due)


def load_sqlite(path: Path, count: int) -> None:
    """Bulk-insert ``count`` queued jobs into the SQLite file at ``path``."""
    with sqlite3.connect(path) as connection:
        marks = ", ".join("?" * len(JOB_COLUMNS))
        connection.executemany(
            f"INSERT INTO review_jobs ({', '.join(JOB_COLUMNS)}) VALUES ({marks})",  # noqa: S608  # constant names
            job_rows(count),
        )
        connection.execute("ANALYZE")


def dsn_of(url: str) -> str:
    """Return the asyncpg form of a SQLAlchemy PostgreSQL URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(False)


async def load_postgres(url: str, count: int) -> None:
    """Bulk-copy ``count`` queued jobs into the PostgreSQL database at ``url``."""
    connection = await asyncpg.connect(dsn_of(url))
    try:
        await connection.copy_records_to_table(
            "review_jobs", records=job_rows(count), columns=JOB_COLUMNS
        )
        # Without it autovacuum would run during the deep queue's timings only.
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


def signed(settings: Settings, body: bytes) -> dict[str, str]:
    """Return the headers of one delivery of ``body``, signed as Bitbucket does."""
    assert settings.webhook_secret is not None
    key = settings.webhook_secret.get_secret_value().encode()
    digest = hmac.new(key, body, hashlib.sha256).hexdigest()
    return {
        "X-Event-Key": "repo:refs_changed",
        "X-Request-Id": str(uuid.uuid4()),
        "X-Hub-Signature": f"sha256={digest}",
        "Content-Type": "application/json",
    }


async def post_once(client: httpx.AsyncClient, settings: Settings) -> float:
    """Post one new push delivery; return the seconds until its answer."""
    body = push_body()
    headers = signed(settings, body)
    started = time.perf_counter()
    answer = await client.post("/api/webhooks/bitbucket", content=body, headers=headers)
    elapsed = time.perf_counter() - started
    answer.raise_for_status()
    if answer.json()["outcome"] != "enqueued":
        raise RuntimeError(f"the delivery was not enqueued: {answer.text}")
    return elapsed


async def claim_once(database: Database) -> float:
    """Claim one job from ``database``; return the seconds the claim took."""
    started = time.perf_counter()
    async with database.session() as session:
        job = await queue.claim(session, "bench", timedelta(minutes=5), utcnow())
    elapsed = time.perf_counter() - started
    if job is None:
        raise RuntimeError("the queue ran out of jobs to claim")
    return elapsed


async def alternate(work: dict[str, Timed], rounds: int) -> dict[str, float]:
    """Run each timed step once a round, in turn; return each one's median.

    Taking turns, and swapping who goes first each round, spreads any change
    in the machine's load evenly over both databases.
    """
    samples: dict[str, list[float]] = {name: [] for name in work}
    names = list(work)
    for number in range(rounds):
        for name in names if number % 2 == 0 else names[::-1]:
            samples[name].append(await work[name]())
    return {name: statistics.median(taken) for name, taken in samples.items()}


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Start the real application for ``settings``; yield a client of it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench"
        ) as client:
            yield client


async def time_webhooks(
    targets: dict[str, Settings], requests: int
) -> dict[str, float]:
    """Return each database's median webhook answer, the apps taking turns."""
    async with contextlib.AsyncExitStack() as stack:
        work: dict[str, Timed] = {}
        for name, settings in targets.items():
            client = await stack.enter_async_context(serving(settings))
            work[name] = functools.partial(post_once, client, settings)
        await alternate(work, WARM_UP)
        return await alternate(work, requests)


async def time_claims(targets: dict[str, Settings], claims: int) -> dict[str, float]:
    """Return each database's median ``queue.claim``, the databases taking turns."""
    databases = {name: Database(settings) for name, settings in targets.items()}
    try:
        work: dict[str, Timed] = {
            name: functools.partial(claim_once, database)
            for name, database in databases.items()
        }
        return await alternate(work, claims)
    finally:
        for database in databases.values():
            await database.dispose()


async def compare(empty: Settings, deep: Settings, section: Section) -> None:
    """Time the webhook, then the claims, on both databases into ``section``."""
    targets = {"small": empty, "large": deep}
    answers = await time_webhooks(targets, section.requests)
    claims = await time_claims(targets, section.claims)
    for name, timings in (("small", section.small), ("large", section.large)):
        timings["webhook answer"] = answers[name]
        timings["queue.claim"] = claims[name]


async def prepared(url: str) -> Settings:
    """Migrate the database at ``url``; return settings with the worker off."""
    settings = Settings(
        _env_file=None,
        database_url=url,
        worker_concurrency=0,
        webhook_secret=secrets.token_hex(16),
    )
    database = Database(settings)
    await database.migrate()
    await database.dispose()
    return settings


async def measure_sqlite(folder: Path, section: Section) -> None:
    """Time intake on two new SQLite files, one holding the deep queue."""
    empty = await prepared(f"sqlite+aiosqlite:///{folder / 'empty.db'}")
    deep = await prepared(f"sqlite+aiosqlite:///{folder / 'deep.db'}")
    load_sqlite(folder / "deep.db", section.depth)
    await compare(empty, deep, section)


async def admin(statement: str) -> None:
    """Run one statement on the PostgreSQL maintenance database."""
    url = os.environ.get(
        "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    connection = await asyncpg.connect(dsn_of(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """Create a PostgreSQL database, yield its URL, and drop it."""
    name = f"acr_bench_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def measure_postgres(section: Section) -> None:
    """Time intake on two scratch PostgreSQL databases, one with the deep queue."""
    async with scratch_database() as empty_url, scratch_database() as deep_url:
        empty = await prepared(empty_url)
        deep = await prepared(deep_url)
        await load_postgres(deep_url, section.depth)
        await compare(empty, deep, section)


async def run(depth: int, requests: int, postgres: bool) -> list[Section]:
    """Time intake with an empty and a deep queue on each backend."""
    sqlite = Section("SQLite", depth, requests)
    with tempfile.TemporaryDirectory(prefix="acr-bench-") as folder:
        await measure_sqlite(Path(folder), sqlite)
    if not postgres:
        return [sqlite]
    pg = Section("PostgreSQL", depth, requests)
    await measure_postgres(pg)
    return [sqlite, pg]


def render_section(sections: list[Section], requests: int) -> str:
    """Render this benchmark's section of docs/BENCHMARKS.md."""
    intro = __doc__.strip().split("\n\n")[1] if __doc__ else ""
    intro = intro.replace("\n", " ").replace("``", "`")
    lines = [
        "## Webhook intake under a deep queue",
        "",
        intro,
        "",
        "Ratio = median time with the deep queue divided by the median time",
        "with the empty one, which holds only the jobs of its own deliveries",
        "(1.0: the queue's depth costs nothing). Each database took",
        f"{requests} deliveries, then {max(requests // 2, 1)} claims, the two",
        "databases taking turns.",
        "",
        "| backend | queued jobs | webhook answer | queue.claim |",
        "|---|---:|---:|---:|",
    ]
    for section in sections:
        ratios = [
            f"{section.large[name] / small:.2f}"
            for name, small in section.small.items()
        ]
        lines.append(
            f"| {section.backend} | {section.depth:,} vs 0 | {' | '.join(ratios)} |"
        )
    return "\n".join([*lines, "", *SUMMARY, ""])


SUMMARY = [
    "Both steps go through indexes (the unique dedupe key for the insert,",
    "status and run_after for the claim), so a backlog of jobs leaves the",
    "webhook's answer and a worker's claim about as fast as on an empty queue.",
]

"""From deliveries to stored reviews: repeated webhooks make one review."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from ai_code_reviewer.api.app import create_app
from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.db.models import ReviewJob, WebhookDelivery
from tests.conftest import make_settings
from tests.integration.jobs.test_webhook_intake import SHA, deliver, push
from tests.integration.jobs.test_worker import Rig


@pytest.fixture
async def client(db_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """Return a client of the app, its own worker off so the rig runs the jobs."""
    settings = make_settings(db_url, tmp_path, worker_concurrency=0)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c


async def test_repeated_and_duplicate_webhooks_make_one_review(
    client: httpx.AsyncClient, database: Database, db_url: str, tmp_path: Path
) -> None:
    """One delivery sent 5 times and 5 of one push: one push job, one review.

    The push job lists the pushed commits at run time and enqueues one job for
    the commit, so two jobs in all.
    """
    redelivered = [await deliver(client, push(), delivery_id="same") for _ in range(5)]
    distinct = [await deliver(client, push(), delivery_id=f"d-{n}") for n in range(5)]
    answers = {tuple(r.json()["job_ids"]) for r in [*redelivered, *distinct]}
    [job_ids] = answers
    # The rig's clock starts now, after the jobs were accepted: they are due.
    rig = Rig(database, make_settings(db_url, tmp_path, worker_poll_interval=0.02))

    async with rig.running():
        await rig.wait(job_ids[0], "succeeded")
        async with database.session() as session:
            commit_job_id = await session.scalar(
                select(ReviewJob.id).where(ReviewJob.kind == "review_commit")
            )
        assert commit_job_id is not None
        job = await rig.wait(commit_job_id, "succeeded")
    reviews = await rig.reviews()
    async with database.session() as session:
        jobs = await session.scalar(select(func.count()).select_from(ReviewJob))
        rows = await session.scalar(select(func.count()).select_from(WebhookDelivery))

    assert {r.status_code for r in [*redelivered, *distinct]} == {202}
    assert (jobs, rows) == (2, 6)
    assert [(r.commit_id, r.job_id) for r in reviews] == [(SHA, job.id)]
    assert rig.reviewer.titles == [f"commit {SHA}"]
    assert len(rig.notifier.delivered) == 1
    [publication] = rig.githost.publications
    assert publication.review_id == reviews[0].id
    assert [(f.path, f.line, f.title) for f in publication.findings] == [
        ("app.py", 2, "eval")
    ]

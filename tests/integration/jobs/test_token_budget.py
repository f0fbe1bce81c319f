"""LLM_DAILY_TOKEN_BUDGET stops a project's model calls once its day is spent."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.jobs.budget import tokens_spent_today
from tests.conftest import ReviewFactory, make_settings
from tests.integration.jobs.test_worker import Rig, diff_job


@pytest.fixture
def rig(database: Database, db_url: str, tmp_path: Path) -> Rig:
    """Return a worker rig whose pipeline allows 1000 tokens a project a day."""
    settings = make_settings(db_url, tmp_path, worker_poll_interval=0.02)
    made = Rig(database, settings)
    made.pipeline.daily_token_budget = 1000
    return made


async def test_spent_project_fails_at_llm_review_without_a_model_call(
    rig: Rig, make_review: ReviewFactory
) -> None:
    """A project past its budget gets a failed job and a failure log, no model call."""
    await make_review(
        created_at=rig.clock.now(), prompt_tokens=900, completion_tokens=150
    )

    async with rig.running():
        job_id = await rig.enqueue(diff_job())
        job = await rig.wait(job_id, "failed")
    [failure] = await rig.failures()

    assert job.attempts == 1
    assert rig.reviewer.calls == 0
    assert (failure.failure_stage, failure.error_type) == (
        "llm_review",
        "BudgetExhausted",
    )
    assert "1050 of its 1000" in (failure.error_message or "")


async def test_other_projects_and_yesterday_do_not_count(
    rig: Rig, make_review: ReviewFactory, database: Database
) -> None:
    """Only today's reviews of the same project count against its budget."""
    yesterday = rig.clock.now() - timedelta(days=1)
    await make_review(created_at=yesterday, prompt_tokens=5000, completion_tokens=0)
    await make_review(project_key="OTHER", prompt_tokens=5000, completion_tokens=0)
    await make_review(created_at=rig.clock.now(), prompt_tokens=None)

    async with rig.running():
        job = await rig.wait(await rig.enqueue(diff_job()), "succeeded")

    assert job.review_id is not None
    assert rig.reviewer.calls == 1
    assert await tokens_spent_today(database, "PROJ", rig.clock.now()) == 0

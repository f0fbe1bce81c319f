"""Assemble what the pipeline talks to from the settings."""

from __future__ import annotations

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.jobs.clock import Clock, SystemClock
from ai_code_reviewer.api.jobs.pipeline import Pipeline, Services
from ai_code_reviewer.api.jobs.worker import Worker
from ai_code_reviewer.llm.builtin import BuiltinReviewer
from ai_code_reviewer.notify.factory import build_notifier
from ai_code_reviewer.settings import Settings


def build_services(settings: Settings) -> Services:
    """Return the reviewer, notifier and Git hosts the settings describe.

    This release reviews with the built-in offline reviewer, writes emails to
    the outbox folder, and knows no Git host client yet (commit and pull
    request jobs fail at fetch_diff with a ConfigError saying so).
    """
    return Services(
        reviewer=BuiltinReviewer(),
        notifier=build_notifier(settings),
        githosts={},
    )


def build_worker(
    database: Database,
    settings: Settings,
    services: Services | None = None,
    clock: Clock | None = None,
) -> Worker:
    """Return a worker running the pipeline on ``database``."""
    chosen_clock = clock or SystemClock()
    pipeline = Pipeline(
        database,
        services or build_services(settings),
        chosen_clock,
        daily_token_budget=settings.llm_daily_token_budget,
    )
    return Worker(database, pipeline, settings, clock=chosen_clock)

"""Assemble what the pipeline talks to from the settings, and close it after."""

from __future__ import annotations

import contextlib
import logging

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.jobs.clock import Clock, SystemClock
from ai_code_reviewer.api.jobs.pipeline import Pipeline, Services
from ai_code_reviewer.api.jobs.worker import Worker
from ai_code_reviewer.githost.base import GitHost
from ai_code_reviewer.githost.bitbucket import build_bitbucket_client
from ai_code_reviewer.githost.github import build_github_client
from ai_code_reviewer.githost.gitlab import build_gitlab_client
from ai_code_reviewer.llm.factory import build_reviewer
from ai_code_reviewer.notify.factory import build_notifier
from ai_code_reviewer.settings import Settings

logger = logging.getLogger(__name__)


def build_services(settings: Settings) -> Services:
    """Return the reviewer, notifier and Git hosts the settings describe.

    A Git host that is not configured is absent: its jobs fail at fetch_diff
    with a ConfigError naming it.

    Raises:
        ConfigError: a setting of the model, the mail server or a Git host
            is missing or wrong (checked here, at start, not at the first job).
    """
    return Services(
        reviewer=build_reviewer(settings),
        notifier=build_notifier(settings),
        githosts=build_githosts(settings),
    )


def build_githosts(settings: Settings) -> dict[str, GitHost]:
    """Return a client for each Git host the settings configure, by host name."""
    hosts: dict[str, GitHost] = {}
    builders = {
        "bitbucket": build_bitbucket_client,
        "github": build_github_client,
        "gitlab": build_gitlab_client,
    }
    for name, build in builders.items():
        if (client := build(settings)) is not None:
            hosts[name] = client
    return hosts


async def close_services(services: Services) -> None:
    """Close the connections of the reviewer and the Git host clients."""
    for component in (services.reviewer, *services.githosts.values()):
        close = getattr(component, "aclose", None)
        if close is None:
            continue
        # Shutting down: a connection that fails to close loses nothing.
        with contextlib.suppress(OSError):
            await close()
    logger.info("services.closed", extra={"githosts": len(services.githosts)})


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
        max_commits_per_push=settings.max_commits_per_push,
    )
    return Worker(database, pipeline, settings, clock=chosen_clock)

"""Turn a push into the reviews of the commits it added.

A webhook answers before anything is asked of the Git host, so a push
becomes one ``expand_push`` job. When it runs, the host lists the commits the
push added (merges left out; for a new branch, those not on the default
branch), at most MAX_COMMITS_PER_PUSH of them. Each becomes a
``review_commit`` job under the usual commit key, so a commit pushed to two
branches is reviewed once; when the host left commits out, one
``review_range`` job reviews them together (see :func:`rest_of_push`), so
nothing pushed goes unreviewed. The jobs are enqueued in one transaction
fenced by the expand job's lease.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ai_code_reviewer.api.db.database import Database
from ai_code_reviewer.api.jobs import queue, specs
from ai_code_reviewer.api.jobs.clock import Clock
from ai_code_reviewer.githost.base import ZERO_HASH, GitHost, PushedCommits
from ai_code_reviewer.settings import Settings

logger = logging.getLogger(__name__)

# A new branch's old head, in every Git host's push payload.
DEFAULT_MAX_COMMITS = int(Settings.model_fields["max_commits_per_push"].default)


def rest_of_push(
    payload: Mapping[str, Any], pushed: PushedCommits
) -> tuple[str, str] | None:
    """Return (since, until) of the commits the host left out, or None.

    A host that kept the oldest commits left out the newer ones: from the
    last listed commit to the push's head. One that kept the newest left out
    the older ones: from the push's old head to the first listed commit's
    parent, unknown for a new branch (None then).
    """
    if not pushed.more or not pushed.commits:
        return None
    head = str(payload["commit_id"])
    oldest, newest = pushed.commits[0], pushed.commits[-1]
    if newest.id != head:
        return newest.id, head
    since = payload.get("since_commit")
    if not since or since == ZERO_HASH or not oldest.parents:
        return None
    return str(since), oldest.parents[0]


def jobs_of_push(
    payload: Mapping[str, Any], pushed: PushedCommits, max_attempts: int
) -> list[queue.JobSpec]:
    """Return the review jobs of the commits a push added."""
    where: dict[str, Any] = {
        "host": str(payload["host"]),
        "project_key": str(payload["project_key"]),
        "repo_slug": str(payload["repo_slug"]),
        "max_attempts": max_attempts,
        "event_key": payload.get("event_key"),
    }
    jobs = [specs.commit_job(commit_id=c.id, **where) for c in pushed.commits]
    rest = rest_of_push(payload, pushed)
    if rest is not None:
        since, until = rest
        jobs.append(specs.range_job(since_commit=since, until_commit=until, **where))
    return jobs


async def expand_push(
    database: Database,
    host: GitHost,
    job: queue.ClaimedJob,
    clock: Clock,
    max_commits: int = DEFAULT_MAX_COMMITS,
) -> list[int]:
    """List the commits an ``expand_push`` job's push added; enqueue their reviews.

    Returns the ids of the review jobs (existing ones included, when another
    push or branch already asked for the same commit).
    """
    payload = job.payload
    pushed = await host.list_pushed_commits(
        str(payload["project_key"]),
        str(payload["repo_slug"]),
        payload.get("since_commit"),
        str(payload["commit_id"]),
        max_commits,
    )
    jobs = jobs_of_push(payload, pushed, job.max_attempts)
    if pushed.more and rest_of_push(payload, pushed) is None:
        logger.warning(
            "push.rest_unreviewed",
            extra={"job_id": job.id, "ref": payload.get("ref"), "listed": len(jobs)},
        )
    async with database.session() as session:
        now = clock.now()
        await queue.hold(session, job, now)
        enqueued = [await queue.enqueue(session, spec, now) for spec in jobs]
        await session.commit()
    logger.info(
        "push.expanded",
        extra={
            "job_id": job.id,
            "ref": payload.get("ref"),
            "commits": len(pushed.commits),
            "more": pushed.more,
            "job_ids": [job_id for job_id, _made in enqueued],
            "new_job_ids": [job_id for job_id, made in enqueued if made],
        },
    )
    return [job_id for job_id, _made in enqueued]

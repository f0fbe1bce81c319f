"""Receive GitHub and GitLab webhooks and turn them into review jobs.

The same rules as Bitbucket's receiver: every delivery is recorded, the
answer comes after the delivery and its jobs are committed, a bad delivery
is refused with a reason and makes no job.

- GitHub ("Validating webhook deliveries", docs.github.com):
  ``X-Hub-Signature-256: sha256=<hex>``, an HMAC-SHA256 of the raw body with
  GITHUB_WEBHOOK_SECRET (else WEBHOOK_SECRET); ``X-GitHub-Event`` and the
  delivery id ``X-GitHub-Delivery``. ``ping`` is answered 200.
- GitLab ("Webhooks", docs.gitlab.com): ``X-Gitlab-Token`` carries the secret
  token itself (GITLAB_WEBHOOK_TOKEN, else WEBHOOK_SECRET); ``X-Gitlab-Event``;
  the delivery id is ``Idempotency-Key`` (the same on a retry) or else
  ``X-Gitlab-Event-UUID``.

As for Bitbucket, nothing here asks the Git host anything: a branch push
becomes one ``expand_push`` job that lists the commits the push added when
it runs, merges left out, and reviews past MAX_COMMITS_PER_PUSH as one range.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from ai_code_reviewer.api.bodies import (
    check_hmac_signature,
    parse_json_object,
    read_limited,
)
from ai_code_reviewer.api.deps import SessionDep, SettingsDep
from ai_code_reviewer.api.jobs import intake, specs
from ai_code_reviewer.api.jobs.queue import JobSpec
from ai_code_reviewer.errors import InvalidRequest, PayloadTooLarge, Unauthorized
from ai_code_reviewer.githost.github_events import (
    PING,
    Ask,
    EventFilter,
    PayloadError,
    PushAsk,
    Reading,
    github_reading,
)
from ai_code_reviewer.githost.gitlab_events import gitlab_reading
from ai_code_reviewer.settings import Settings

router = APIRouter(tags=["webhooks"])

GITHUB_SIGNATURE = "X-Hub-Signature-256"
GITLAB_TOKEN = "X-Gitlab-Token"  # noqa: S105  # a header's name, not a secret

Reader = Callable[[str, Mapping[str, Any], EventFilter], Reading]


@dataclass(frozen=True)
class Delivery:
    """A delivery as received: its host, event, id and raw body."""

    host: str
    event: str | None
    delivery_id: str | None
    body: bytes | None

    def incoming(self) -> intake.Incoming:
        """Describe the delivery for the intake record."""
        digest = None if self.body is None else hashlib.sha256(self.body).hexdigest()
        return intake.Incoming(
            host=self.host,
            delivery_id=self.delivery_id[:255] if self.delivery_id else None,
            event_key=self.event[:100] if self.event else None,
            body_sha256=digest,
        )


def secret_of(specific: SecretStr | None, fallback: SecretStr | None) -> bytes | None:
    """Return the host's own secret, else the shared WEBHOOK_SECRET, as bytes."""
    chosen = specific if specific is not None else fallback
    return chosen.get_secret_value().encode() if chosen is not None else None


def check_gitlab_token(secret: bytes | None, header: str | None) -> None:
    """Raise Unauthorized unless ``header`` is the webhook's secret token."""
    if secret is None:
        return
    if not header:
        raise Unauthorized(f"the delivery has no {GITLAB_TOKEN} header")
    if not hmac.compare_digest(secret, header.encode()):
        raise Unauthorized(f"{GITLAB_TOKEN} is not the webhook's secret token")


def event_filter(settings: Settings) -> EventFilter:
    """Return the delivery filters the settings ask for."""
    return EventFilter(
        branch_globs=settings.branch_globs,
        project_keys=settings.project_keys,
        drafts=settings.review_drafts,
    )


def job_for(ask: Ask, host: str, event: str, settings: Settings) -> JobSpec:
    """Describe the job that does what a delivery asked for."""
    common: dict[str, Any] = {
        "host": host,
        "project_key": ask.project_key,
        "repo_slug": ask.repo_slug,
        "max_attempts": settings.job_max_attempts,
        "event_key": event,
    }
    if isinstance(ask, PushAsk):
        spec = specs.push_job(
            ref=ask.ref, from_hash=ask.before, to_hash=ask.after, **common
        )
    elif ask.pr_id is None:
        spec = specs.commit_job(commit_id=ask.commit_id, **common)
    else:
        spec = specs.pull_request_job(
            pr_id=ask.pr_id,
            source_commit=ask.commit_id,
            since_commit=ask.since_commit,
            **common,
        )
    if ask.project_id is not None:
        spec.payload["project_id"] = ask.project_id
    return spec


async def read_body(
    request: Request, session: AsyncSession, settings: Settings, delivery: Delivery
) -> bytes:
    """Return the body within WEBHOOK_MAX_BYTES; record a refusal when it is over."""
    try:
        return await read_limited(request, settings.webhook_max_bytes, "webhook body")
    except PayloadTooLarge as exc:
        await intake.accept(
            session, delivery.incoming(), [], outcome=intake.REJECTED, reason=str(exc)
        )
        raise


def read_delivery(
    delivery: Delivery, settings: Settings, reader: Reader
) -> tuple[str, Reading]:
    """Return the event and what it asks for; InvalidRequest for a bad delivery."""
    if not delivery.event:
        raise InvalidRequest(f"the delivery names no event ({delivery.host})")
    payload = parse_json_object(delivery.body or b"")
    try:
        return delivery.event, reader(delivery.event, payload, event_filter(settings))
    except PayloadError as exc:
        raise InvalidRequest(f"{delivery.event}: {exc}") from None


async def enqueue_reading(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    delivery: Delivery,
    reader: Reader,
) -> JSONResponse:
    """Record the delivery and enqueue its jobs; answer 202 with their ids."""
    event, reading = read_delivery(delivery, settings, reader)
    jobs = [job_for(ask, delivery.host, event, settings) for ask in reading.asks]
    accepted = await intake.accept(
        session, delivery.incoming(), jobs, reason=reading.reason
    )
    wake = getattr(request.app.state, "wake_worker", None)
    if callable(wake):
        wake()
    answer = {
        "outcome": accepted.outcome,
        "job_ids": accepted.job_ids,
        "reason": accepted.reason,
    }
    return JSONResponse(answer, status_code=202)


async def refuse(session: AsyncSession, delivery: Delivery, exc: Exception) -> None:
    """Record a refused delivery with the reason it is given."""
    await intake.accept(
        session, delivery.incoming(), [], outcome=intake.REJECTED, reason=str(exc)
    )


@router.post("/api/webhooks/github", status_code=202)
async def github_webhook(
    request: Request, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    """Record a GitHub delivery and enqueue the reviews it asks for."""
    headers = request.headers
    delivery = Delivery(
        "github", headers.get("X-GitHub-Event"), headers.get("X-GitHub-Delivery"), None
    )
    body = await read_body(request, session, settings, delivery)
    delivery = Delivery(delivery.host, delivery.event, delivery.delivery_id, body)
    secret = secret_of(settings.github_webhook_secret, settings.webhook_secret)
    try:
        check_hmac_signature(
            secret, body, headers.get(GITHUB_SIGNATURE), GITHUB_SIGNATURE
        )
        if delivery.event == PING:
            parse_json_object(body)
            await intake.accept(session, delivery.incoming(), [], reason="ping")
            return JSONResponse({"status": "ok"}, status_code=200)
        return await enqueue_reading(
            request, session, settings, delivery, github_reading
        )
    except InvalidRequest as exc:
        await refuse(session, delivery, exc)
        raise


@router.post("/api/webhooks/gitlab", status_code=202)
async def gitlab_webhook(
    request: Request, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    """Record a GitLab delivery and enqueue the reviews it asks for."""
    headers = request.headers
    delivery_id = headers.get("Idempotency-Key") or headers.get("X-Gitlab-Event-UUID")
    delivery = Delivery("gitlab", headers.get("X-Gitlab-Event"), delivery_id, None)
    body = await read_body(request, session, settings, delivery)
    delivery = Delivery(delivery.host, delivery.event, delivery.delivery_id, body)
    secret = secret_of(settings.gitlab_webhook_token, settings.webhook_secret)
    try:
        check_gitlab_token(secret, headers.get(GITLAB_TOKEN))
        return await enqueue_reading(
            request, session, settings, delivery, gitlab_reading
        )
    except InvalidRequest as exc:
        await refuse(session, delivery, exc)
        raise

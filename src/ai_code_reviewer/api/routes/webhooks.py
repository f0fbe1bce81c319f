"""Receive Bitbucket Data Center webhooks and turn them into review jobs.

Every delivery is recorded; the answer comes after the delivery and its jobs
are committed. Signatures: ``X-Hub-Signature: sha256=<hex>``, an HMAC-SHA256
of the raw body with the webhook secret (Atlassian, "Manage webhooks",
Bitbucket Data Center 9.x). The "Test connection" button sends the unsigned
event ``diagnostics:ping`` with the body ``{"test": true}``.

Nothing here asks the Git host anything: a push becomes one ``expand_push``
job that lists the pushed commits when it runs. A delivery that asks for no
review is answered 202 "ignored" with the reason (a filter, a draft, a tag).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
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
from ai_code_reviewer.githost.bitbucket_events import (
    PING,
    Ask,
    EventRules,
    PayloadError,
    PushAsk,
    Verdict,
    review_verdict,
)
from ai_code_reviewer.settings import Settings

router = APIRouter(tags=["webhooks"])

HOST = "bitbucket"
SIGNATURE_HEADER = "X-Hub-Signature"


def is_test_ping(event_key: str | None, body: bytes) -> bool:
    """Tell whether this is Bitbucket's unsigned "Test connection" delivery."""
    if event_key != PING:
        return False
    try:
        return bool(json.loads(body) == {"test": True})
    except ValueError:
        return False


def job_for(ask: Ask, event_key: str, settings: Settings) -> JobSpec:
    """Describe the job that does one review a delivery asked for."""
    common: dict[str, Any] = {
        "host": HOST,
        "project_key": ask.project_key,
        "repo_slug": ask.repo_slug,
        "max_attempts": settings.job_max_attempts,
        "event_key": event_key,
    }
    if isinstance(ask, PushAsk):
        return specs.push_job(
            ref=ask.ref, from_hash=ask.from_hash, to_hash=ask.to_hash, **common
        )
    if ask.pr_id is None:
        return specs.commit_job(commit_id=ask.commit_id, **common)
    return specs.pull_request_job(
        pr_id=ask.pr_id,
        source_commit=ask.commit_id,
        since_commit=ask.since_commit,
        variant=ask.variant,
        **common,
    )


def verdict_of(
    settings: Settings, body: bytes, header: str | None, event_key: str | None
) -> tuple[str, Verdict]:
    """Check and read a delivery; return its event key and what it asks for.

    Raises:
        Unauthorized: the signature is missing or wrong.
        InvalidRequest: the body is not a JSON object, names no event, or
            lacks a field its event needs.
    """
    secret = settings.webhook_secret
    key = secret.get_secret_value().encode() if secret is not None else None
    check_hmac_signature(key, body, header, SIGNATURE_HEADER)
    payload = parse_json_object(body)
    event_key = event_key or str(payload.get("eventKey") or "") or None
    if event_key is None:
        raise InvalidRequest("no X-Event-Key header and no eventKey in the body")
    try:
        verdict = review_verdict(event_key, payload, EventRules.from_settings(settings))
    except PayloadError as exc:
        raise InvalidRequest(f"{event_key}: {exc}") from None
    return event_key, verdict


def incoming_of(
    request: Request, body: bytes | None, event_key: str | None
) -> intake.Incoming:
    """Describe the delivery from its headers and body."""
    delivery_id = request.headers.get("X-Request-Id")
    return intake.Incoming(
        host=HOST,
        delivery_id=delivery_id[:255] if delivery_id else None,
        event_key=event_key[:100] if event_key else None,
        body_sha256=None if body is None else hashlib.sha256(body).hexdigest(),
    )


async def record_refusal(
    session: AsyncSession, incoming: intake.Incoming, reason: str
) -> None:
    """Record a delivery that is refused, with the reason it is given."""
    await intake.accept(session, incoming, [], outcome=intake.REJECTED, reason=reason)


@router.post("/api/webhooks/bitbucket", status_code=202)
@router.post("/webhook/code-review", status_code=202, include_in_schema=False)
async def bitbucket_webhook(
    request: Request, session: SessionDep, settings: SettingsDep
) -> JSONResponse:
    """Record a Bitbucket delivery and enqueue the reviews it asks for."""
    event_key = request.headers.get("X-Event-Key")
    try:
        body = await read_limited(request, settings.webhook_max_bytes, "webhook body")
    except PayloadTooLarge as exc:
        await record_refusal(session, incoming_of(request, None, event_key), str(exc))
        raise
    incoming = incoming_of(request, body, event_key)
    if is_test_ping(event_key, body):
        await intake.accept(session, incoming, [], reason="test connection")
        return JSONResponse({"status": "ok"}, status_code=200)
    signature = request.headers.get(SIGNATURE_HEADER)
    try:
        event_key, verdict = verdict_of(settings, body, signature, event_key)
    except (InvalidRequest, Unauthorized) as exc:
        await record_refusal(session, incoming, str(exc))
        raise
    jobs = [job_for(ask, event_key, settings) for ask in verdict.asks]
    reason = None if jobs else verdict.reason
    accepted = await intake.accept(session, incoming, jobs, reason=reason)
    wake = getattr(request.app.state, "wake_worker", None)
    if callable(wake):
        wake()
    return JSONResponse(
        {
            "outcome": accepted.outcome,
            "job_ids": accepted.job_ids,
            "reason": accepted.reason,
        },
        status_code=202,
    )

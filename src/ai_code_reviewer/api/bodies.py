"""Read request bodies: within their limit, as JSON objects, signed or not."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from fastapi import Request

from ai_code_reviewer.errors import InvalidRequest, PayloadTooLarge, Unauthorized


async def read_limited(request: Request, limit: int, what: str = "body") -> bytes:
    """Return the request body; raise PayloadTooLarge as soon as it passes ``limit``.

    A Content-Length over the limit is refused before anything is read; a body
    without one (chunked) is counted while it streams.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the {what} is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the {what} is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json_object(body: bytes) -> Mapping[str, Any]:
    """Return the body's JSON object; InvalidRequest when it is not one."""
    try:
        parsed = json.loads(body)
    except ValueError as exc:
        raise InvalidRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidRequest("the body must be a JSON object")
    return parsed


def check_hmac_signature(
    secret: bytes | None, body: bytes, value: str | None, header: str
) -> None:
    """Raise Unauthorized unless ``value`` (``sha256=<hex>``) signs ``body``.

    Bitbucket (``X-Hub-Signature``) and GitHub (``X-Hub-Signature-256``) both
    send the HMAC-SHA256 of the raw body in this form; with no secret set,
    nothing is checked. The comparison takes constant time.
    """
    if secret is None:
        return
    if not value:
        raise Unauthorized(f"the delivery has no {header} header")
    scheme, _, given = value.partition("=")
    if scheme != "sha256":
        raise Unauthorized(f"{header} must be sha256=<hex>")
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given.strip().lower()):
        raise Unauthorized(f"{header} does not match the body")

"""Read request bodies without ever holding more than their limit."""

from __future__ import annotations

from fastapi import Request

from ai_code_reviewer.errors import PayloadTooLarge


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

"""HTTP plumbing every Git host client shares: errors, TLS, Retry-After, paging.

A host client sends its requests through :class:`HostHttp`, which turns every
failure into one of the project's exceptions:

    GitHostError                    401/403 (the token), or TLS not trusted
     ├── NotFound                   404, naming what was asked for
     ├── RateLimited                429, with the Retry-After wait (also transient)
     └── HostStatusError            any other 4xx, with its ``status``
          └── HostConflict          409: a stale version, a comment out of date
    TransientError                  5xx, 408, timeouts, refused connections

The token is never part of a message: the server's own words are quoted with
the token blotted out, and a refusal only names the setting to check.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ai_code_reviewer import __version__
from ai_code_reviewer.errors import (
    ConfigError,
    GitHostError,
    NotFound,
    RateLimited,
    TransientError,
)
from ai_code_reviewer.quoting import quote_message

logger = logging.getLogger(__name__)

USER_AGENT = f"ai-code-reviewer/{__version__}"
# Pages read of one list at most; a longer list is cut and the caller told so.
MAX_PAGES = 50
PAGE_LIMIT = 100


class HostStatusError(GitHostError):
    """The host refused a request with a client error other than 401, 403, 404, 429."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class HostConflict(HostStatusError):
    """The host answered 409: what was sent is out of date (a comment's version)."""


@dataclass(frozen=True)
class Page:
    """One page of a paged list, and whether the host said it was the last."""

    values: list[Any]
    last: bool


@dataclass(frozen=True)
class HostIdentity:
    """How a host is named in messages, and the credential to keep out of them."""

    name: str
    token_setting: str
    secret: str | None = None


def tls_verify(
    verify: bool, ca_bundle: Path | None, setting: str
) -> ssl.SSLContext | bool:
    """Return how the host's certificate is checked.

    Raises:
        ConfigError: ``ca_bundle`` is not a readable PEM file.
    """
    if not verify:
        return False
    if ca_bundle is None:
        return True
    try:
        return ssl.create_default_context(cafile=str(ca_bundle))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"{setting} must name a readable PEM file of CA certificates; "
            f"{ca_bundle} cannot be used ({type(exc).__name__})."
        ) from None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Return the wait a 429 asks for, from Retry-After (RFC 9110, 10.2.3).

    The header holds either a number of seconds or an HTTP date.
    """
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def server_message(body: str, secret: str | None = None) -> str:
    """Return the readable message of an error body, on one line, trimmed."""
    return quote_message(_envelope_message(body) or body, secret)


def _envelope_message(body: str) -> str | None:
    """Join the messages of an ``{"errors": [{"message"}]}`` or ``{"message"}`` body."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    errors = data.get("errors")
    if isinstance(errors, list):
        found = [
            e["message"] for e in errors if isinstance(e, dict) and e.get("message")
        ]
        return " ".join(str(m) for m in found) or None
    message = data.get("message")
    return message if isinstance(message, str) else None


def status_error(response: httpx.Response, host: HostIdentity, what: str) -> Exception:
    """Return the exception of an error answer about ``what``."""
    status = response.status_code
    message = server_message(response.text, host.secret)
    if status in (401, 403):
        return GitHostError(
            f"{host.name} refused the token (HTTP {status}) on {what}: "
            f"{message} Check {host.token_setting} and its permissions."
        )
    if status == 404:
        return NotFound(f"{host.name} answered 404 for {what}: {message}")
    if status == 429:
        wait = retry_after_seconds(response.headers)
        return RateLimited(
            f"{host.name} is rate limiting (HTTP 429) on {what}: {message}", wait
        )
    if status == 408 or status >= 500:
        return TransientError(
            f"{host.name} failed (HTTP {status}) on {what}: {message}"
        )
    kind = HostConflict if status == 409 else HostStatusError
    return kind(f"{host.name} refused {what} (HTTP {status}): {message}", status)


def transport_error(
    exc: httpx.TransportError, host: HostIdentity, what: str
) -> Exception:
    """Return the exception of a request about ``what`` that got no answer."""
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(f"{host.name} did not answer in time on {what}.")
    if _is_certificate_error(exc):
        return GitHostError(
            f"{host.name}'s TLS certificate is not trusted; name its CA in the CA "
            "bundle setting, or turn TLS verification off."
        )
    return TransientError(
        f"could not reach {host.name} for {what} ({type(exc).__name__})."
    )


def _is_certificate_error(exc: BaseException) -> bool:
    """Tell whether a TLS certificate check is the cause of ``exc``."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


class HostHttp:
    """Send a host's requests and map every failure to the project's exceptions."""

    def __init__(self, client: httpx.AsyncClient, host: HostIdentity) -> None:
        self.client = client
        self.host = host

    async def request(
        self, method: str, url: str, *, what: str, **kwargs: Any
    ) -> httpx.Response:
        """Send one request and return its successful answer.

        Raises:
            GitHostError: the host refused (see the module's exception tree).
            TransientError: the host failed or could not be reached.
        """
        started = time.monotonic()
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            raise transport_error(exc, self.host, what) from None
        logger.debug(
            "githost.request",
            extra={
                "host": self.host.name,
                "method": method,
                "path": response.request.url.path,
                "status": response.status_code,
                "duration_ms": round((time.monotonic() - started) * 1000),
            },
        )
        if response.is_error:
            raise status_error(response, self.host, what)
        return response

    async def json(self, method: str, url: str, *, what: str, **kwargs: Any) -> Any:
        """Send one request and return its decoded JSON answer.

        Raises:
            GitHostError: also when the answer is not JSON.
        """
        response = await self.request(method, url, what=what, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise GitHostError(
                f"{self.host.name} answered {what} with something that is not JSON."
            ) from None

    async def pages(
        self,
        url: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        max_pages: int = MAX_PAGES,
    ) -> AsyncIterator[Page]:
        """Yield each page of a Bitbucket-style paged list.

        Pages are asked with ``start`` and ``limit``, and followed through
        ``nextPageStart`` until ``isLastPage``; after ``max_pages`` pages the
        list is cut (the last page yielded is then not ``last``), with a
        warning in the log.
        """
        start = 0
        for _ in range(max_pages):
            query = {**(params or {}), "start": str(start), "limit": str(PAGE_LIMIT)}
            page = await self.json("GET", url, what=what, params=query)
            values = _page_values(page, self.host, what)
            next_start = page.get("nextPageStart")
            last = page.get("isLastPage") is not False or not isinstance(
                next_start, int
            )
            yield Page(values, last)
            if last:
                return
            start = next_start
        logger.warning(
            "githost.paging_capped",
            extra={"host": self.host.name, "what": what, "pages": max_pages},
        )


def _page_values(page: Any, host: HostIdentity, what: str) -> list[Any]:
    """Return the ``values`` of one page, or refuse a body that is not a page."""
    values = page.get("values") if isinstance(page, dict) else None
    if not isinstance(values, list):
        raise GitHostError(
            f"{host.name} answered {what} with a body that is not a page."
        )
    return values


def quota_wait(headers: Mapping[str, str]) -> float | None:
    """Return the wait an exhausted rate limit asks for, or None if it is not one.

    GitHub answers 403 or 429 to a request over its limits ("Rate limits for
    the REST API", docs.github.com): with ``retry-after`` for a secondary
    limit, or with ``x-ratelimit-remaining: 0`` and ``x-ratelimit-reset``
    (epoch seconds) for the primary one.
    """
    wait = retry_after_seconds(headers)
    if wait is not None:
        return wait
    if headers.get("x-ratelimit-remaining") != "0":
        return None
    try:
        reset = float(headers.get("x-ratelimit-reset", ""))
    except ValueError:
        return 60.0
    return max(reset - time.time(), 0.0)


async def linked_pages(
    http: HostHttp,
    url: str,
    *,
    what: str,
    params: Mapping[str, str] | None = None,
    key: str | None = None,
    max_pages: int = MAX_PAGES,
) -> AsyncIterator[Page]:
    """Yield each page of a GitHub- or GitLab-style paged list.

    The first page is asked with ``per_page``; the next ones through the
    ``Link: <...>; rel="next"`` header (RFC 8288), or GitLab's ``X-Next-Page``
    when there is no Link. A next link to another server than the client's
    is not followed: the token must not travel there. ``key`` names the list
    in an object answer (GitHub's compare: ``commits``). After ``max_pages``
    pages the list is cut, with a warning in the log.
    """
    first: dict[str, str] = {**(params or {}), "per_page": str(PAGE_LIMIT)}
    query: dict[str, str] | None = first
    page_url = url
    for _ in range(max_pages):
        response = await http.request("GET", page_url, what=what, params=query)
        values = _linked_values(response, http.host, what, key)
        following, query = _next_page(http, response, url, first)
        yield Page(values, following is None)
        if following is None:
            return
        page_url = following
    logger.warning(
        "githost.paging_capped",
        extra={"host": http.host.name, "what": what, "pages": max_pages},
    )


def _linked_values(
    response: httpx.Response, host: HostIdentity, what: str, key: str | None
) -> list[Any]:
    """Return the items of one page: the body itself, or its ``key`` list."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if key is not None and isinstance(body, dict):
        body = body.get(key)
    if not isinstance(body, list):
        raise GitHostError(
            f"{host.name} answered {what} with a body that is not a list."
        )
    return body


def _next_page(
    http: HostHttp, response: httpx.Response, url: str, first: dict[str, str]
) -> tuple[str | None, dict[str, str] | None]:
    """Return the address and query of the next page, or None after the last.

    A Link is followed as it is: its query must not be replaced (httpx drops
    a URL's own query when ``params`` are given, even empty ones).
    """
    link = response.links.get("next", {}).get("url")
    if link:
        target = httpx.URL(link)
        base = http.client.base_url
        if (target.scheme, target.host, target.port) != (
            base.scheme,
            base.host,
            base.port,
        ):
            logger.warning(
                "githost.foreign_next_page",
                extra={"host": http.host.name, "next_host": target.host},
            )
            return None, None
        return link, None
    page = response.headers.get("x-next-page", "").strip()
    if page.isdigit():
        return url, {**first, "page": page}
    return None, None


def check_http_url(url: str, setting: str) -> None:
    """Raise ConfigError unless ``url`` is an http(s) address; name ``setting``."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError(f"{setting} must start with http:// or https://.")

"""Fixtures of the SMTP tests: real aiosmtpd servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.smtpserver import Authority, SmtpServer, make_authority, serving, serving_tls


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Yield a plain SMTP server: no TLS, no AUTH."""
    with serving() as server:
        yield server


@pytest.fixture
def authority(tmp_path: Path) -> Authority:
    """Return a throwaway CA whose certificate file the client may trust."""
    return make_authority(tmp_path)


@pytest.fixture
def tls_smtp_server(authority: Authority) -> Iterator[SmtpServer]:
    """Yield a server that requires STARTTLS and then AUTH."""
    with serving_tls(authority) as server:
        yield server

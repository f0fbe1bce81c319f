"""A real SMTP server on loopback (aiosmtpd) that records what it accepted.

:class:`SmtpServer` runs aiosmtpd's Controller in a background thread on a
fixed port of 127.0.0.1, so that it can be stopped and started again on the
same port (a server down for a while). Its :class:`RecordingHandler` keeps
each accepted message's envelope and bytes, and refuses on command: a reply
for given recipients (``refuse``), or replies to DATA, one per message
(``data_replies``). The TLS variant requires STARTTLS and AUTH over it, with
a certificate from a throwaway CA made by trustme.
"""

from __future__ import annotations

import contextlib
import email
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
USERNAME = "reviewer"
PASSWORD = "s3cret-smtp-pass"


@dataclass(frozen=True)
class Received:
    """One message the server accepted: its envelope and its bytes."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes

    def parsed(self) -> EmailMessage:
        """Parse the message the way a mail client would."""
        parsed = email.message_from_bytes(self.data, policy=default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class RecordingHandler:
    """Accept messages and record them, or refuse as told."""

    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    data_replies: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Refuse an address named in ``refuse``, accept any other."""
        reply = self.refuse.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        """Record the message, unless a scripted reply refuses it."""
        if self.data_replies:
            return self.data_replies.pop(0)
        content = envelope.original_content or b""
        sender = envelope.mail_from or ""
        self.received.append(Received(sender, tuple(envelope.rcpt_tos), content))
        return "250 2.0.0 Message accepted for delivery"


class SmtpServer:
    """An aiosmtpd server on one port of 127.0.0.1, to stop and start at will."""

    def __init__(self, port: int | None = None, **smtp_options: Any) -> None:
        self.port = port or free_port()
        self.handler = RecordingHandler()
        self.smtp_options = smtp_options
        self.controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        """Return the messages accepted so far."""
        return self.handler.received

    def start(self) -> None:
        """Listen on the port."""
        self.controller = Controller(
            self.handler, hostname=HOST, port=self.port, **self.smtp_options
        )
        self.controller.start()

    def stop(self) -> None:
        """Stop listening; connections are then refused."""
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@dataclass(frozen=True)
class Authority:
    """A throwaway CA, the PEM file of its certificate, and a server context."""

    ca_file: Path
    server_context: ssl.SSLContext


def free_port() -> int:
    """Return a port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


def make_authority(folder: Path) -> Authority:
    """Make a CA and a certificate for 127.0.0.1; write the CA's PEM into ``folder``."""
    ca = trustme.CA()
    ca_file = folder / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(context)
    return Authority(ca_file, context)


def check_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    """Accept USERNAME with PASSWORD, nobody else."""
    good = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USERNAME.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=good, handled=False)


@contextlib.contextmanager
def serving(**smtp_options: Any) -> Iterator[SmtpServer]:
    """Run a plain SMTP server (no TLS, no AUTH unless asked) for the block."""
    server = SmtpServer(**smtp_options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def serving_tls(authority: Authority) -> Iterator[SmtpServer]:
    """Run a server that requires STARTTLS, then AUTH, before any mail."""
    with serving(
        tls_context=authority.server_context,
        require_starttls=True,
        authenticator=check_login,
        auth_required=True,
        auth_require_tls=True,
    ) as server:
        yield server

"""Send review emails through an SMTP server with aiosmtplib, never blocking the loop.

A message counts as sent only once the server answered 250 to its DATA.
When the server takes the message for some recipients and refuses others,
the delivery names those it took and says which it refused; the message is
not sent again, since the others already have it.

Errors are sorted for the job's retry (RFC 5321 section 4.2.1): a 4xx reply,
a refused or dropped connection and a timeout may pass and are raised as
TransientError; a 5xx reply, a failed TLS handshake or certificate check, a
server without STARTTLS when it is required, or AUTH refused are raised as
EmailError, which fails the job at once.

:meth:`SmtpNotifier.check` walks the same road without sending: connect,
EHLO, STARTTLS and AUTH as configured, NOOP and QUIT; its errors are sorted
the same way.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses

import aiosmtplib

from ai_code_reviewer.errors import EmailError, ReviewerError, TransientError
from ai_code_reviewer.notify.base import Delivery, Message
from ai_code_reviewer.notify.message import EmailOptions, build_email
from ai_code_reviewer.settings import SmtpSecurity

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpConfig:
    """Where the mail server is and how to talk to it."""

    host: str
    port: int = 587
    security: SmtpSecurity = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    tls_context: ssl.SSLContext | None = field(default=None, repr=False)

    @property
    def server(self) -> str:
        """Name the server for messages: ``host:port``."""
        return f"{self.host}:{self.port}"


def make_tls_context(
    verify: bool = True, ca_bundle: str | None = None
) -> ssl.SSLContext:
    """Return a client TLS context: verifying against ``ca_bundle`` or the system's."""
    context = ssl.create_default_context(cafile=ca_bundle)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class SmtpNotifier:
    """Send each review email to its recipients through one SMTP server."""

    def __init__(
        self,
        config: SmtpConfig,
        options: EmailOptions | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.config = config
        self.options = options or EmailOptions()
        self.clock = clock

    async def deliver(self, message: Message) -> Delivery:
        """Send ``message``; skip it when it has no recipient.

        Raises:
            TransientError: a 4xx reply, a connection problem or a timeout.
            EmailError: a 5xx reply, or TLS or AUTH that cannot be done.
        """
        if not message.recipients:
            return Delivery(status="skipped", recipients=(), detail="no recipient")
        email = build_email(message, self.options, self.clock().astimezone(UTC))
        delivery = await self.deliver_email(email, (*message.recipients, *message.cc))
        logger.info(
            "email.sent",
            extra={
                "review_id": message.review_id,
                "recipients": len(delivery.recipients),
                "server": self.config.server,
            },
        )
        return delivery

    async def deliver_email(
        self, email: EmailMessage, recipients: tuple[str, ...]
    ) -> Delivery:
        """Send ``email`` as it is to ``recipients``; say what the server answered."""
        envelope = [bare_address(address) for address in recipients]
        try:
            refused, reply = await self._send(email, envelope)
        except (aiosmtplib.SMTPException, OSError, ValueError) as error:
            raise as_reviewer_error(error, self.config.server) from error
        accepted = tuple(
            address
            for address, bare in zip(recipients, envelope, strict=True)
            if bare not in refused
        )
        return Delivery("sent", accepted, describe_reply(reply, refused))

    async def check(self) -> str:
        """Say whether the server takes EHLO, STARTTLS and AUTH as configured.

        No message is sent.

        Raises:
            TransientError: a 4xx reply, a connection problem or a timeout.
            EmailError: a 5xx reply, or TLS or AUTH that cannot be done.
        """
        client = self._client()
        try:
            done = await self._greet(client)
            await client.noop()
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, ValueError) as error:
            raise as_reviewer_error(error, self.config.server) from error
        finally:
            client.close()
        passed = " and ".join(done)
        return f"{self.config.server} answered" + (f", {passed} ok" if done else "")

    def _client(self) -> aiosmtplib.SMTP:
        """Return an unconnected client; STARTTLS and AUTH are left to the caller."""
        config = self.config
        return aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            timeout=config.timeout,
            use_tls=config.security == "tls",
            start_tls=False,
            tls_context=self._tls_context(),
        )

    def _tls_context(self) -> ssl.SSLContext | None:
        """Return the configured TLS context, the system's by default; none in clear."""
        if self.config.security == "none":
            return None
        return self.config.tls_context or make_tls_context()

    async def _greet(self, client: aiosmtplib.SMTP) -> list[str]:
        """Connect and say EHLO, then STARTTLS and AUTH as configured; name them."""
        config = self.config
        done = ["TLS"] if config.security == "tls" else []
        await client.connect()
        await client.ehlo()
        if config.security == "starttls":
            await client.starttls()
            done.append("STARTTLS")
        if config.username:
            await client.login(config.username, config.password or "")
            done.append("AUTH")
        return done

    async def _send(
        self, email: EmailMessage, envelope: Sequence[str]
    ) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
        """Hand ``email`` to the server, in the configured security mode."""
        config = self.config
        return await aiosmtplib.send(
            email,
            sender=bare_address(self.options.sender),
            recipients=list(envelope),
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            timeout=config.timeout,
            use_tls=config.security == "tls",
            start_tls=config.security == "starttls",
            tls_context=self._tls_context(),
        )


def bare_address(text: str) -> str:
    """Return the address of ``Name <a@b>`` (or ``a@b``), as the envelope wants."""
    pairs = getaddresses([text])
    return pairs[0][1] if len(pairs) == 1 and pairs[0][1] else text.strip()


def describe_reply(reply: str, refused: dict[str, aiosmtplib.SMTPResponse]) -> str:
    """Say what the server answered, naming each refused recipient and why."""
    detail = f"250 {one_line(reply)}"
    if refused:
        each = ", ".join(
            f"{address} ({answer.code} {one_line(answer.message)})"
            for address, answer in refused.items()
        )
        detail += f"; refused: {each}"
    return detail


def as_reviewer_error(error: BaseException, server: str) -> ReviewerError:
    """Return the TransientError or EmailError that ``error`` from ``server`` is."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        return _recipients_refused(error, server)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        return _by_code(
            error.code, f"{server} answered {error.code} {one_line(error.message)}"
        )
    if _is_tls_failure(error):
        return EmailError(
            f"the TLS handshake with {server} failed: {_cause_text(error)}"
        )
    if isinstance(error, TimeoutError | ConnectionError | OSError):
        return TransientError(f"could not reach the mail server {server}: {error}")
    if isinstance(error, ValueError):
        return EmailError(f"an address cannot be sent to {server}: {error}")
    return EmailError(_refusal_text(error, server))


def _recipients_refused(
    error: aiosmtplib.SMTPRecipientsRefused, server: str
) -> ReviewerError:
    """Return a TransientError if any refusal was 4xx, else an EmailError."""
    each = ", ".join(
        f"{item.recipient} ({item.code} {one_line(item.message)})"
        for item in error.recipients
    )
    text = f"{server} refused every recipient: {each}"
    if any(400 <= item.code < 500 for item in error.recipients):
        return TransientError(text)
    return EmailError(text)


def _by_code(code: int, text: str) -> ReviewerError:
    """Return a TransientError for a 4xx reply, an EmailError for any other."""
    if 400 <= code < 500:
        return TransientError(text)
    return EmailError(text)


def _is_tls_failure(error: BaseException) -> bool:
    """Tell whether ``error`` or its cause is a failed TLS handshake."""
    return isinstance(error, ssl.SSLError) or isinstance(error.__cause__, ssl.SSLError)


def _cause_text(error: BaseException) -> str:
    cause = error if isinstance(error, ssl.SSLError) else error.__cause__
    return str(getattr(cause, "reason", None) or cause or error)


def _refusal_text(error: BaseException, server: str) -> str:
    """Explain an SMTP exchange that cannot go on, such as missing STARTTLS."""
    text = str(error)
    if "STARTTLS" in text.upper():
        return (
            f"the mail server {server} offers no STARTTLS; with SMTP_SECURITY=starttls "
            "no message is sent in clear"
        )
    return f"the mail server {server} cannot be used: {text}"


def one_line(text: str) -> str:
    """Return the server's text on one line."""
    return " ".join(text.split())

"""The SMTP notifier against a real aiosmtpd server on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ai_code_reviewer.errors import EmailError, TransientError
from ai_code_reviewer.notify.base import Message
from ai_code_reviewer.notify.factory import build_transport
from ai_code_reviewer.notify.smtp import SmtpConfig, SmtpNotifier
from ai_code_reviewer.review.model import Finding
from ai_code_reviewer.settings import Settings
from tests.smtpserver import (
    HOST,
    PASSWORD,
    USERNAME,
    Authority,
    SmtpServer,
    free_port,
    serving,
)

COMMAND = str(Path(sys.executable).parent / "ai-code-reviewer")
NOW = datetime(2025, 1, 7, 9, 30, tzinfo=UTC)
FINDING = Finding("app.py", 2, "major", "security", "eval", "Do not eval.")


def smtp_settings(port: int, **overrides: Any) -> Settings:
    """Return settings that send through the server on ``port`` in clear."""
    values: dict[str, Any] = {
        "smtp_host": HOST,
        "smtp_port": port,
        "smtp_security": "none",
        "smtp_timeout": 5.0,
        "email_from": "Code Review <review@example.com>",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


def tls_settings(
    server: SmtpServer, authority: Authority, **overrides: Any
) -> Settings:
    """Return settings for the STARTTLS and AUTH server, trusting its CA."""
    values: dict[str, Any] = {
        "smtp_security": "starttls",
        "smtp_ca_bundle": authority.ca_file,
        "smtp_username": USERNAME,
        "smtp_password": PASSWORD,
    }
    values.update(overrides)
    return smtp_settings(server.port, **values)


def review_message(**overrides: Any) -> Message:
    """Return a review message to the author, with a reviewer in Cc."""
    values: dict[str, Any] = {
        "review_id": 7,
        "subject_target": "PROJ/service a1b2c3d",
        "recipients": ("Ada Lovelace <ada@example.com>",),
        "cc": ("bob@example.com",),
        "markdown": "# Review\n",
        "summary": "One problem.",
        "findings": (FINDING,),
    }
    values.update(overrides)
    return Message(**values)


async def test_message_reaches_the_server_once(smtp_server: SmtpServer) -> None:
    """The server gets one message for To and Cc, sent from EMAIL_FROM's address."""
    notifier = build_transport(smtp_settings(smtp_server.port))

    delivery = await notifier.deliver(review_message())

    [received] = smtp_server.received
    assert received.sender == "review@example.com"
    assert received.recipients == ("ada@example.com", "bob@example.com")
    assert delivery.status == "sent"
    assert delivery.recipients == ("Ada Lovelace <ada@example.com>", "bob@example.com")
    assert delivery.detail == "250 2.0.0 Message accepted for delivery"


async def test_received_message_parses_with_both_parts(smtp_server: SmtpServer) -> None:
    """What the server received is multipart/alternative with the review headers."""
    notifier = build_transport(smtp_settings(smtp_server.port))

    await notifier.deliver(review_message())

    parsed = smtp_server.received[0].parsed()
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed["Subject"] == "[ai-code-reviewer] PROJ/service a1b2c3d: 1 major"
    assert parsed["Message-ID"] == "<review-7@ai-code-reviewer>"
    assert parsed["Cc"] == "bob@example.com"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert "Bcc" not in parsed
    types = [part.get_content_type() for part in parsed.iter_parts()]
    assert types == ["text/plain", "text/html"]


async def test_partly_refused_message_names_only_the_accepted(
    smtp_server: SmtpServer,
) -> None:
    """A recipient refused with 550 is left out of the delivery, and named in it."""
    smtp_server.handler.refuse["bob@example.com"] = "550 5.1.1 No such user"
    notifier = build_transport(smtp_settings(smtp_server.port))

    delivery = await notifier.deliver(review_message())

    assert delivery.status == "sent"
    assert delivery.recipients == ("Ada Lovelace <ada@example.com>",)
    assert "refused: bob@example.com (550 5.1.1 No such user)" in delivery.detail
    assert smtp_server.received[0].recipients == ("ada@example.com",)


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("550 5.1.1 No such user", EmailError),
        ("450 4.2.1 Mailbox busy", TransientError),
    ],
)
async def test_every_recipient_refused_raises_by_reply_class(
    smtp_server: SmtpServer, reply: str, error: type[Exception]
) -> None:
    """All recipients refused: 5xx is permanent, 4xx is worth another try."""
    smtp_server.handler.refuse.update(
        {"ada@example.com": reply, "bob@example.com": reply}
    )
    notifier = build_transport(smtp_settings(smtp_server.port))

    with pytest.raises(error, match="refused every recipient"):
        await notifier.deliver(review_message())

    assert smtp_server.received == []


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("554 5.6.0 Message rejected", EmailError),
        ("451 4.3.0 Try later", TransientError),
    ],
)
async def test_refused_data_raises_by_reply_class(
    smtp_server: SmtpServer, reply: str, error: type[Exception]
) -> None:
    """A refused DATA is an EmailError for 5xx and a TransientError for 4xx."""
    smtp_server.handler.data_replies.append(reply)
    notifier = build_transport(smtp_settings(smtp_server.port))

    with pytest.raises(error, match=reply.split()[0]):
        await notifier.deliver(review_message())


async def test_server_down_is_transient() -> None:
    """A port where nothing listens is a TransientError naming the server."""
    port = free_port()
    notifier = build_transport(smtp_settings(port))

    with pytest.raises(TransientError, match=f"{HOST}:{port}"):
        await notifier.deliver(review_message())


async def test_starttls_and_auth_send_the_message(
    tls_smtp_server: SmtpServer, authority: Authority
) -> None:
    """STARTTLS with the trusted CA, then AUTH, then the message is accepted."""
    notifier = build_transport(tls_settings(tls_smtp_server, authority))

    delivery = await notifier.deliver(review_message())

    assert delivery.status == "sent"
    assert len(tls_smtp_server.received) == 1


async def test_wrong_password_is_permanent_and_not_shown(
    tls_smtp_server: SmtpServer, authority: Authority
) -> None:
    """AUTH refused is an EmailError that never repeats the password."""
    settings = tls_settings(tls_smtp_server, authority, smtp_password="wrong-pass-77")

    with pytest.raises(EmailError, match="535") as caught:
        await build_transport(settings).deliver(review_message())

    assert "wrong-pass-77" not in str(caught.value)
    assert tls_smtp_server.received == []


async def test_untrusted_certificate_is_refused(
    tls_smtp_server: SmtpServer, authority: Authority
) -> None:
    """Without the CA bundle the certificate check fails: EmailError, nothing sent."""
    settings = tls_settings(tls_smtp_server, authority, smtp_ca_bundle=None)

    with pytest.raises(EmailError, match="TLS handshake"):
        await build_transport(settings).deliver(review_message())

    assert tls_smtp_server.received == []


async def test_unverified_tls_is_allowed_when_asked(
    tls_smtp_server: SmtpServer, authority: Authority
) -> None:
    """SMTP_VERIFY_TLS=false sends to a server whose CA is unknown."""
    settings = tls_settings(
        tls_smtp_server, authority, smtp_ca_bundle=None, smtp_verify_tls=False
    )

    delivery = await build_transport(settings).deliver(review_message())

    assert delivery.status == "sent"


async def test_starttls_required_but_not_offered_sends_nothing(
    smtp_server: SmtpServer,
) -> None:
    """SMTP_SECURITY=starttls refuses a server without STARTTLS, sending nothing."""
    settings = smtp_settings(smtp_server.port, smtp_security="starttls")

    with pytest.raises(EmailError, match="offers no STARTTLS"):
        await build_transport(settings).deliver(review_message())

    assert smtp_server.received == []


async def test_implicit_tls_sends_the_message(authority: Authority) -> None:
    """SMTP_SECURITY=tls speaks TLS from the first byte (port 465 style)."""
    with serving(ssl_context=authority.server_context) as server:
        settings = smtp_settings(
            server.port, smtp_security="tls", smtp_ca_bundle=authority.ca_file
        )

        delivery = await build_transport(settings).deliver(review_message())

    assert delivery.status == "sent"
    assert len(server.received) == 1


async def test_message_without_recipient_is_skipped(smtp_server: SmtpServer) -> None:
    """No recipient: nothing is sent and the delivery says why."""
    notifier = SmtpNotifier(SmtpConfig(HOST, smtp_server.port, "none", timeout=5))

    delivery = await notifier.deliver(review_message(recipients=(), cc=()))

    assert (delivery.status, delivery.detail) == ("skipped", "no recipient")
    assert smtp_server.received == []


def run_command(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the installed command with the SMTP settings in ``env``."""
    return subprocess.run(
        [COMMAND, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_email_test_command_prints_the_server_reply(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    """`email test --to` sends one message and prints what the server said."""
    result = run_command(
        "email",
        "test",
        "--to",
        "ada@example.com",
        SMTP_HOST=HOST,
        SMTP_PORT=str(smtp_server.port),
        SMTP_SECURITY="none",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "sent: 250 2.0.0 Message accepted for delivery\n"
    [received] = smtp_server.received
    assert received.recipients == ("ada@example.com",)
    assert received.parsed()["Subject"] == "[ai-code-reviewer] test message"


def test_email_test_command_fails_in_one_sentence() -> None:
    """A server that is down ends `email test` with exit 2 and one line."""
    result = run_command(
        "email",
        "test",
        "--to",
        "ada@example.com",
        SMTP_HOST=HOST,
        SMTP_PORT=str(free_port()),
        SMTP_SECURITY="none",
        SMTP_TIMEOUT="5",
    )

    assert result.returncode == 2
    assert result.stderr.startswith("ai-code-reviewer: could not reach the mail server")
    assert len(result.stderr.strip().splitlines()) == 1

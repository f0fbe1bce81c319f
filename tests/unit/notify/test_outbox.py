"""Review emails written as .eml files, read back with the standard email parser."""

from __future__ import annotations

import email
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from ai_code_reviewer.errors import TransientError
from ai_code_reviewer.notify.base import Message, Notifier
from ai_code_reviewer.notify.message import EmailOptions
from ai_code_reviewer.notify.outbox import OutboxNotifier

START = datetime(2025, 1, 7, 9, 30, 59, tzinfo=UTC)


def ticking_clock(start: datetime = START) -> Callable[[], datetime]:
    """Return a clock that moves one second forward at each reading."""
    ticks: Iterator[int] = iter(range(1_000_000))
    return lambda: start + timedelta(seconds=next(ticks))


def make_message(**overrides: Any) -> Message:
    """Return a review message to two people, changed by ``overrides``."""
    values: dict[str, Any] = {
        "review_id": 42,
        "subject_target": "PROJ/api commit 1a2b3c4",
        "recipients": ("Zoë Dev <zoe@example.com>", "bob@example.com"),
        "markdown": "# Code review\n\nCafé — looks fine.\n",
    }
    values.update(overrides)
    return Message(**values)


def read_email(path: Path) -> EmailMessage:
    """Parse an .eml file the way a mail client would."""
    parsed = email.message_from_bytes(path.read_bytes(), policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def test_message_is_written_as_an_email_file(tmp_path: Path) -> None:
    """The file holds the headers, and the review as text and HTML parts."""
    options = EmailOptions(sender="reviews@example.com")
    notifier = OutboxNotifier(tmp_path, options, clock=ticking_clock())

    delivery = await notifier.deliver(make_message())

    path = Path(delivery.detail)
    assert path == tmp_path / "review-42-20250107T093059000000Z.eml"
    parsed = read_email(path)
    assert parsed["From"] == "reviews@example.com"
    assert parsed["To"] == "Zoë Dev <zoe@example.com>, bob@example.com"
    assert (
        parsed["Subject"] == "[ai-code-reviewer] PROJ/api commit 1a2b3c4: no findings"
    )
    assert parsed["Message-ID"] == "<review-42@ai-code-reviewer>"
    assert parsed["Date"].datetime == START
    assert parsed.get_content_type() == "multipart/alternative"
    text = parsed.get_body(("plain",))
    assert text is not None
    # The body is in wire format too: its lines end in CRLF once decoded.
    assert "\r\n\r\n# Code review\r\n\r\nCafé — looks fine.\r\n" in text.get_content()


async def test_delivery_reports_the_outbox_and_the_recipients(tmp_path: Path) -> None:
    """The delivery says "outbox", names the recipients and the file."""
    notifier: Notifier = OutboxNotifier(tmp_path, clock=ticking_clock())

    delivery = await notifier.deliver(make_message())

    assert delivery.status == "outbox"
    assert delivery.recipients == ("Zoë Dev <zoe@example.com>", "bob@example.com")
    assert Path(delivery.detail).parent == tmp_path


async def test_file_uses_crlf_line_endings(tmp_path: Path) -> None:
    """The file is in wire format (RFC 5322 section 2.1), lines ending in CRLF."""
    notifier = OutboxNotifier(tmp_path, clock=ticking_clock())

    delivery = await notifier.deliver(make_message())

    data = Path(delivery.detail).read_bytes()
    assert data.count(b"\r\n") == data.count(b"\n")


async def test_missing_folder_is_created(tmp_path: Path) -> None:
    """The outbox folder and its parents are made on the first delivery."""
    outbox = tmp_path / "var" / "outbox"

    delivery = await OutboxNotifier(outbox, clock=ticking_clock()).deliver(
        make_message()
    )

    assert [path.name for path in outbox.iterdir()] == [Path(delivery.detail).name]


async def test_retry_keeps_the_message_id_in_a_new_file(tmp_path: Path) -> None:
    """Two deliveries of one review share a Message-ID but not a file."""
    notifier = OutboxNotifier(tmp_path, clock=ticking_clock())

    first = await notifier.deliver(make_message())
    second = await notifier.deliver(make_message())

    assert first.detail != second.detail
    ids = {read_email(Path(d.detail))["Message-ID"] for d in (first, second)}
    assert ids == {"<review-42@ai-code-reviewer>"}


async def test_file_name_uses_utc_whatever_the_clock_zone(tmp_path: Path) -> None:
    """A clock in another zone still names the file by UTC time."""
    paris = START.astimezone(timezone(timedelta(hours=1)))
    notifier = OutboxNotifier(tmp_path, clock=lambda: paris)

    delivery = await notifier.deliver(make_message())

    assert Path(delivery.detail).name == "review-42-20250107T093059000000Z.eml"


async def test_no_recipient_is_skipped_and_nothing_written(tmp_path: Path) -> None:
    """Without recipients nothing is written and the delivery says why."""
    outbox = tmp_path / "outbox"

    delivery = await OutboxNotifier(outbox).deliver(make_message(recipients=()))

    assert (delivery.status, delivery.recipients) == ("skipped", ())
    assert delivery.detail == "no recipient"
    assert not outbox.exists()


async def test_line_break_in_subject_cannot_add_headers(tmp_path: Path) -> None:
    """A subject target with a line break stays one Subject header."""
    message = make_message(subject_target="PROJ/api\r\nBcc: mallory@example.com")

    delivery = await OutboxNotifier(tmp_path, clock=ticking_clock()).deliver(message)

    parsed = read_email(Path(delivery.detail))
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == (
        "[ai-code-reviewer] PROJ/api Bcc: mallory@example.com: no findings"
    )


async def test_unwritable_outbox_raises_a_transient_error(tmp_path: Path) -> None:
    """A folder that cannot be made is a TransientError naming the folder."""
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be")

    with pytest.raises(TransientError, match=r"outbox folder .*outbox"):
        await OutboxNotifier(blocker, clock=ticking_clock()).deliver(make_message())

    assert [path.name for path in tmp_path.iterdir()] == ["outbox"]

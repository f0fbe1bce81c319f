"""Deliver review emails as .eml files in a folder, for when no mail server is set.

Each message is a complete RFC 5322 email in wire format (CRLF line endings)
that a mail client opens as is, or that an operator can send later. Files are
written to a temporary name first and then renamed, so a reader of the folder
never sees half a message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

from ai_code_reviewer.errors import TransientError
from ai_code_reviewer.notify.base import Delivery, Message

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[ai-code-reviewer]"


def message_id(review_id: int) -> str:
    """Return the Message-ID of a review's email, the same on every retry."""
    return f"<review-{review_id}@ai-code-reviewer>"


def build_email(message: Message, sender: str, now: datetime) -> EmailMessage:
    """Return the email of ``message``: headers, and the Markdown as plain text."""
    email = EmailMessage(policy=SMTP)
    email["From"] = sender
    email["To"] = ", ".join(message.recipients)
    # A line break in a header would end it and let the rest forge new headers.
    email["Subject"] = f"{SUBJECT_PREFIX} {' '.join(message.subject_target.split())}"
    email["Date"] = format_datetime(now)
    email["Message-ID"] = message_id(message.review_id)
    email["X-AI-Code-Reviewer-Review-Id"] = str(message.review_id)
    email.set_content(message.markdown)
    return email


class OutboxNotifier:
    """Write each review email as an .eml file into ``outbox_dir``."""

    def __init__(
        self,
        outbox_dir: Path,
        sender: str = "ai-code-reviewer@localhost",
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.outbox_dir = outbox_dir
        self.sender = sender
        self.clock = clock

    async def deliver(self, message: Message) -> Delivery:
        """Write ``message`` to the outbox; skip it when it has no recipient.

        Raises:
            TransientError: the folder or the file could not be written.
        """
        if not message.recipients:
            return Delivery(status="skipped", recipients=(), detail="no recipient")
        now = self.clock().astimezone(UTC)
        email = build_email(message, self.sender, now)
        name = f"review-{message.review_id}-{now:%Y%m%dT%H%M%S%fZ}.eml"
        path = await asyncio.to_thread(self._write, name, email.as_bytes())
        logger.info(
            "email.outbox_written",
            extra={"review_id": message.review_id, "path": str(path)},
        )
        return Delivery(
            status="outbox", recipients=message.recipients, detail=str(path)
        )

    def _write(self, name: str, data: bytes) -> Path:
        """Write ``data`` to ``name`` in the outbox in one step, or not at all."""
        target = self.outbox_dir / name
        try:
            self.outbox_dir.mkdir(parents=True, exist_ok=True)
            _write_atomically(target, data)
        except OSError as error:
            raise TransientError(
                f"Could not write the email to the outbox folder {self.outbox_dir}: "
                f"{error.strerror or error}."
            ) from error
        return target


def _write_atomically(target: Path, data: bytes) -> None:
    """Write to a temporary file beside ``target``, then rename it over ``target``."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

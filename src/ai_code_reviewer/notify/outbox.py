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
from pathlib import Path

from ai_code_reviewer.errors import TransientError
from ai_code_reviewer.notify.base import Delivery, Message
from ai_code_reviewer.notify.message import EmailOptions, build_email, message_id

__all__ = ["OutboxNotifier", "message_id"]

logger = logging.getLogger(__name__)


class OutboxNotifier:
    """Write each review email as an .eml file into ``outbox_dir``."""

    def __init__(
        self,
        outbox_dir: Path,
        options: EmailOptions | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.outbox_dir = outbox_dir
        self.options = options or EmailOptions()
        self.clock = clock

    async def deliver(self, message: Message) -> Delivery:
        """Write ``message`` to the outbox; skip it when it has no recipient.

        Raises:
            TransientError: the folder or the file could not be written.
        """
        if not message.recipients:
            return Delivery(status="skipped", recipients=(), detail="no recipient")
        now = self.clock().astimezone(UTC)
        email = build_email(message, self.options, now)
        name = f"review-{message.review_id}-{now:%Y%m%dT%H%M%S%fZ}.eml"
        path = await asyncio.to_thread(self._write, name, email.as_bytes())
        logger.info(
            "email.outbox_written",
            extra={"review_id": message.review_id, "path": str(path)},
        )
        recipients = (*message.recipients, *message.cc)
        return Delivery(status="outbox", recipients=recipients, detail=str(path))

    async def deliver_email(
        self, email: EmailMessage, recipients: tuple[str, ...]
    ) -> Delivery:
        """Write ``email`` as it is to the outbox (a test message)."""
        now = self.clock().astimezone(UTC)
        name = f"message-{now:%Y%m%dT%H%M%S%fZ}.eml"
        path = await asyncio.to_thread(self._write, name, email.as_bytes())
        return Delivery(status="outbox", recipients=recipients, detail=str(path))

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

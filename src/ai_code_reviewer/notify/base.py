"""The interface every way of telling people about a review implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

EmailStatus = Literal["sent", "outbox", "skipped"]


@dataclass(frozen=True)
class Message:
    """A review to tell people about."""

    review_id: int
    subject_target: str
    recipients: tuple[str, ...]
    markdown: str


@dataclass(frozen=True)
class Delivery:
    """What became of a message: sent by a server, written to the outbox, or not."""

    status: EmailStatus
    recipients: tuple[str, ...]
    detail: str


class Notifier(Protocol):
    """Deliver a review message to its recipients."""

    async def deliver(self, message: Message) -> Delivery:
        """Deliver ``message``; raise TransientError when worth trying again."""
        ...

"""The interface every way of telling people about a review implements."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal, Protocol

from ai_code_reviewer.review.model import Finding, Skipped

EmailStatus = Literal["sent", "outbox", "skipped"]


@dataclass(frozen=True)
class Message:
    """A review to tell people about.

    ``recipients`` are the To addresses: before the recipient policy, the
    change's author (``author``) and the pull request's reviewers; after it,
    the people chosen. ``cc`` is filled by the policy from EMAIL_CC.
    ``markdown`` is the whole review as stored; the other fields are the
    review as data, which the email is made of.
    """

    review_id: int
    subject_target: str
    recipients: tuple[str, ...]
    markdown: str
    summary: str = ""
    findings: tuple[Finding, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    cut: tuple[str, ...] = ()
    url: str | None = None
    author: str | None = None
    cc: tuple[str, ...] = ()


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


class Transport(Notifier, Protocol):
    """A notifier that can also carry an email made elsewhere (a test message)."""

    async def deliver_email(
        self, email: EmailMessage, recipients: tuple[str, ...]
    ) -> Delivery:
        """Deliver ``email`` to ``recipients`` as it is."""
        ...

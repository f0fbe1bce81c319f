"""Apply the recipient policy at send time, then hand the message to a transport.

The opt-out file is read at each send, so that an edit needs no restart. A
missing file is logged and means nobody opted out; a file that exists but
cannot be read stops the send (TransientError), since mailing someone who
asked not to be mailed is worse than mailing late.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

from ai_code_reviewer.errors import TransientError
from ai_code_reviewer.notify.base import Delivery, Message, Notifier
from ai_code_reviewer.notify.recipients import (
    RecipientPolicy,
    choose_recipients,
    parse_opt_outs,
)

logger = logging.getLogger(__name__)


class PolicyNotifier:
    """Choose who gets each message by ``policy``; deliver it by ``transport``."""

    def __init__(
        self,
        policy: RecipientPolicy,
        transport: Notifier,
        opt_out_file: Path | None = None,
    ) -> None:
        self.policy = policy
        self.transport = transport
        self.opt_out_file = opt_out_file

    async def deliver(self, message: Message) -> Delivery:
        """Deliver ``message`` to the chosen people, or skip it saying why."""
        opt_outs = await read_opt_outs(self.opt_out_file)
        choice = choose_recipients(
            message.recipients, message.author, message.findings, self.policy, opt_outs
        )
        for address, reason in choice.dropped:
            logger.info(
                "email.recipient_dropped",
                extra={
                    "review_id": message.review_id,
                    "address": address,
                    "reason": reason,
                },
            )
        if choice.skip_reason is not None:
            logger.info(
                "email.skipped",
                extra={"review_id": message.review_id, "reason": choice.skip_reason},
            )
            return Delivery(status="skipped", recipients=(), detail=choice.skip_reason)
        chosen = dataclasses.replace(message, recipients=choice.to, cc=choice.cc)
        return await self.transport.deliver(chosen)

    async def check(self) -> str:
        """Check the transport's server with its own check, when it has one."""
        # Notifier does not declare check(); the SMTP transport has one.
        check = getattr(self.transport, "check", None)
        if check is None:
            return f"{type(self.transport).__name__} has nothing to check"
        return str(await check())


async def read_opt_outs(path: Path | None) -> frozenset[str]:
    """Return the opted-out addresses (lower case) of the file at ``path``."""
    if path is None:
        return frozenset()
    try:
        text = await asyncio.to_thread(path.read_text, encoding="utf-8")
    except FileNotFoundError:
        logger.warning("email.opt_out_file_missing", extra={"path": str(path)})
        return frozenset()
    except (OSError, UnicodeDecodeError) as error:
        raise TransientError(
            f"could not read the opt-out file {path}: {error}; no email is sent "
            "until it can be read"
        ) from error
    return parse_opt_outs(text)

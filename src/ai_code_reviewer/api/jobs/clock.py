"""Tell the time, so that tests can move it instead of waiting."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Protocol

from ai_code_reviewer.api.db.models import utcnow


class Clock(Protocol):
    """Give the current UTC time and wait."""

    def now(self) -> datetime:
        """Return the current time, naive UTC as the database stores it."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """Read the real time and really wait."""

    def now(self) -> datetime:
        """Return the current time, naive UTC."""
        return utcnow()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on the event loop."""
        await asyncio.sleep(seconds)

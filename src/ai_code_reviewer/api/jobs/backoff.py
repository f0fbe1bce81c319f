"""Decide how long a failed job waits before its next try."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter, capped; a server's Retry-After wins.

    The n-th retry waits a random time between half and all of
    ``base * 2**(n-1)``, so that workers that failed together do not come back
    together; never more than ``cap``.
    """

    base: float
    cap: float
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Return the seconds to wait after try number ``attempt`` (1-based)."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.cap)
        ceiling = min(self.cap, self.base * 2.0 ** max(attempt - 1, 0))
        jitter: float = 0.5 + self.rng.random() / 2
        return ceiling * jitter

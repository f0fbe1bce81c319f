"""The interface every reviewer (model vendor or built-in) implements."""

from __future__ import annotations

from typing import Protocol

from ai_code_reviewer.review.model import Diff, ReviewResult


class Reviewer(Protocol):
    """Review a parsed diff and return structured findings."""

    provider: str
    model: str

    async def review(self, diff: Diff) -> ReviewResult:
        """Return the review of ``diff``.

        Raises:
            LLMError: the model failed for good.
            TransientError: the model failed in a way worth retrying.
        """
        ...

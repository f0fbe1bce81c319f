"""The interfaces of reviewing: a whole-diff reviewer, and one model call.

Two layers meet here. A :class:`Reviewer` takes a parsed diff and returns the
whole review; the built-in reviewer is one, and so is the engine that splits a
diff into chunks and asks a language model about each. A :class:`ModelClient`
is one vendor's API (OpenAI-compatible, Ollama, Anthropic): it answers one
:class:`ModelPrompt` with one :class:`ModelAnswer` of validated findings, and
knows nothing of diffs, budgets or chunks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ai_code_reviewer.review.model import Diff, Finding, ReviewResult, Usage

# Return a file's whole text in the reviewed version, or None when it cannot be
# had (deleted, binary, or no repository at hand). Reviewers that can use whole
# files (the built-in one runs ruff on them) take one; the rest ignore it.
SourceReader = Callable[[str], "str | None"]


class Reviewer(Protocol):
    """Review a parsed diff and return structured findings."""

    provider: str
    model: str

    async def review(self, diff: Diff, *, title: str | None = None) -> ReviewResult:
        """Return the review of ``diff``; ``title`` is the commit's or PR's.

        Raises:
            LLMError: the model failed for good.
            TransientError: the model failed in a way worth retrying.
        """
        ...


@dataclass(frozen=True)
class ModelPrompt:
    """What one model call is asked, and the room it has.

    ``context_tokens`` is the whole window the call may use (Ollama's
    ``num_ctx``); ``max_output_tokens`` is the answer's share of it.
    """

    system: str
    user: str
    max_output_tokens: int
    context_tokens: int


@dataclass(frozen=True)
class ModelAnswer:
    """One model call's answer, validated against the findings schema.

    ``findings`` holds only the findings that validated, their lines as the
    model gave them (the caller checks them against the diff); ``rejected``
    says, for each finding left out, why. ``model`` names the model that
    answered, which is a fallback model when the first one failed.
    """

    summary: str
    findings: tuple[Finding, ...]
    usage: Usage
    model: str
    rejected: tuple[str, ...] = ()
    repaired: bool = False
    duration_ms: float = 0.0


class ModelClient(Protocol):
    """Ask one vendor's model for the findings of one prompt."""

    provider: str
    model: str

    async def complete(self, prompt: ModelPrompt) -> ModelAnswer:
        """Return the model's validated answer to ``prompt``.

        Raises:
            ContextTooLong: the prompt does not fit the model's context.
            LLMError: the model failed for good (401, 404, an answer that
                stayed invalid after one repair attempt).
            TransientError: the model failed in a way worth retrying
                (timeouts, connection errors, 429, 5xx).
        """
        ...

    async def check(self) -> str:
        """Say whether the server answers and knows the model, spending no tokens.

        Raises:
            LLMError: the key was refused, or the server lacks the model.
            TransientError: the server is down, slow or failing.
        """
        ...

    async def aclose(self) -> None:
        """Close the client's connections."""
        ...

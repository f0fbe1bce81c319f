"""What every model client shares: the repair turn, error mapping, TLS and the log.

A vendor module knows how to send one conversation and read the raw answer
(a :class:`Reply`); :func:`answer_prompt` turns that into a validated
:class:`~ai_code_reviewer.llm.base.ModelAnswer`, sending one repair turn when
the answer cannot be read. :func:`status_error` maps an HTTP error of any
vendor to the project's exceptions, so that all of them fail the same way.
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal

from ai_code_reviewer.errors import (
    ContextTooLong,
    LLMError,
    ReviewerError,
    TransientError,
)
from ai_code_reviewer.llm.answer import (
    InvalidAnswer,
    ReadAnswer,
    read_answer,
    repair_request,
)
from ai_code_reviewer.llm.base import ModelAnswer, ModelPrompt
from ai_code_reviewer.quoting import quote_message
from ai_code_reviewer.review.model import Usage
from ai_code_reviewer.settings import Settings

logger = logging.getLogger(__name__)

# How many of a server's model names a failed check quotes.
LISTED_NAMES = 5
# How vendors and the common servers word a prompt that does not fit: OpenAI and
# vLLM ("maximum context length", code context_length_exceeded), Anthropic
# ("prompt is too long"), llama.cpp ("exceeds the available context size").
CONTEXT_MARKERS = (
    "context_length_exceeded",
    "maximum context length",
    "prompt is too long",
    "context size",
    "context window",
    "too many tokens",
)


@dataclass(frozen=True)
class Message:
    """One turn of the conversation after the system prompt."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Reply:
    """One raw answer of a model: its text or object, usage, and whether it was cut.

    ``truncated`` is True when the answer stopped at the output limit.
    """

    content: str | dict[str, Any]
    usage: Usage
    truncated: bool = False

    def text(self) -> str:
        """Return the answer as the text to quote back to the model."""
        if isinstance(self.content, str):
            return self.content
        return json.dumps(self.content)


# Send the system prompt and the conversation once; return the raw answer.
Send = Callable[[ModelPrompt, Sequence[Message]], Awaitable[Reply]]


async def answer_prompt(
    send: Send, prompt: ModelPrompt, provider: str, model: str
) -> ModelAnswer:
    """Ask ``prompt`` through ``send``, repairing an unreadable answer once.

    Raises:
        LLMError: the answer was still unreadable after the repair turn.
    """
    started = time.perf_counter()
    conversation = (Message("user", prompt.user),)
    replies = [await send(prompt, conversation)]
    read, problem = _try_read(replies[0], prompt)
    if read is None:
        logger.warning(
            "llm.repair",
            extra={"provider": provider, "model": model, "problem": problem},
        )
        replies.append(await send(prompt, _repair(conversation, replies[0], problem)))
        read, problem = _try_read(replies[1], prompt)
    if read is None:
        raise LLMError(
            f"the model's answer was still unusable after a repair: {problem}"
        )
    answer = _answer(read, replies, model, started)
    _log_call(provider, answer)
    return answer


def _repair(
    conversation: Sequence[Message], bad: Reply, problem: str
) -> tuple[Message, ...]:
    """Return the conversation, the bad answer and the request to answer again."""
    return (
        *conversation,
        Message("assistant", bad.text()),
        Message("user", repair_request(problem)),
    )


def _try_read(reply: Reply, prompt: ModelPrompt) -> tuple[ReadAnswer | None, str]:
    """Read ``reply``, or return None and why it cannot be used."""
    try:
        return read_answer(reply.content), ""
    except InvalidAnswer as exc:
        if reply.truncated:
            limit = prompt.max_output_tokens
            return None, f"it was cut off at the {limit}-token output limit ({exc})"
        return None, str(exc)


def _answer(
    read: ReadAnswer, replies: Sequence[Reply], model: str, started: float
) -> ModelAnswer:
    """Build the validated answer, counting the usage of every reply."""
    usage = Usage()
    for reply in replies:
        usage = usage + reply.usage
    return ModelAnswer(
        summary=read.summary,
        findings=read.findings,
        usage=usage,
        model=model,
        rejected=read.rejected,
        repaired=len(replies) > 1,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def _log_call(provider: str, answer: ModelAnswer) -> None:
    """Log the one line of a model call; never the prompt or the answer."""
    logger.info(
        "llm.call",
        extra={
            "provider": provider,
            "model": answer.model,
            "duration_ms": answer.duration_ms,
            "prompt_tokens": answer.usage.prompt_tokens,
            "completion_tokens": answer.usage.completion_tokens,
            "repaired": answer.repaired,
            "rejected": len(answer.rejected),
        },
    )


def status_error(
    status: int,
    body: str,
    headers: Mapping[str, str],
    *,
    model: str,
    secret: str | None,
) -> ReviewerError:
    """Return the project's error for an HTTP error answer of a model server.

    ``secret`` (the API key) is masked in any quoted server message, since some
    servers echo the key they refused.
    """
    message = server_message(body, secret)
    if status == 429:
        retry_after = retry_after_seconds(headers)
        return TransientError(
            f"the model server is rate limiting (HTTP 429): {message}", retry_after
        )
    if status == 408 or status >= 500:
        return TransientError(f"the model server failed (HTTP {status}): {message}")
    if status in (401, 403):
        return LLMError(f"the model server refused the API key (HTTP {status})")
    if status == 404:
        return LLMError(
            f"the model server does not know the model {model!r}: {message}"
        )
    if status in (400, 413) and says_too_long(body):
        return ContextTooLong(f"the prompt does not fit {model}'s context: {message}")
    return LLMError(f"the model server refused the request (HTTP {status}): {message}")


def check_error(
    status: int,
    body: str,
    headers: Mapping[str, str],
    *,
    path: str,
    model: str,
    secret: str | None,
) -> ReviewerError:
    """Return the project's error for an HTTP error answer to a check's ``path``.

    A 404 there means the server has no such endpoint, not that it lacks the
    model; any other status is mapped as a model call's would be.
    """
    if status == 404:
        message = server_message(body, secret)
        return LLMError(
            f"the model server has no {path} endpoint (HTTP 404): {message}"
        )
    return status_error(status, body, headers, model=model, secret=secret)


def model_listed(model: str, names: Iterable[str], *, hint: str = "") -> str:
    """Say that the server answered and lists ``model``; raise LLMError if it does not.

    ``hint`` is added to the error, to say how to make the model available.
    """
    listed = list(dict.fromkeys(names))
    if model in listed:
        return f"reachable, model {model} present"
    shown = ", ".join(listed[:LISTED_NAMES]) or "none"
    more = (
        f" and {len(listed) - LISTED_NAMES} more" if len(listed) > LISTED_NAMES else ""
    )
    raise LLMError(
        f"the model server answered but has no model {model!r} "
        f"(it lists {shown}{more}){hint}"
    )


def says_too_long(body: str) -> bool:
    """Tell whether an error body says the prompt does not fit the context."""
    lowered = body.lower()
    return any(marker in lowered for marker in CONTEXT_MARKERS)


def server_message(body: str, secret: str | None = None) -> str:
    """Return the readable message of an error body, one line, at most 300 chars."""
    return quote_message(_json_message(body) or body, secret)


def _json_message(body: str) -> str | None:
    """Find the message of a JSON error body of OpenAI, Anthropic or Ollama."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    error = data.get("error", data) if isinstance(data, dict) else None
    if isinstance(error, str):
        return error
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Return the wait a 429 answer asks for, from Retry-After (RFC 9110 10.2.3).

    OpenAI also sends ``retry-after-ms``, which is preferred when present.
    """
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        seconds = _float_or_none(milliseconds)
        return None if seconds is None else max(seconds / 1000, 0.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _float_or_none(value)
    if seconds is not None:
        return max(seconds, 0.0)
    return _seconds_until(value)


def _float_or_none(value: str) -> float | None:
    """Parse a number of seconds, or return None."""
    try:
        return float(value)
    except ValueError:
        return None


def _seconds_until(http_date: str) -> float | None:
    """Return the seconds from now until an HTTP date, or None when unreadable."""
    try:
        when = parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def timeout_error(seconds: float) -> TransientError:
    """Return the error of a model call that took longer than LLM_TIMEOUT."""
    return TransientError(f"the model server did not answer within {seconds:g} s")


def connection_error(exc: BaseException) -> TransientError:
    """Return the error of a model server that could not be reached."""
    cause = exc.__cause__ or exc
    return TransientError(f"could not reach the model server ({type(cause).__name__})")


def tls_verify(settings: Settings) -> ssl.SSLContext | bool:
    """Return how the model server's certificate is checked (LLM_VERIFY_TLS, CA)."""
    if not settings.llm_verify_tls:
        return False
    if settings.llm_ca_bundle is not None:
        return ssl.create_default_context(cafile=str(settings.llm_ca_bundle))
    return True


def api_key(settings: Settings) -> str | None:
    """Return LLM_API_KEY's value, or None when unset or empty."""
    if settings.llm_api_key is None:
        return None
    return settings.llm_api_key.get_secret_value() or None

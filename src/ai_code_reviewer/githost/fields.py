"""Read fields of a Git host's JSON answers without trusting their types.

A host may answer with a field missing, null or of another type (an older
server, a proxy's error page); these readers turn that into an absent value
or one clear GitHostError instead of a KeyError deep in a client.
"""

from __future__ import annotations

from typing import Any, TypeVar

from ai_code_reviewer.errors import GitHostError

_T = TypeVar("_T")


def required(value: _T | None, what: str) -> _T:
    """Return ``value``, or refuse a review target that lacks it."""
    if value is None:
        raise GitHostError(f"The review target lacks {what}.")
    return value


def text_or_none(value: Any) -> str | None:
    """Return ``value`` when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def object_or_empty(value: Any) -> dict[str, Any]:
    """Return ``value`` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}

"""Quote a remote server's error message safely in our own errors.

Model servers and Git hosts explain a refusal in their answer's body; that
text ends up in failure logs, emails and HTTP answers, so it is put on one
line, cut to a readable length, and stripped of the credential we sent,
which some servers echo back.
"""

from __future__ import annotations

import re

MESSAGE_LIMIT = 300
_SPACES = re.compile(r"\s+")


def quote_message(message: str, secret: str | None = None) -> str:
    """Return ``message`` on one line, at most 300 characters, ``secret`` masked."""
    if secret:
        message = message.replace(secret, "[redacted]")
    message = _SPACES.sub(" ", message).strip() or "no message"
    if len(message) > MESSAGE_LIMIT:
        message = message[: MESSAGE_LIMIT - 1] + "…"
    return message

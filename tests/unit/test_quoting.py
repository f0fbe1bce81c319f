"""Quoting a server's error message: one line, bounded, the credential masked."""

from __future__ import annotations

from ai_code_reviewer.quoting import MESSAGE_LIMIT, quote_message


def test_message_is_put_on_one_line() -> None:
    """Line breaks and runs of spaces become single spaces."""
    assert quote_message("  bad\r\n request:\t\tno  model ") == "bad request: no model"


def test_echoed_secret_is_masked() -> None:
    """A server that echoes the key we sent does not get it into our errors."""
    quoted = quote_message("invalid key sk-live-123 for org", "sk-live-123")

    assert quoted == "invalid key [redacted] for org"


def test_long_message_is_cut_with_an_ellipsis() -> None:
    """A page of HTML from a proxy is cut to the limit, marked as cut."""
    quoted = quote_message("x" * 5000)

    assert len(quoted) == MESSAGE_LIMIT
    assert quoted.endswith("…")


def test_empty_message_says_so() -> None:
    """An empty body is quoted as 'no message' rather than nothing."""
    assert quote_message(" \n ") == "no message"

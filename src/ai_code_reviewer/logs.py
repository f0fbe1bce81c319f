"""Configure the standard library's logging for the service's processes.

Every line carries ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``event``
(the message) and the record's fields: what was passed in ``extra`` and what
:func:`log_context` bound for the request or job being handled. Lines are
JSON objects, one a line, when the output is not a terminal, and
``time level logger event key=value`` text on a terminal (LOG_FORMAT decides).

As a safety net, the message, every string field and the stack of an
exception go through :func:`ai_code_reviewer.review.redact.redact` before
they are written, so that a token which slips into a log call is masked.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TextIO

from ai_code_reviewer.review.redact import redact
from ai_code_reviewer.settings import Settings

# Attributes of every record, and uvicorn's duplicate of its message with colours.
RESERVED = frozenset(vars(logging.makeLogRecord({})).keys()) | {
    "message",
    "asctime",
    "color_message",
}
BASE_KEYS = ("time", "level", "logger", "event")
# Request ids (uuid4().hex), commit ids and body digests look random enough to
# be masked as high-entropy secrets; in the fields named for them they are kept.
ID_FIELD = re.compile(r"request_id|.*(?:commit|commit_id|sha256)")
ID_VALUE = re.compile(r"[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}")
# A text value needs quotes when it is empty or holds a space, a quote or an =.
PLAIN_VALUE = re.compile(r"[^\s\"'=]+")

# Most values recur (event names, methods, routes, stages), and redact() costs
# 5 to 10 us even on a short word: short values found clean are remembered.
# Only clean ones: a secret is never kept here.
CLEAN_MAX_LENGTH = 128
CLEAN_MAX_ENTRIES = 4096
_clean: set[str] = set()

_context: ContextVar[Mapping[str, object]] = ContextVar(
    "log_context", default=MappingProxyType({})
)


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add ``fields`` to every line logged inside the block, in this task only."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


def context_fields() -> Mapping[str, object]:
    """Return the fields bound by the enclosing :func:`log_context` blocks."""
    return _context.get()


class ContextFilter(logging.Filter):
    """Stamp the bound context fields on each record, where it sets none itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


def mask(value: str, key: str | None = None) -> str:
    """Return ``value`` with its secrets masked, unless ``key`` names an id it is."""
    if value in _clean:
        return value
    if key is not None and ID_FIELD.fullmatch(key) and ID_VALUE.fullmatch(value):
        return value
    masked = redact(value).text
    if masked == value and len(value) <= CLEAN_MAX_LENGTH:
        if len(_clean) >= CLEAN_MAX_ENTRIES:
            _clean.clear()
        _clean.add(value)
    return masked


def fields_of(record: logging.LogRecord) -> dict[str, Any]:
    """Return the record's own fields, sorted by name, string values masked."""
    return {
        key: mask(value, key) if isinstance(value, str) else value
        for key, value in sorted(vars(record).items())
        if key not in RESERVED
    }


def timestamp(record: logging.LogRecord) -> str:
    """Return the record's time as ISO 8601 UTC with milliseconds."""
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def base_of(record: logging.LogRecord) -> tuple[str, str, str, str]:
    """Return the time, level, logger and masked event of ``record``."""
    return timestamp(record), record.levelname, record.name, mask(record.getMessage())


class _StackFormatter(logging.Formatter):
    """Write an exception's traceback and a stack as one masked text."""

    def stack_of(self, record: logging.LogRecord) -> str | None:
        """Return the masked traceback and stack of ``record``, None without any."""
        parts = []
        if record.exc_info:
            parts.append(self.formatException(record.exc_info))
        if record.stack_info:
            parts.append(self.formatStack(record.stack_info))
        return mask("\n".join(parts)) if parts else None


class JsonFormatter(_StackFormatter):
    """Format a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = dict(zip(BASE_KEYS, base_of(record), strict=True))
        for key, value in fields_of(record).items():
            line[f"field_{key}" if key in line else key] = value
        if (stack := self.stack_of(record)) is not None:
            line["exc_info"] = stack
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(_StackFormatter):
    """Format a record as ``time level logger event key=value ...`` for people."""

    def format(self, record: logging.LogRecord) -> str:
        words = [*base_of(record)]
        words += [f"{key}={_text(value)}" for key, value in fields_of(record).items()]
        line = " ".join(words)
        if (stack := self.stack_of(record)) is not None:
            line += "\n" + stack
        return line


def _text(value: object) -> str:
    """Write a field's value on one line, quoted only when it has to be."""
    if isinstance(value, str) and PLAIN_VALUE.fullmatch(value):
        return value
    if isinstance(value, bool | int | float) or value is None:
        return str(value)
    return json.dumps(value, default=str, ensure_ascii=False)


def choose_formatter(log_format: str, stream: TextIO) -> logging.Formatter:
    """Return the text formatter on a terminal (or when asked), else JSON lines."""
    if log_format == "auto":
        isatty = getattr(stream, "isatty", None)
        log_format = "text" if callable(isatty) and isatty() else "json"
    return TextFormatter() if log_format == "text" else JsonFormatter()


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Send every log line of the process, the libraries' too, to stderr.

    SQLAlchemy's statements are logged only with DATABASE_ECHO: its engine
    logger is kept at WARNING otherwise, and with echo on it is given a
    handler that does nothing, so that SQLAlchemy adds none of its own and the
    lines reach this formatter.
    """
    output = stream or sys.stderr
    handler = logging.StreamHandler(output)
    handler.setFormatter(choose_formatter(settings.log_format, output))
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # LOG_LEVEL decides for uvicorn too, whatever configured it before.
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).setLevel(logging.NOTSET)
        logging.getLogger(name).propagate = True
    engine = logging.getLogger("sqlalchemy.engine")
    engine.setLevel(logging.INFO if settings.database_echo else logging.WARNING)
    echo = logging.getLogger("sqlalchemy.engine.Engine")
    echo.handlers[:] = [logging.NullHandler()] if settings.database_echo else []

"""The log format: JSON lines or text, context fields, masked secrets, one pipe."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text

from ai_code_reviewer.api.middleware import RequestLogMiddleware
from ai_code_reviewer.logs import configure_logging, log_context
from ai_code_reviewer.settings import Settings

TOKEN = "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6"
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
LOGGERS = ("uvicorn", "uvicorn.error", "sqlalchemy.engine", "sqlalchemy.engine.Engine")

logger = logging.getLogger("tests.logs")


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Put the root logger and the libraries' loggers back as they were."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    others = {name: logging.getLogger(name) for name in LOGGERS}
    states = {
        name: (log.handlers[:], log.level, log.propagate)
        for name, log in others.items()
    }
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, log in others.items():
        log.handlers[:], log.level, log.propagate = states[name]


def configure(stream: io.StringIO | None = None, **overrides: Any) -> io.StringIO:
    """Configure logging for ``overrides`` into a stream and return the stream."""
    output = stream if stream is not None else io.StringIO()
    configure_logging(Settings(_env_file=None, **overrides), output)
    return output


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """Parse every line written to ``stream`` as JSON."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_time_level_logger_event_and_fields() -> None:
    """Off a terminal each line is a JSON object with the base keys and the fields."""
    stream = configure()

    logger.info("review.finished", extra={"job_id": 7, "duration_ms": 12.5})

    [line] = lines(stream)
    assert ISO_UTC.fullmatch(line.pop("time"))
    assert line == {
        "level": "INFO",
        "logger": "tests.logs",
        "event": "review.finished",
        "duration_ms": 12.5,
        "job_id": 7,
    }


def test_text_on_a_terminal() -> None:
    """On a terminal a line reads ``time level logger event key=value``."""
    stream = configure(Terminal())

    logger.warning("job.retry", extra={"stage": "llm_review", "error": "timed out"})

    time, rest = stream.getvalue().rstrip("\n").split(" ", 1)
    assert ISO_UTC.fullmatch(time)
    assert rest == 'WARNING tests.logs job.retry error="timed out" stage=llm_review'


@pytest.mark.parametrize(
    ("log_format", "stream", "is_json"),
    [("json", Terminal(), True), ("text", io.StringIO(), False)],
)
def test_log_format_overrides_the_terminal_guess(
    log_format: str, stream: io.StringIO, is_json: bool
) -> None:
    """LOG_FORMAT=json or text is used whatever the output is."""
    configure(stream, log_format=log_format)

    logger.info("app.started")

    assert stream.getvalue().startswith("{") is is_json


def test_log_level_is_honoured() -> None:
    """Lines below LOG_LEVEL are not written."""
    stream = configure(log_level="WARNING")

    logger.info("quiet")
    logger.warning("loud")

    assert [line["event"] for line in lines(stream)] == ["loud"]


def test_exception_is_one_json_field() -> None:
    """An exception's traceback is the exc_info field of one single line."""
    stream = configure()

    try:
        raise ValueError("bad input")
    except ValueError:
        logger.exception("job.crashed", extra={"job_id": 3})

    [line] = lines(stream)
    assert line["event"] == "job.crashed"
    assert line["exc_info"].startswith("Traceback")
    assert "ValueError: bad input" in line["exc_info"]


def test_secrets_in_message_fields_and_traceback_are_masked() -> None:
    """A token in the message, a field or an exception never reaches the output."""
    stream = configure()

    try:
        raise RuntimeError(f"rejected {TOKEN}")
    except RuntimeError:
        logger.exception(
            "clone of https://bot:hunter2hunter2@git.example.com failed",
            extra={"header": f"Authorization: Bearer {TOKEN}", "attempt": 2},
        )

    output = stream.getvalue()
    assert TOKEN not in output
    assert "hunter2hunter2" not in output
    [line] = lines(stream)
    assert "[REDACTED:url_password]" in line["event"]
    assert "[REDACTED:" in line["header"]
    assert "[REDACTED:github_token]" in line["exc_info"]
    assert line["attempt"] == 2


def test_ids_named_as_ids_are_kept() -> None:
    """Request and commit ids stay readable; the same hex under another name not."""
    stream = configure()
    request_id, commit = "0aaf037e76c342cfb32ca6a9854a9f7d", "9f1c2d3e" * 5

    logger.info(
        "webhook.accepted",
        extra={"request_id": request_id, "commit_id": commit, "note": request_id},
    )

    [line] = lines(stream)
    assert (line["request_id"], line["commit_id"]) == (request_id, commit)
    assert line["note"] == "[REDACTED:high_entropy]"


def test_context_fields_are_added_inside_the_block_only() -> None:
    """log_context adds its fields to the lines logged inside it, not after."""
    stream = configure()

    with log_context(job_id=5):
        logger.info("job.stage")
        logger.info("job.claimed", extra={"job_id": 6})
    logger.info("worker.idle")

    first, explicit, after = lines(stream)
    assert first["job_id"] == 5
    assert explicit["job_id"] == 6
    assert "job_id" not in after


async def test_context_is_kept_per_task() -> None:
    """Two jobs running at once each see only their own job_id."""
    stream = configure()

    async def run(job_id: int) -> None:
        with log_context(job_id=job_id):
            await asyncio.sleep(0)
            logger.info("job.stage", extra={"expected": job_id})

    await asyncio.gather(run(1), run(2), run(3))

    assert all(line["job_id"] == line["expected"] for line in lines(stream))


async def test_lines_logged_during_a_request_carry_its_id() -> None:
    """Every line logged while a request is handled carries its request_id."""
    stream = configure()
    app = FastAPI()
    app.add_middleware(RequestLogMiddleware)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        logger.info("item.read", extra={"item_id": item_id})
        return {"item_id": item_id}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/items/4", headers={"X-Request-Id": "req-1"})

    ours = [line for line in lines(stream) if line["logger"] != "httpx"]
    assert [line["event"] for line in ours] == ["item.read", "http.request"]
    assert {line["request_id"] for line in ours} == {"req-1"}
    assert ours[1]["route"] == "/items/{item_id}"
    assert response.headers["x-request-id"] == "req-1"


def test_uvicorn_lines_use_the_same_format() -> None:
    """uvicorn's loggers lose their own handlers and write through the formatter."""
    logging.getLogger("uvicorn.error").addHandler(logging.StreamHandler(io.StringIO()))
    stream = configure()

    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)

    [line] = lines(stream)
    assert (line["logger"], line["event"]) == (
        "uvicorn.error",
        "Started server process [42]",
    )
    assert logging.getLogger("uvicorn.error").handlers == []


@pytest.mark.parametrize("echo", [False, True])
def test_sql_statements_are_logged_only_with_database_echo(
    echo: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLAlchemy's engine stays at WARNING unless DATABASE_ECHO; then JSON lines."""
    stream = configure(database_echo=echo)
    engine = create_engine("sqlite://", echo=echo)

    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    engine.dispose()

    statements = [line for line in lines(stream) if line["event"] == "SELECT 1"]
    assert bool(statements) is echo
    assert all(line["logger"].startswith("sqlalchemy.engine") for line in statements)
    assert capsys.readouterr().out == ""

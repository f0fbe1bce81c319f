"""The Ollama client against a fake server of Ollama's native chat API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from ai_code_reviewer.errors import LLMError, TransientError
from ai_code_reviewer.llm.answer import answer_schema
from ai_code_reviewer.llm.ollama import OllamaClient
from tests.integration.llm.conftest import API_KEY, PROMPT, llm_settings
from tests.modelservers import (
    BAD_FINDING,
    GOOD_FINDING,
    Answer,
    Failure,
    FakeModelServer,
    Slow,
    invalid_json,
    rate_limited,
    server_error,
    truncated_json,
    unauthorized,
)

ClientFactory = Callable[..., Awaitable[OllamaClient]]


@pytest.fixture
async def make_client(
    ollama_server: FakeModelServer,
) -> AsyncIterator[ClientFactory]:
    """Return a factory of clients of the fake server, closed after the test."""
    made: list[OllamaClient] = []

    async def make(**overrides: Any) -> OllamaClient:
        settings = llm_settings("ollama", ollama_server.base_url, **overrides)
        client = OllamaClient.from_settings(settings, "qwen2.5-coder:7b")
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


async def test_answer_and_counts_are_read(make_client: ClientFactory) -> None:
    """The message content is parsed and usage comes from the eval counts."""
    client = await make_client()

    answer = await client.complete(PROMPT)

    assert answer.summary == "The change reads X from the environment."
    assert len(answer.findings) == 1
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (120, 30)
    assert answer.model == "qwen2.5-coder:7b"


async def test_request_sets_format_window_and_limit(
    make_client: ClientFactory, ollama_server: FakeModelServer
) -> None:
    """The body has stream false, the schema as format, num_ctx and num_predict."""
    client = await make_client()

    await client.complete(PROMPT)

    request = ollama_server.requests[0]
    assert request.path == "/api/chat"
    assert request.body["stream"] is False
    assert request.body["format"] == answer_schema()
    assert request.body["options"] == {
        "num_ctx": PROMPT.context_tokens,
        "num_predict": PROMPT.max_output_tokens,
        "temperature": 0,
    }
    assert request.body["messages"] == [
        {"role": "system", "content": PROMPT.system},
        {"role": "user", "content": PROMPT.user},
    ]


async def test_key_when_set_is_sent_as_bearer(
    make_client: ClientFactory, ollama_server: FakeModelServer
) -> None:
    """An Ollama behind a proxy gets LLM_API_KEY as a bearer token."""
    client = await make_client()

    await client.complete(PROMPT)

    assert ollama_server.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


async def test_no_key_sends_no_authorization(
    make_client: ClientFactory, ollama_server: FakeModelServer
) -> None:
    """Without LLM_API_KEY no Authorization header is sent."""
    client = await make_client(llm_api_key=None)

    await client.complete(PROMPT)

    assert "authorization" not in ollama_server.requests[0].headers


@pytest.mark.parametrize(
    "bad", [invalid_json(), truncated_json()], ids=["prose", "length"]
)
async def test_unreadable_answer_is_repaired_once(
    make_client: ClientFactory, ollama_server: FakeModelServer, bad: Any
) -> None:
    """Prose, or JSON cut by done_reason length, gets one repair turn."""
    ollama_server.script = [bad]
    client = await make_client()

    answer = await client.complete(PROMPT)

    turns = ollama_server.requests[1].body["messages"]
    assert len(ollama_server.requests) == 2
    assert turns[2] == {"role": "assistant", "content": bad.text}
    assert "could not be used" in turns[3]["content"]
    assert answer.repaired


async def test_answer_still_invalid_after_repair_fails(
    make_client: ClientFactory, ollama_server: FakeModelServer
) -> None:
    """Two unreadable answers raise LLMError."""
    ollama_server.script = [truncated_json(), truncated_json()]
    client = await make_client()

    with pytest.raises(LLMError, match="cut off"):
        await client.complete(PROMPT)


async def test_bad_finding_is_rejected_and_good_one_kept(
    make_client: ClientFactory, ollama_server: FakeModelServer
) -> None:
    """One invalid finding is rejected; the valid one is kept."""
    ollama_server.script = [Answer(findings=(GOOD_FINDING, BAD_FINDING))]
    client = await make_client()

    answer = await client.complete(PROMPT)

    assert len(answer.findings) == 1
    assert len(answer.rejected) == 1


async def test_rate_limit_and_server_error_are_transient(
    make_client: ClientFactory, ollama_server: FakeModelServer
) -> None:
    """A 429 (with Retry-After) and a 500 raise TransientError, one request each."""
    ollama_server.script = [rate_limited("3"), server_error()]
    client = await make_client()

    with pytest.raises(TransientError) as limited:
        await client.complete(PROMPT)
    with pytest.raises(TransientError, match="HTTP 500"):
        await client.complete(PROMPT)

    assert limited.value.retry_after == 3.0
    assert len(ollama_server.requests) == 2


async def test_retry_after_as_http_date_is_read(
    make_client: ClientFactory, ollama_server: FakeModelServer
) -> None:
    """A Retry-After given as an HTTP date becomes the seconds until then."""
    when = datetime.now(UTC) + timedelta(seconds=60)
    ollama_server.script = [rate_limited(format_datetime(when, usegmt=True))]
    client = await make_client()

    with pytest.raises(TransientError) as caught:
        await client.complete(PROMPT)

    assert caught.value.retry_after is not None
    assert 50 < caught.value.retry_after <= 60


async def test_slow_server_times_out_as_transient(
    make_client: ClientFactory, ollama_server: FakeModelServer
) -> None:
    """A reply slower than LLM_TIMEOUT raises TransientError."""
    ollama_server.script = [Slow(3.0)]
    client = await make_client(llm_timeout=0.3)

    with pytest.raises(TransientError, match=r"within 0\.3 s"):
        await client.complete(PROMPT)


async def test_refused_key_is_not_quoted(
    make_client: ClientFactory, ollama_server: FakeModelServer
) -> None:
    """A 401 from a proxy raises LLMError without the key."""
    ollama_server.script = [unauthorized()]
    client = await make_client()

    with pytest.raises(LLMError, match="refused the API key") as caught:
        await client.complete(PROMPT)

    assert API_KEY not in str(caught.value)


async def test_missing_model_names_it(
    make_client: ClientFactory, ollama_server: FakeModelServer
) -> None:
    """Ollama's 404 for a model not pulled raises LLMError naming the model."""
    ollama_server.script = [Failure(404, "model 'qwen2.5-coder:7b' not found")]
    client = await make_client()

    with pytest.raises(LLMError, match=r"does not know the model 'qwen2\.5-coder:7b'"):
        await client.complete(PROMPT)

"""The OpenAI client, through the real SDK, against a fake OpenAI-compatible server."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from openai import AsyncOpenAI

from ai_code_reviewer.errors import ContextTooLong, LLMError, TransientError
from ai_code_reviewer.llm.answer import answer_schema
from ai_code_reviewer.llm.openai import OpenAIClient
from tests.integration.llm.conftest import API_KEY, PROMPT, llm_settings
from tests.modelservers import (
    BAD_FINDING,
    GOOD_FINDING,
    Answer,
    Failure,
    FakeModelServer,
    Slow,
    context_too_long,
    format_refused,
    invalid_json,
    rate_limited,
    server_error,
    truncated_json,
    unauthorized,
)

ClientFactory = Callable[..., Awaitable[OpenAIClient]]


@pytest.fixture
async def make_client(
    openai_server: FakeModelServer,
) -> AsyncIterator[ClientFactory]:
    """Return a factory of clients of the fake server, closed after the test."""
    made: list[OpenAIClient] = []

    async def make(**overrides: Any) -> OpenAIClient:
        base_url = f"{openai_server.base_url}/v1"
        client = OpenAIClient.from_settings(
            llm_settings("openai", base_url, **overrides), "test-model"
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


async def test_valid_answer_is_parsed(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """A valid answer gives its summary, findings, usage and model, unrepaired."""
    client = await make_client()

    answer = await client.complete(PROMPT)

    assert answer.summary == "The change reads X from the environment."
    assert [(f.path, f.line, f.severity) for f in answer.findings] == [
        ("app.py", 2, "major")
    ]
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (120, 30)
    assert answer.model == "test-model"
    assert not answer.repaired
    assert answer.duration_ms > 0


async def test_request_asks_for_the_strict_schema(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """The request carries both messages, the strict schema and the limits."""
    client = await make_client()

    await client.complete(PROMPT)

    body = openai_server.requests[0].body
    assert body["messages"] == [
        {"role": "system", "content": PROMPT.system},
        {"role": "user", "content": PROMPT.user},
    ]
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["schema"] == answer_schema()
    assert body["temperature"] == 0
    assert body["max_tokens"] == PROMPT.max_output_tokens


async def test_api_key_is_sent_as_bearer(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """The API key goes in the Authorization header as a bearer token."""
    client = await make_client()

    await client.complete(PROMPT)

    assert openai_server.requests[0].headers["authorization"] == f"Bearer {API_KEY}"


async def test_vendor_url_uses_max_completion_tokens(
    openai_server: FakeModelServer,
) -> None:
    """Against OpenAI itself the answer limit is sent as max_completion_tokens."""
    sdk = AsyncOpenAI(
        api_key=API_KEY, base_url=f"{openai_server.base_url}/v1", max_retries=0
    )
    client = OpenAIClient(sdk, "test-model")

    await client.complete(PROMPT)
    await client.aclose()

    body = openai_server.requests[0].body
    assert body["max_completion_tokens"] == PROMPT.max_output_tokens
    assert "max_tokens" not in body


@pytest.mark.parametrize(
    "bad", [invalid_json(), truncated_json()], ids=["prose", "cut"]
)
async def test_unreadable_answer_is_repaired_once(
    make_client: ClientFactory, openai_server: FakeModelServer, bad: Any
) -> None:
    """Prose or cut-off JSON gets one repair turn quoting the bad answer."""
    openai_server.script = [bad]
    client = await make_client()

    answer = await client.complete(PROMPT)

    assert len(openai_server.requests) == 2
    repair = openai_server.requests[1].body["messages"]
    assert repair[2] == {"role": "assistant", "content": bad.text}
    assert repair[3]["role"] == "user"
    assert "could not be used" in repair[3]["content"]
    assert answer.repaired
    assert answer.usage.prompt_tokens == 240
    assert len(answer.findings) == 1


async def test_cut_answer_repair_says_it_was_cut(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """The repair of an answer stopped at the limit tells the model so."""
    openai_server.script = [truncated_json()]
    client = await make_client()

    await client.complete(PROMPT)

    repair = openai_server.requests[1].body["messages"][3]["content"]
    assert "cut off at the 512-token output limit" in repair


async def test_answer_still_invalid_after_repair_fails(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """A second unreadable answer raises LLMError after exactly two requests."""
    openai_server.script = [invalid_json(), invalid_json()]
    client = await make_client()

    with pytest.raises(LLMError, match="still unusable after a repair"):
        await client.complete(PROMPT)

    assert len(openai_server.requests) == 2


async def test_bad_finding_is_rejected_and_good_one_kept(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """One invalid finding is listed as rejected; the valid one is kept."""
    openai_server.script = [Answer(findings=(GOOD_FINDING, BAD_FINDING))]
    client = await make_client()

    answer = await client.complete(PROMPT)

    assert len(answer.findings) == 1
    assert len(answer.rejected) == 1
    assert answer.rejected[0].startswith("finding 1: severity")
    assert not answer.repaired


async def test_rate_limit_is_transient_with_retry_after(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """A 429 raises TransientError carrying Retry-After, after a single request."""
    openai_server.script = [rate_limited("7")]
    client = await make_client()

    with pytest.raises(TransientError) as caught:
        await client.complete(PROMPT)

    assert caught.value.retry_after == 7.0
    assert len(openai_server.requests) == 1


async def test_retry_after_ms_is_preferred(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """OpenAI's retry-after-ms header, finer than Retry-After, is the one used."""
    headers = {"retry-after-ms": "1500", "retry-after": "2"}
    openai_server.script = [Failure(429, "Slow down.", headers)]
    client = await make_client()

    with pytest.raises(TransientError) as caught:
        await client.complete(PROMPT)

    assert caught.value.retry_after == 1.5


async def test_server_error_is_transient_without_sdk_retry(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """A 500 raises TransientError and the SDK does not retry it itself."""
    openai_server.script = [server_error()]
    client = await make_client()

    with pytest.raises(TransientError, match="HTTP 500"):
        await client.complete(PROMPT)

    assert len(openai_server.requests) == 1


async def test_slow_server_times_out_as_transient(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """A reply slower than LLM_TIMEOUT raises TransientError after one request."""
    openai_server.script = [Slow(3.0)]
    client = await make_client(llm_timeout=0.3)

    with pytest.raises(TransientError, match=r"did not answer within 0\.3 s"):
        await client.complete(PROMPT)

    assert len(openai_server.requests) == 1


async def test_refused_key_is_not_quoted(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """A 401 raises LLMError that never contains the key the server echoed."""
    openai_server.script = [unauthorized()]
    client = await make_client()

    with pytest.raises(LLMError) as caught:
        await client.complete(PROMPT)

    assert not isinstance(caught.value, TransientError)
    assert "refused the API key" in str(caught.value)
    assert API_KEY not in str(caught.value)
    assert caught.value.__cause__ is None


async def test_unknown_model_names_the_model(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """A 404 raises LLMError naming the model."""
    openai_server.script = [Failure(404, "The model does not exist.")]
    client = await make_client()

    with pytest.raises(LLMError, match="'test-model'"):
        await client.complete(PROMPT)


async def test_context_too_long_is_its_own_error(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """A 400 context_length_exceeded raises ContextTooLong."""
    openai_server.script = [context_too_long()]
    client = await make_client()

    with pytest.raises(ContextTooLong, match="maximum context length is 8192"):
        await client.complete(PROMPT)


async def test_other_client_error_quotes_the_server_trimmed(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """Another 4xx raises LLMError with the server's message cut to 300 characters."""
    openai_server.script = [Failure(422, "Unprocessable: " + "x" * 1000)]
    client = await make_client()

    with pytest.raises(LLMError) as caught:
        await client.complete(PROMPT)

    assert "Unprocessable: xxx" in str(caught.value)
    assert len(str(caught.value)) < 400


async def test_refused_formats_step_down_and_are_remembered(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """json_schema then json_object refused: plain text is used, now and later."""
    openai_server.script = [
        format_refused("json_schema"),
        format_refused("json_object"),
    ]
    client = await make_client()

    first = await client.complete(PROMPT)
    await client.complete(PROMPT)

    formats = [r.body.get("response_format") for r in openai_server.requests]
    assert [f["type"] if f else None for f in formats] == [
        "json_schema",
        "json_object",
        None,
        None,
    ]
    assert not first.repaired


async def test_json_object_is_kept_once_it_works(
    make_client: ClientFactory, openai_server: FakeModelServer
) -> None:
    """After json_schema is refused, later calls ask for json_object directly."""
    openai_server.script = [format_refused("json_schema")]
    client = await make_client()

    await client.complete(PROMPT)
    await client.complete(PROMPT)

    formats = [r.body["response_format"]["type"] for r in openai_server.requests]
    assert formats == ["json_schema", "json_object", "json_object"]


async def test_azure_path_version_and_key_header(
    openai_server: FakeModelServer,
) -> None:
    """Azure calls go to the deployment path with api-version and the api-key header."""
    settings = llm_settings(
        "azure", openai_server.base_url, llm_api_version="2024-10-21"
    )
    client = OpenAIClient.from_settings(settings, "reviewer-deployment")

    answer = await client.complete(PROMPT)
    await client.aclose()

    request = openai_server.requests[0]
    assert request.path == "/openai/deployments/reviewer-deployment/chat/completions"
    assert request.query == {"api-version": "2024-10-21"}
    assert request.headers["api-key"] == API_KEY
    assert answer.model == "reviewer-deployment"
    assert client.provider == "azure"


async def test_unreachable_server_is_transient() -> None:
    """A port where nothing listens raises TransientError."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = OpenAIClient.from_settings(
        llm_settings("openai", f"http://127.0.0.1:{port}/v1"), "test-model"
    )

    with pytest.raises(TransientError, match="could not reach the model server"):
        await client.complete(PROMPT)
    await client.aclose()


async def test_call_is_logged_without_prompt_or_key(
    make_client: ClientFactory,
    openai_server: FakeModelServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One llm.call line with usage and a llm.repair warning; no prompt, no key."""
    openai_server.script = [invalid_json()]
    client = await make_client()
    caplog.set_level(logging.INFO, logger="ai_code_reviewer.llm")

    await client.complete(PROMPT)

    events = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert events == [("WARNING", "llm.repair"), ("INFO", "llm.call")]
    call = caplog.records[1]
    assert call.__dict__["provider"] == "openai"
    assert call.__dict__["prompt_tokens"] == 240
    assert call.__dict__["repaired"] is True
    assert call.__dict__["rejected"] == 0
    logged = str([r.__dict__ for r in caplog.records])
    assert PROMPT.user not in logged
    assert API_KEY not in logged

"""The Anthropic client, through the real SDK, against a fake messages server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ai_code_reviewer.errors import ContextTooLong, LLMError, TransientError
from ai_code_reviewer.llm.answer import answer_schema
from ai_code_reviewer.llm.anthropic import TOOL_NAME, AnthropicClient
from tests.integration.llm.conftest import API_KEY, PROMPT, llm_settings
from tests.modelservers import (
    BAD_FINDING,
    GOOD_FINDING,
    Answer,
    FakeModelServer,
    Slow,
    Text,
    context_too_long,
    invalid_json,
    rate_limited,
    server_error,
    unauthorized,
)

ClientFactory = Callable[..., Awaitable[AnthropicClient]]
CUT = Text('{"summary": "The change', truncated=True)


@pytest.fixture
async def make_client(
    anthropic_server: FakeModelServer,
) -> AsyncIterator[ClientFactory]:
    """Return a factory of clients of the fake server, closed after the test."""
    made: list[AnthropicClient] = []

    async def make(**overrides: Any) -> AnthropicClient:
        settings = llm_settings("anthropic", anthropic_server.base_url, **overrides)
        client = AnthropicClient.from_settings(settings, "test-model")
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


async def test_tool_input_is_parsed(make_client: ClientFactory) -> None:
    """The forced tool's input gives the summary, findings and usage."""
    client = await make_client()

    answer = await client.complete(PROMPT)

    assert answer.summary == "The change reads X from the environment."
    assert [f.title for f in answer.findings] == [GOOD_FINDING["title"]]
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (120, 30)
    assert answer.model == "test-model"
    assert not answer.repaired


async def test_request_forces_the_answer_tool(
    make_client: ClientFactory, anthropic_server: FakeModelServer
) -> None:
    """The request names one tool with the answer schema in tool_choice."""
    client = await make_client()

    await client.complete(PROMPT)

    body = anthropic_server.requests[0].body
    assert body["system"] == PROMPT.system
    assert body["messages"] == [{"role": "user", "content": PROMPT.user}]
    assert body["max_tokens"] == PROMPT.max_output_tokens
    assert [tool["name"] for tool in body["tools"]] == [TOOL_NAME]
    assert body["tools"][0]["input_schema"] == answer_schema()
    assert body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}


async def test_api_key_is_sent_as_the_sdk_sends_it(
    make_client: ClientFactory, anthropic_server: FakeModelServer
) -> None:
    """The API key goes as a bearer token (SDK 2.x) with an anthropic-version."""
    client = await make_client()

    await client.complete(PROMPT)

    headers = anthropic_server.requests[0].headers
    assert headers["authorization"] == f"Bearer {API_KEY}"
    assert headers["anthropic-version"]
    assert anthropic_server.requests[0].path == "/v1/messages"


@pytest.mark.parametrize("bad", [invalid_json(), CUT], ids=["prose", "max_tokens"])
async def test_unreadable_answer_is_repaired_once(
    make_client: ClientFactory, anthropic_server: FakeModelServer, bad: Text
) -> None:
    """A text answer, or one stopped at max_tokens, gets one repair turn."""
    anthropic_server.script = [bad]
    client = await make_client()

    answer = await client.complete(PROMPT)

    assert len(anthropic_server.requests) == 2
    turns = anthropic_server.requests[1].body["messages"]
    assert turns[1] == {"role": "assistant", "content": bad.text}
    assert "could not be used" in turns[2]["content"]
    assert answer.repaired
    assert answer.usage.completion_tokens == 60


async def test_answer_still_invalid_after_repair_fails(
    make_client: ClientFactory, anthropic_server: FakeModelServer
) -> None:
    """Two unreadable answers raise LLMError after two requests."""
    anthropic_server.script = [invalid_json(), CUT]
    client = await make_client()

    with pytest.raises(LLMError, match="still unusable after a repair"):
        await client.complete(PROMPT)

    assert len(anthropic_server.requests) == 2


async def test_bad_finding_is_rejected_and_good_one_kept(
    make_client: ClientFactory, anthropic_server: FakeModelServer
) -> None:
    """One invalid finding in the tool input is rejected; the valid one is kept."""
    anthropic_server.script = [Answer(findings=(BAD_FINDING, GOOD_FINDING))]
    client = await make_client()

    answer = await client.complete(PROMPT)

    assert len(answer.findings) == 1
    assert answer.rejected[0].startswith("finding 0: severity")


async def test_rate_limit_is_transient_with_retry_after(
    make_client: ClientFactory, anthropic_server: FakeModelServer
) -> None:
    """A 429 raises TransientError with Retry-After, after a single request."""
    anthropic_server.script = [rate_limited("12")]
    client = await make_client()

    with pytest.raises(TransientError) as caught:
        await client.complete(PROMPT)

    assert caught.value.retry_after == 12.0
    assert len(anthropic_server.requests) == 1


async def test_server_error_is_transient_without_sdk_retry(
    make_client: ClientFactory, anthropic_server: FakeModelServer
) -> None:
    """A 500 raises TransientError and the SDK does not retry it itself."""
    anthropic_server.script = [server_error()]
    client = await make_client()

    with pytest.raises(TransientError, match="HTTP 500"):
        await client.complete(PROMPT)

    assert len(anthropic_server.requests) == 1


async def test_slow_server_times_out_as_transient(
    make_client: ClientFactory, anthropic_server: FakeModelServer
) -> None:
    """A reply slower than LLM_TIMEOUT raises TransientError."""
    anthropic_server.script = [Slow(3.0)]
    client = await make_client(llm_timeout=0.3)

    with pytest.raises(TransientError, match="did not answer"):
        await client.complete(PROMPT)

    assert len(anthropic_server.requests) == 1


async def test_refused_key_is_not_quoted(
    make_client: ClientFactory, anthropic_server: FakeModelServer
) -> None:
    """A 401 raises LLMError whose message does not contain the key."""
    anthropic_server.script = [unauthorized()]
    client = await make_client()

    with pytest.raises(LLMError, match="refused the API key") as caught:
        await client.complete(PROMPT)

    assert API_KEY not in str(caught.value)


async def test_prompt_too_long_is_context_too_long(
    make_client: ClientFactory, anthropic_server: FakeModelServer
) -> None:
    """Anthropic's 400 "prompt is too long" raises ContextTooLong."""
    message = "prompt is too long: 250000 tokens > 200000 maximum"
    anthropic_server.script = [context_too_long(message)]
    client = await make_client()

    with pytest.raises(ContextTooLong, match="250000 tokens"):
        await client.complete(PROMPT)

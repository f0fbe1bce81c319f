"""Ask an Anthropic model, through one forced tool whose input is the answer.

The Messages API has no JSON mode; a tool whose ``input_schema`` is the answer
schema, named in ``tool_choice``, makes the model answer with that object.
The SDK does not take a temperature, so none is sent.

:meth:`AnthropicClient.check` asks ``GET /v1/models/{model}``, which proves the
key and the model (or its alias) in one request, with no paging of the list.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from anthropic import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncAnthropic,
    DefaultAsyncHttpxClient,
)
from anthropic.types import Message as AnthropicMessage
from anthropic.types import MessageParam, ToolParam

from ai_code_reviewer.errors import ReviewerError
from ai_code_reviewer.llm.answer import answer_schema
from ai_code_reviewer.llm.base import ModelAnswer, ModelPrompt
from ai_code_reviewer.llm.calls import (
    Message,
    Reply,
    answer_prompt,
    api_key,
    connection_error,
    status_error,
    timeout_error,
    tls_verify,
)
from ai_code_reviewer.review.model import Usage
from ai_code_reviewer.settings import Settings

ANTHROPIC_URL = "https://api.anthropic.com"
# Sent to compatible gateways when LLM_API_KEY is unset; the SDK needs a key.
NO_KEY = "none"
TOOL_NAME = "record_review"


class AnthropicClient:
    """Ask one Anthropic model for the findings of a prompt."""

    provider = "anthropic"

    def __init__(self, sdk: AsyncAnthropic, model: str, *, timeout: float) -> None:
        """Wrap ``sdk``, whose own retries must be off."""
        self.model = model
        self._sdk = sdk
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings, model: str) -> AnthropicClient:
        """Build the client from the settings; nothing is read from the environment."""
        sdk = AsyncAnthropic(
            api_key=api_key(settings) or NO_KEY,
            base_url=settings.llm_base_url or ANTHROPIC_URL,
            timeout=settings.llm_timeout,
            max_retries=0,
            http_client=DefaultAsyncHttpxClient(verify=tls_verify(settings)),
        )
        return cls(sdk, model, timeout=settings.llm_timeout)

    async def complete(self, prompt: ModelPrompt) -> ModelAnswer:
        """Return the validated answer to ``prompt``, repaired once if needed."""
        return await answer_prompt(self._send, prompt, self.provider, self.model)

    async def check(self) -> str:
        """Say whether the API answers and knows the model, spending no tokens.

        Raises:
            LLMError: the key was refused, or the API does not know the model.
            TransientError: the API is down, slow, or failing.
        """
        with self._sdk_errors():
            info = await self._sdk.models.retrieve(self.model)
        alias = "" if info.id == self.model else f", an alias of {info.id}"
        return f"reachable, model {self.model} present{alias}"

    async def aclose(self) -> None:
        """Close the SDK's HTTP client."""
        await self._sdk.close()

    async def _send(
        self, prompt: ModelPrompt, conversation: Sequence[Message]
    ) -> Reply:
        """Send one request with the forced tool and read its answer."""
        with self._sdk_errors():
            message = await self._sdk.messages.create(
                model=self.model,
                system=prompt.system,
                messages=_messages(conversation),
                max_tokens=prompt.max_output_tokens,
                tools=[_tool()],
                tool_choice={"type": "tool", "name": TOOL_NAME},
            )
        return _reply(message)

    @contextlib.contextmanager
    def _sdk_errors(self) -> Iterator[None]:
        """Turn the SDK's errors into the project's, the key never quoted."""
        try:
            yield
        except APIStatusError as exc:
            raise self._status_error(exc) from None
        except APITimeoutError as exc:
            raise timeout_error(self._timeout) from exc
        except APIConnectionError as exc:
            raise connection_error(exc) from exc

    def _status_error(self, exc: APIStatusError) -> ReviewerError:
        """Map an HTTP error of the API to the project's error."""
        return status_error(
            exc.status_code,
            exc.response.text,
            exc.response.headers,
            model=self.model,
            secret=self._sdk.api_key,
        )


def _tool() -> ToolParam:
    """Return the one tool the model must call, its input being the answer."""
    return {
        "name": TOOL_NAME,
        "description": "Record the review of the change: a summary and the findings.",
        "input_schema": answer_schema(),
    }


def _messages(conversation: Sequence[Message]) -> list[MessageParam]:
    """Return the conversation as Messages API turns."""
    messages: list[MessageParam] = []
    for turn in conversation:
        if turn.role == "user":
            messages.append({"role": "user", "content": turn.content})
        else:
            messages.append({"role": "assistant", "content": turn.content})
    return messages


def _reply(message: AnthropicMessage) -> Reply:
    """Read the tool's input (or, failing that, the text), usage and stop reason."""
    usage = Usage(message.usage.input_tokens, message.usage.output_tokens)
    truncated = message.stop_reason == "max_tokens"
    for block in message.content:
        if block.type == "tool_use" and block.name == TOOL_NAME:
            return Reply(dict(block.input), usage, truncated)
    texts = [block.text for block in message.content if block.type == "text"]
    return Reply("".join(texts), usage, truncated)

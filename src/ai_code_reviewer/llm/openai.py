"""Ask OpenAI, Azure OpenAI or an OpenAI-compatible server (vLLM, LM Studio...).

The answer is asked for as structured output (``response_format`` of type
``json_schema``, strict). Servers that refuse it with a 400 are asked again
with ``json_object``, then with plain text; what worked is kept for the
client's later calls, so the refusal costs one request per client, not per call.

:meth:`OpenAIClient.check` spends no tokens: it lists the server's models
(``GET /models``). On Azure that list holds the models the resource may deploy,
not its deployments, so there it proves the endpoint, the API version and the
key, while the deployment itself is proven only by a review.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

from openai import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncAzureOpenAI,
    AsyncOpenAI,
    BadRequestError,
    DefaultAsyncHttpxClient,
    Omit,
    omit,
)
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.chat.completion_create_params import ResponseFormat

from ai_code_reviewer.errors import ReviewerError
from ai_code_reviewer.llm.answer import answer_schema
from ai_code_reviewer.llm.base import ModelAnswer, ModelPrompt
from ai_code_reviewer.llm.calls import (
    Message,
    Reply,
    answer_prompt,
    api_key,
    check_error,
    connection_error,
    model_listed,
    status_error,
    timeout_error,
    tls_verify,
)
from ai_code_reviewer.review.model import Usage
from ai_code_reviewer.settings import Settings

logger = logging.getLogger(__name__)

OPENAI_URL = "https://api.openai.com/v1"
# Local servers (vLLM, LM Studio, llama.cpp) take any key, and the SDK refuses
# to start without one; this word is sent when LLM_API_KEY is unset.
NO_KEY = "none"
OutputFormat = Literal["json_schema", "json_object", "text"]
FORMATS: tuple[OutputFormat, ...] = ("json_schema", "json_object", "text")
# Words of a 400 that refuses the asked output format rather than the prompt.
_FORMAT_WORDS = ("response_format", "json_schema", "json_object", "structured output")


class OpenAIClient:
    """Ask one model of an OpenAI-compatible server for the findings of a prompt."""

    def __init__(
        self,
        sdk: AsyncOpenAI,
        model: str,
        *,
        provider: str = "openai",
        timeout: float = 120.0,
        legacy_limit: bool = False,
    ) -> None:
        """Wrap ``sdk``, whose own retries must be off.

        ``legacy_limit`` sends the answer limit as ``max_tokens``, which
        compatible servers know, instead of OpenAI's ``max_completion_tokens``.
        """
        self.provider = provider
        self.model = model
        self._sdk = sdk
        self._timeout = timeout
        self._legacy_limit = legacy_limit
        self._format: OutputFormat = "json_schema"

    @classmethod
    def from_settings(cls, settings: Settings, model: str) -> OpenAIClient:
        """Build the client of LLM_PROVIDER openai or azure from the settings."""
        legacy = settings.llm_provider == "openai" and settings.llm_base_url is not None
        return cls(
            _sdk(settings),
            model,
            provider=settings.llm_provider,
            timeout=settings.llm_timeout,
            legacy_limit=legacy,
        )

    async def complete(self, prompt: ModelPrompt) -> ModelAnswer:
        """Return the validated answer to ``prompt``, repaired once if needed."""
        return await answer_prompt(self._send, prompt, self.provider, self.model)

    async def check(self) -> str:
        """Say whether the server answers and has the model, spending no tokens.

        Raises:
            LLMError: the key was refused, or the server lacks the model.
            TransientError: the server is down, slow, or failing.
        """
        try:
            names = [model.id async for model in self._sdk.models.list()]
        except APIStatusError as exc:
            raise check_error(
                exc.status_code,
                exc.response.text,
                exc.response.headers,
                path="/models",
                model=self.model,
                secret=self._sdk.api_key or None,
            ) from None
        except APITimeoutError as exc:
            raise timeout_error(self._timeout) from exc
        except APIConnectionError as exc:
            raise connection_error(exc) from exc
        if self.provider == "azure":
            return (
                f"reachable, API key accepted ({len(names)} models offered); "
                f"the deployment {self.model} is not checked"
            )
        return model_listed(self.model, names)

    async def aclose(self) -> None:
        """Close the SDK's HTTP client."""
        await self._sdk.close()

    async def _send(
        self, prompt: ModelPrompt, conversation: Sequence[Message]
    ) -> Reply:
        """Send one request, stepping down the output formats the server refuses."""
        while True:
            try:
                completion = await self._create(prompt, conversation)
            except BadRequestError as exc:
                if not self._step_down(exc):
                    raise self._status_error(exc) from None
                continue
            except APIStatusError as exc:
                raise self._status_error(exc) from None
            except APITimeoutError as exc:
                raise timeout_error(self._timeout) from exc
            except APIConnectionError as exc:
                raise connection_error(exc) from exc
            return _reply(completion)

    async def _create(
        self, prompt: ModelPrompt, conversation: Sequence[Message]
    ) -> ChatCompletion:
        """Call the chat completions endpoint once."""
        limit = prompt.max_output_tokens
        return await self._sdk.chat.completions.create(
            model=self.model,
            messages=_messages(prompt, conversation),
            temperature=0,
            response_format=_response_format(self._format),
            max_tokens=limit if self._legacy_limit else omit,
            max_completion_tokens=omit if self._legacy_limit else limit,
        )

    def _step_down(self, exc: BadRequestError) -> bool:
        """Move to the next output format if ``exc`` refuses this one."""
        text = exc.response.text.lower()
        position = FORMATS.index(self._format)
        if position + 1 == len(FORMATS) or not any(w in text for w in _FORMAT_WORDS):
            return False
        refused, self._format = self._format, FORMATS[position + 1]
        logger.warning(
            "llm.format_refused",
            extra={
                "provider": self.provider,
                "model": self.model,
                "refused": refused,
                "next": self._format,
            },
        )
        return True

    def _status_error(self, exc: APIStatusError) -> ReviewerError:
        """Map an HTTP error of the server to the project's error."""
        return status_error(
            exc.status_code,
            exc.response.text,
            exc.response.headers,
            model=self.model,
            secret=self._sdk.api_key or None,
        )


def _sdk(settings: Settings) -> AsyncOpenAI:
    """Build the SDK client, retries off, TLS as configured, nothing from the env."""
    key = api_key(settings) or NO_KEY
    http_client = DefaultAsyncHttpxClient(verify=tls_verify(settings))
    if settings.llm_provider == "azure":
        return AsyncAzureOpenAI(
            azure_endpoint=settings.llm_base_url or "",
            api_version=settings.llm_api_version,
            api_key=key,
            timeout=settings.llm_timeout,
            max_retries=0,
            http_client=http_client,
        )
    return AsyncOpenAI(
        base_url=settings.llm_base_url or OPENAI_URL,
        api_key=key,
        timeout=settings.llm_timeout,
        max_retries=0,
        http_client=http_client,
    )


def _messages(
    prompt: ModelPrompt, conversation: Sequence[Message]
) -> list[ChatCompletionMessageParam]:
    """Return the system prompt and the conversation as chat messages."""
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": prompt.system}
    ]
    for message in conversation:
        if message.role == "user":
            messages.append({"role": "user", "content": message.content})
        else:
            messages.append({"role": "assistant", "content": message.content})
    return messages


def _response_format(name: OutputFormat) -> ResponseFormat | Omit:
    """Return the ``response_format`` that asks for ``name``; none for plain text."""
    if name == "json_schema":
        return {
            "type": "json_schema",
            "json_schema": {
                "name": "review",
                "strict": True,
                "schema": answer_schema(),
            },
        }
    if name == "json_object":
        return {"type": "json_object"}
    return omit


def _reply(completion: ChatCompletion) -> Reply:
    """Read the text, usage and finish reason of a chat completion."""
    usage = Usage()
    if completion.usage is not None:
        usage = Usage(
            completion.usage.prompt_tokens, completion.usage.completion_tokens
        )
    if not completion.choices:
        return Reply("", usage)
    choice = completion.choices[0]
    text = choice.message.content or ""
    return Reply(text, usage, truncated=choice.finish_reason == "length")

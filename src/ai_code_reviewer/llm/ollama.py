"""Ask a model served by Ollama, through its native chat API.

``POST /api/chat`` with ``stream: false`` and the answer schema as ``format``
(Ollama's structured outputs); ``num_ctx`` is set on every call because
Ollama's default window is far smaller than most prompts and it would cut the
prompt silently. See https://github.com/ollama/ollama/blob/main/docs/api.md.

:meth:`OllamaClient.check` lists the pulled models (``GET /api/tags``), so
that a model that was never pulled fails the health check, not the first review.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from ai_code_reviewer.errors import LLMError
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

OLLAMA_URL = "http://127.0.0.1:11434"
# Ollama reads a model name without a tag as the tag "latest".
DEFAULT_TAG = ":latest"


class OllamaClient:
    """Ask one Ollama model for the findings of a prompt."""

    provider = "ollama"

    def __init__(
        self, http: httpx.AsyncClient, model: str, *, secret: str | None = None
    ) -> None:
        """Use ``http``, whose base URL is the Ollama server's."""
        self.model = model
        self._http = http
        self._secret = secret

    @classmethod
    def from_settings(cls, settings: Settings, model: str) -> OllamaClient:
        """Build the client from the settings; the key, if any, goes as a bearer."""
        key = api_key(settings)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        http = httpx.AsyncClient(
            base_url=(settings.llm_base_url or OLLAMA_URL).rstrip("/"),
            headers=headers,
            timeout=settings.llm_timeout,
            verify=tls_verify(settings),
        )
        return cls(http, model, secret=key)

    async def complete(self, prompt: ModelPrompt) -> ModelAnswer:
        """Return the validated answer to ``prompt``, repaired once if needed."""
        return await answer_prompt(self._send, prompt, self.provider, self.model)

    async def check(self) -> str:
        """Say whether the server answers and has pulled the model.

        Raises:
            LLMError: the key was refused, or the model is not pulled.
            TransientError: the server is down, slow, or failing.
        """
        response = await self._request("GET", "/api/tags")
        if response.is_error:
            raise check_error(
                response.status_code,
                response.text,
                response.headers,
                path="/api/tags",
                model=self.model,
                secret=self._secret,
            )
        hint = f"; run `ollama pull {self.model}` on the server"
        return model_listed(_bare(self.model), _pulled(response), hint=hint)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; a timeout or a lost connection is a TransientError."""
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise timeout_error(_seconds(self._http.timeout)) from exc
        except httpx.TransportError as exc:
            raise connection_error(exc) from exc

    async def _send(
        self, prompt: ModelPrompt, conversation: Sequence[Message]
    ) -> Reply:
        """Send one chat request and read its answer."""
        body = _body(self.model, prompt, conversation)
        response = await self._request("POST", "/api/chat", json=body)
        if response.is_error:
            raise status_error(
                response.status_code,
                response.text,
                response.headers,
                model=self.model,
                secret=self._secret,
            )
        return _reply(response)


def _body(
    model: str, prompt: ModelPrompt, conversation: Sequence[Message]
) -> dict[str, Any]:
    """Return the JSON body of one /api/chat request."""
    messages = [{"role": "system", "content": prompt.system}]
    messages += [{"role": turn.role, "content": turn.content} for turn in conversation]
    return {
        "model": model,
        "messages": messages,
        "stream": False,
        "format": answer_schema(),
        "options": {
            "num_ctx": prompt.context_tokens,
            "num_predict": prompt.max_output_tokens,
            "temperature": 0,
        },
    }


def _reply(response: httpx.Response) -> Reply:
    """Read the text, usage and done reason of an /api/chat answer."""
    try:
        data = response.json()
    except ValueError:
        raise LLMError("the Ollama server's answer is not JSON") from None
    if not isinstance(data, dict):
        raise LLMError("the Ollama server's answer is not a JSON object")
    message = data.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    usage = Usage(_count(data.get("prompt_eval_count")), _count(data.get("eval_count")))
    truncated = data.get("done_reason") == "length"
    return Reply(content if isinstance(content, str) else "", usage, truncated)


def _pulled(response: httpx.Response) -> list[str]:
    """Return the names of the models an /api/tags answer lists, tags bared."""
    try:
        data = response.json()
    except ValueError:
        raise LLMError("the Ollama server's model list is not JSON") from None
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list):
        raise LLMError("the Ollama server's model list has no models")
    names = [item.get("name") for item in models if isinstance(item, dict)]
    return [_bare(name) for name in names if isinstance(name, str)]


def _bare(name: str) -> str:
    """Return a model name without its default tag, as Ollama matches names."""
    return name.removesuffix(DEFAULT_TAG)


def _count(value: object) -> int:
    """Return a token count of the answer, 0 when absent."""
    return value if isinstance(value, int) else 0


def _seconds(timeout: httpx.Timeout) -> float:
    """Return the read timeout in seconds, for the error message."""
    return timeout.read or 0.0

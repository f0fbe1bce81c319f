"""Fake model servers on loopback that speak the vendors' real wire formats.

One :class:`FakeModelServer` serves one protocol: OpenAI chat completions
(also on Azure's deployment path), Anthropic messages, or Ollama's native
chat. It answers from a script, one item per request: an :class:`Answer`, raw
:class:`Text` (invalid or cut-off JSON), a :class:`Slow` reply or an HTTP
:class:`Failure`; past the end of the script it gives a default valid answer.
The read-only endpoints that health checks use (OpenAI's and Azure's model
list, Anthropic's model lookup, Ollama's tags and version) answer from
``models`` and take their reply from the same script, whose Answer or Text
items then mean "answer normally". Every request is recorded (path, query,
headers, JSON body; ``{}`` for a GET) for the tests to check what the clients
sent. The server is a Starlette app run by uvicorn in a
background thread, on a free port of 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

Protocol = Literal["openai", "anthropic", "ollama"]

GOOD_FINDING: dict[str, Any] = {
    "path": "app.py",
    "line": 2,
    "end_line": None,
    "severity": "major",
    "category": "security",
    "title": "eval of an environment variable",
    "body": "Anyone who sets X runs code.",
    "suggestion": None,
}
# A finding the schema refuses: no such severity.
BAD_FINDING: dict[str, Any] = {**GOOD_FINDING, "severity": "catastrophic"}


@dataclass(frozen=True)
class Answer:
    """A valid answer with this summary and these findings (raw dicts)."""

    summary: str = "The change reads X from the environment."
    findings: tuple[dict[str, Any], ...] = (GOOD_FINDING,)
    prompt_tokens: int = 120
    completion_tokens: int = 30

    def document(self) -> dict[str, Any]:
        """Return the answer object the schema describes."""
        return {"summary": self.summary, "findings": list(self.findings)}


@dataclass(frozen=True)
class Text:
    """An answer whose text is sent as is; ``truncated`` marks the output limit."""

    text: str
    truncated: bool = False
    prompt_tokens: int = 120
    completion_tokens: int = 30


@dataclass(frozen=True)
class Failure:
    """An HTTP error answer; ``{key}`` in the message is the key the server got."""

    status: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    code: str | None = None


@dataclass(frozen=True)
class Slow:
    """A reply sent after ``seconds``."""

    seconds: float
    then: Answer | Text | Failure = field(default_factory=Answer)


Reply = Answer | Text | Failure | Slow


def invalid_json() -> Text:
    """Return an answer in prose, not JSON."""
    return Text("The change looks fine to me, nothing to report.")


def truncated_json() -> Text:
    """Return an answer cut off by the output limit in the middle of its JSON."""
    return Text('{"summary": "The change reads X", "findings": [{"path": "ap', True)


def rate_limited(retry_after: str = "7") -> Failure:
    """Return a 429 that asks to wait ``retry_after`` seconds."""
    return Failure(429, "Rate limit reached.", {"Retry-After": retry_after})


def server_error() -> Failure:
    """Return a 500."""
    return Failure(500, "The server had an error while processing your request.")


def unauthorized() -> Failure:
    """Return a 401 that, like OpenAI's, quotes the refused key."""
    return Failure(401, "Incorrect API key provided: {key}.", code="invalid_api_key")


def context_too_long(message: str | None = None) -> Failure:
    """Return the 400 of a prompt longer than the model's context."""
    default = (
        "This model's maximum context length is 8192 tokens. However, your "
        "messages resulted in 9000 tokens."
    )
    return Failure(400, message or default, code="context_length_exceeded")


def format_refused(kind: str = "json_schema") -> Failure:
    """Return the 400 of a server that does not support a response_format."""
    return Failure(400, f"response_format type {kind} is not supported by this server")


@dataclass(frozen=True)
class Recorded:
    """One request the fake server received."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]


class FakeModelServer:
    """Serve one model protocol on 127.0.0.1 from a script of replies."""

    def __init__(self, protocol: Protocol, tls: tuple[str, str] | None = None) -> None:
        """Prepare the server; ``tls`` is (certificate file, key file) for HTTPS."""
        self.protocol = protocol
        self.script: list[Reply] = []
        self.requests: list[Recorded] = []
        self.models: list[str] = ["test-model"]
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        host, port = self._socket.getsockname()
        self.base_url = f"{'https' if tls else 'http'}://{host}:{port}"
        config = uvicorn.Config(
            self._app(),
            # Leave logging alone: uvicorn's own config would change the levels
            # of the uvicorn loggers for the whole test process.
            log_config=None,
            lifespan="off",
            ws="none",
            http="h11",
            ssl_certfile=tls[0] if tls else None,
            ssl_keyfile=tls[1] if tls else None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> None:
        """Serve in a background thread; return once the server listens."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake model server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop serving, not waiting for slow replies still asleep."""
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(timeout=10)
        self._socket.close()

    def _app(self) -> Starlette:
        """Return the app with the protocol's routes."""
        paths = {
            "openai": [
                "/v1/chat/completions",
                "/openai/deployments/{name}/chat/completions",
            ],
            "anthropic": ["/v1/messages"],
            "ollama": ["/api/chat"],
        }[self.protocol]
        routes = [Route(path, self._handle, methods=["POST"]) for path in paths]
        routes += [
            Route(path, self._handle_get, methods=["GET"])
            for path in _READ_PATHS[self.protocol]
        ]
        return Starlette(routes=routes)

    async def _handle(self, request: Request) -> JSONResponse:
        """Record the request and answer with the next item of the script."""
        body = await request.json()
        reply, headers = await self._next_reply(request, body)
        if isinstance(reply, Failure):
            return self._failure(reply, _key(headers))
        return JSONResponse(_RENDERERS[self.protocol](reply, body))

    async def _handle_get(self, request: Request) -> JSONResponse:
        """Record a read-only request; answer from ``models`` or the script."""
        reply, headers = await self._next_reply(request, {})
        if isinstance(reply, Failure):
            return self._failure(reply, _key(headers))
        path = request.url.path
        if path.endswith("/version"):
            return JSONResponse({"version": "0.6.2"})
        if path.endswith("/tags"):
            return JSONResponse({"models": [_ollama_tag(n) for n in self.models]})
        name = request.path_params.get("model_id")
        if name is None:
            return JSONResponse(_model_list(self.protocol, self.models))
        if name not in self.models:
            missing = Failure(404, f"model: {name}", code="not_found_error")
            return self._failure(missing, "")
        return JSONResponse(_anthropic_model(name))

    async def _next_reply(
        self, request: Request, body: dict[str, Any]
    ) -> tuple[Answer | Text | Failure, dict[str, str]]:
        """Record the request; return the script's next reply, after any delay."""
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.requests.append(
            Recorded(request.url.path, dict(request.query_params), headers, body)
        )
        reply = self.script.pop(0) if self.script else Answer()
        if isinstance(reply, Slow):
            await asyncio.sleep(reply.seconds)
            reply = reply.then
        return reply, headers

    def _failure(self, failure: Failure, key: str) -> JSONResponse:
        """Answer an error in the protocol's own error envelope."""
        message = failure.message.replace("{key}", key)
        content: dict[str, Any]
        if self.protocol == "openai":
            error = {"message": message, "type": "error", "param": None}
            content = {"error": {**error, "code": failure.code}}
        elif self.protocol == "anthropic":
            error_type = failure.code or "api_error"
            content = {
                "type": "error",
                "error": {"type": error_type, "message": message},
            }
        else:
            content = {"error": message}
        return JSONResponse(content, failure.status, headers=failure.headers)


@contextlib.contextmanager
def serving(
    protocol: Protocol, tls: tuple[str, str] | None = None
) -> Iterator[FakeModelServer]:
    """Run a fake server of ``protocol`` for the block and stop it afterwards."""
    server = FakeModelServer(protocol, tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _key(headers: dict[str, str]) -> str:
    """Return the credential the client sent, in any vendor's header."""
    bearer = headers.get("authorization", "").removeprefix("Bearer ")
    return headers.get("x-api-key") or headers.get("api-key") or bearer


def _text(reply: Answer | Text) -> tuple[str, bool]:
    """Return the answer's text and whether it was cut off."""
    if isinstance(reply, Answer):
        return json.dumps(reply.document()), False
    return reply.text, reply.truncated


def _openai(reply: Answer | Text, body: dict[str, Any]) -> dict[str, Any]:
    """Render a chat completion."""
    text, cut = _text(reply)
    usage = {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": text, "refusal": None},
        "finish_reason": "length" if cut else "stop",
        "logprobs": None,
    }
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fake"),
        "choices": [choice],
        "usage": usage,
    }


def _anthropic(reply: Answer | Text, body: dict[str, Any]) -> dict[str, Any]:
    """Render a message: a tool_use block for an answer, a text block otherwise."""
    block: dict[str, Any]
    if isinstance(reply, Answer):
        tool = body.get("tool_choice", {}).get("name", "tool")
        block = {"type": "tool_use", "id": "toolu_fake", "name": tool}
        block["input"] = reply.document()
        stop = "tool_use"
    else:
        block = {"type": "text", "text": reply.text}
        stop = "max_tokens" if reply.truncated else "end_turn"
    usage = {
        "input_tokens": reply.prompt_tokens,
        "output_tokens": reply.completion_tokens,
    }
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "fake"),
        "content": [block],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage,
    }


def _ollama(reply: Answer | Text, body: dict[str, Any]) -> dict[str, Any]:
    """Render an /api/chat answer with stream false."""
    text, cut = _text(reply)
    return {
        "model": body.get("model", "fake"),
        "created_at": "2025-01-07T12:00:00Z",
        "message": {"role": "assistant", "content": text},
        "done": True,
        "done_reason": "length" if cut else "stop",
        "prompt_eval_count": reply.prompt_tokens,
        "eval_count": reply.completion_tokens,
    }


_RENDERERS = {"openai": _openai, "anthropic": _anthropic, "ollama": _ollama}
# The read-only endpoints of each protocol: OpenAI's and Azure's model list,
# Anthropic's model list and lookup, Ollama's pulled models and version.
_READ_PATHS: dict[Protocol, list[str]] = {
    "openai": ["/v1/models", "/openai/models"],
    "anthropic": ["/v1/models", "/v1/models/{model_id}"],
    "ollama": ["/api/tags", "/api/version"],
}


def _model_list(protocol: Protocol, names: list[str]) -> dict[str, Any]:
    """Render an OpenAI (and Azure) or Anthropic list of models."""
    if protocol == "anthropic":
        data = [_anthropic_model(name) for name in names]
        first, last = (names[0], names[-1]) if names else (None, None)
        return {"data": data, "has_more": False, "first_id": first, "last_id": last}
    models = [
        {"id": name, "object": "model", "created": 0, "owned_by": "fake"}
        for name in names
    ]
    return {"object": "list", "data": models}


def _anthropic_model(name: str) -> dict[str, Any]:
    """Render one Anthropic model object."""
    return {
        "type": "model",
        "id": name,
        "display_name": name.title(),
        "created_at": "2025-01-07T12:00:00Z",
    }


def _ollama_tag(name: str) -> dict[str, Any]:
    """Render one model of Ollama's /api/tags, named with its tag as Ollama does."""
    full = name if ":" in name else f"{name}:latest"
    return {
        "name": full,
        "model": full,
        "modified_at": "2025-01-07T12:00:00Z",
        "size": 9_000_000_000,
        "digest": "0" * 64,
        "details": {"format": "gguf", "parameter_size": "14.8B"},
    }

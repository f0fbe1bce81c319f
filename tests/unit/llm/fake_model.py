"""An in-memory ModelClient: scripted answers, every prompt recorded.

It speaks the real interface: answers are JSON texts read with
:func:`read_answer`, as a vendor client reads its model's reply, so findings
that do not validate are rejected the same way; errors are the project's own.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ai_code_reviewer.llm.answer import read_answer
from ai_code_reviewer.llm.base import ModelAnswer, ModelPrompt
from ai_code_reviewer.review.budget import estimate_tokens
from ai_code_reviewer.review.model import Usage

# One step of a script: an answer object, a raw answer text, or an error to raise.
Step = dict[str, Any] | str | BaseException
Responder = Callable[[ModelPrompt], Step]
_FILE_HEADER = re.compile(r"^### (\S+)", re.M)


def quiet(prompt: ModelPrompt) -> Step:
    """Answer every prompt with a short summary and no findings."""
    return {
        "summary": f"Part with {len(files_in(prompt))} files looks fine.",
        "findings": [],
    }


def files_in(prompt: ModelPrompt) -> list[str]:
    """Return the paths of the files whose diff a prompt carries."""
    return _FILE_HEADER.findall(prompt.user)


def finding(path: str, line: int | None, **fields: Any) -> dict[str, Any]:
    """Return a finding object as a model writes it, with sensible defaults."""
    return {
        "path": path,
        "line": line,
        "end_line": fields.get("end_line"),
        "severity": fields.get("severity", "major"),
        "category": fields.get("category", "bug"),
        "title": fields.get("title", "Wrong result"),
        "body": fields.get("body", "The value is wrong."),
        "suggestion": fields.get("suggestion"),
    }


@dataclass
class FakeModelClient:
    """Answer prompts from ``script`` first, then from ``respond``."""

    model: str = "fake-model"
    provider: str = "fake"
    script: list[Step] = field(default_factory=list)
    respond: Responder = quiet
    delay: float = 0.0
    prompts: list[ModelPrompt] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    closed: bool = False

    async def complete(self, prompt: ModelPrompt) -> ModelAnswer:
        """Record ``prompt`` and return (or raise) the next scripted step."""
        self.prompts.append(prompt)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
            step = self.script.pop(0) if self.script else self.respond(prompt)
        finally:
            self.in_flight -= 1
        if isinstance(step, BaseException):
            raise step
        text = step if isinstance(step, str) else json.dumps(step)
        read = read_answer(text)
        usage = Usage(
            estimate_tokens(prompt.system + prompt.user), estimate_tokens(text)
        )
        return ModelAnswer(
            read.summary, read.findings, usage, self.model, read.rejected
        )

    async def check(self) -> str:
        """Answer as a server that knows the model."""
        return f"fake server has {self.model}"

    async def aclose(self) -> None:
        """Remember that the client was closed."""
        self.closed = True

"""The shape every model must answer in, and how an answer is read.

A model answers one JSON object, ``{"summary": ..., "findings": [...]}``. The
providers ask for it in the strongest way their API has (a JSON schema, a
forced tool call, Ollama's ``format``) and hand the text or object they got to
:func:`read_answer`. It accepts the findings that validate and lists why the
others were left out, so one bad finding does not cost the good ones; only an
answer with no usable summary and findings list is refused, and the provider
then sends :func:`repair_request` once.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ai_code_reviewer.errors import LLMError
from ai_code_reviewer.review.model import Finding

# The schema is sent with every call; keep the descriptions short.
_TITLE_MAX = 200
_BODY_MAX = 4000
_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*?)\n?```\s*$", re.S)


class InvalidAnswer(LLMError):
    """The model's answer is not the JSON object the schema asks for."""


class FindingModel(BaseModel):
    """One finding as the model writes it."""

    model_config = ConfigDict(extra="ignore")

    path: str = Field(min_length=1, description="File path as in the diff.")
    line: int | None = Field(
        default=None, ge=1, description="Line in the new file; null for the file."
    )
    end_line: int | None = Field(default=None, ge=1)
    severity: Literal["critical", "major", "minor", "info"]
    category: Literal[
        "bug", "security", "performance", "maintainability", "style", "test"
    ]
    title: str = Field(min_length=1, max_length=_TITLE_MAX)
    body: str = Field(default="", max_length=_BODY_MAX)
    suggestion: str | None = Field(
        default=None, description="Replacement code for the lines, if any."
    )

    def to_finding(self) -> Finding:
        """Return the review's own finding object."""
        end_line = self.end_line
        if end_line is not None and (self.line is None or end_line < self.line):
            end_line = None
        return Finding(
            path=self.path.strip(),
            line=self.line,
            severity=self.severity,
            category=self.category,
            title=self.title.strip(),
            body=self.body.strip(),
            suggestion=self.suggestion or None,
            end_line=end_line,
        )


class AnswerModel(BaseModel):
    """The whole answer as the schema describes it."""

    model_config = ConfigDict(extra="ignore")

    summary: str = Field(description="Two to five sentences on the change.")
    findings: list[FindingModel]


@dataclass(frozen=True)
class ReadAnswer:
    """What :func:`read_answer` kept of an answer, and what it left out."""

    summary: str
    findings: tuple[Finding, ...]
    rejected: tuple[str, ...]


def answer_schema() -> dict[str, Any]:
    """Return the JSON schema of an answer, with no references to resolve.

    Providers that take a strict schema (OpenAI's structured outputs, Ollama's
    ``format``) need every object closed and every property listed; this
    schema is written for them and is also valid as an Anthropic tool input.
    """
    finding = {
        "type": "object",
        "properties": {
            "path": {"type": "string"},
            "line": {"type": ["integer", "null"]},
            "end_line": {"type": ["integer", "null"]},
            "severity": {
                "type": "string",
                "enum": ["critical", "major", "minor", "info"],
            },
            "category": {
                "type": "string",
                "enum": [
                    "bug",
                    "security",
                    "performance",
                    "maintainability",
                    "style",
                    "test",
                ],
            },
            "title": {"type": "string"},
            "body": {"type": "string"},
            "suggestion": {"type": ["string", "null"]},
        },
        "required": [
            "path",
            "line",
            "end_line",
            "severity",
            "category",
            "title",
            "body",
            "suggestion",
        ],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "summary": {"type": "string"},
            "findings": {"type": "array", "items": finding},
        },
        "required": ["summary", "findings"],
        "additionalProperties": False,
    }


def read_answer(answer: str | dict[str, Any]) -> ReadAnswer:
    """Return the valid findings of ``answer`` and why each other one was left out.

    Raises:
        InvalidAnswer: the answer is not a JSON object with a string summary and
            a findings list.
    """
    data = _load(answer) if isinstance(answer, str) else answer
    summary, items = data.get("summary"), data.get("findings")
    if not isinstance(summary, str) or not isinstance(items, list):
        raise InvalidAnswer("the answer needs a string 'summary' and a list 'findings'")
    findings: list[Finding] = []
    rejected: list[str] = []
    for index, item in enumerate(items):
        try:
            findings.append(FindingModel.model_validate(item).to_finding())
        except ValidationError as exc:
            rejected.append(f"finding {index}: {_first_problem(exc)}")
    return ReadAnswer(summary.strip(), tuple(findings), tuple(rejected))


def repair_request(problem: str) -> str:
    """Return the message that asks the model, once, to answer in the schema."""
    return (
        "Your previous answer could not be used: "
        f"{problem}. Answer again with only the JSON object "
        '{"summary": string, "findings": [...]} described in the instructions, '
        "with no text before or after it."
    )


def _load(text: str) -> dict[str, Any]:
    """Parse the answer's text as one JSON object, unwrapping a Markdown fence."""
    fenced = _FENCE.match(text)
    body = fenced[1] if fenced else text.strip()
    if not body.startswith("{"):
        # Some models say a sentence before the object; take the outermost braces.
        start, end = body.find("{"), body.rfind("}")
        body = body[start : end + 1] if 0 <= start < end else body
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidAnswer(f"the answer is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise InvalidAnswer("the answer is JSON but not an object")
    return data


def _first_problem(exc: ValidationError) -> str:
    """Describe the first problem of a finding that did not validate."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "finding"
    return f"{where}: {error['msg']}"

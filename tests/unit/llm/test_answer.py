"""Reading a model's answer: the schema, partial acceptance, the repair message."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ai_code_reviewer.errors import LLMError
from ai_code_reviewer.llm.answer import (
    FindingModel,
    InvalidAnswer,
    answer_schema,
    read_answer,
    repair_request,
)


def finding(**overrides: Any) -> dict[str, Any]:
    """Return a valid finding as a model writes it, with ``overrides``."""
    values: dict[str, Any] = {
        "path": "app.py",
        "line": 3,
        "end_line": None,
        "severity": "major",
        "category": "security",
        "title": "eval of input",
        "body": "Do not eval environment values.",
        "suggestion": None,
    }
    values.update(overrides)
    return values


def test_valid_answer_gives_its_findings() -> None:
    """A valid JSON answer gives its summary and every finding."""
    text = json.dumps({"summary": " Risky. ", "findings": [finding(), finding(line=4)]})

    read = read_answer(text)

    assert read.summary == "Risky."
    assert [f.line for f in read.findings] == [3, 4]
    assert read.findings[0].category == "security"
    assert read.rejected == ()


def test_fenced_answer_and_leading_sentence_are_unwrapped() -> None:
    """A ```json fence or a sentence before the object does not hide the answer."""
    body = json.dumps({"summary": "ok", "findings": []})

    fenced = read_answer(f"```json\n{body}\n```")
    chatty = read_answer(f"Here is the review: {body}")

    assert fenced.summary == chatty.summary == "ok"


def test_invalid_findings_are_rejected_and_valid_ones_kept() -> None:
    """One bad finding is listed with its reason; the good ones are kept."""
    items = [finding(), finding(severity="blocker"), "not an object", finding(line=0)]

    read = read_answer({"summary": "s", "findings": items})

    assert len(read.findings) == 1
    assert len(read.rejected) == 3
    assert read.rejected[0].startswith("finding 1: severity")


def test_end_line_before_line_is_dropped() -> None:
    """An end_line before the start line is dropped rather than kept backwards."""
    read = read_answer({"summary": "s", "findings": [finding(line=9, end_line=4)]})

    assert read.findings[0].end_line is None


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ('{"summary": "cut off', "not valid JSON"),
        ("[1, 2]", "not an object"),
        ('{"findings": []}', "string 'summary'"),
        ('{"summary": "s", "findings": {}}', "list 'findings'"),
        ("no JSON at all", "not valid JSON"),
    ],
)
def test_unusable_answers_raise_invalid_answer(answer: str, problem: str) -> None:
    """Truncated, non-object or wrongly shaped answers raise InvalidAnswer."""
    with pytest.raises(InvalidAnswer, match=problem) as caught:
        read_answer(answer)

    assert isinstance(caught.value, LLMError)


def test_schema_is_closed_and_lists_every_property() -> None:
    """The schema suits strict structured output: closed objects, all required."""
    schema = answer_schema()
    item = schema["properties"]["findings"]["items"]

    assert schema["additionalProperties"] is False
    assert item["additionalProperties"] is False
    assert set(item["required"]) == set(item["properties"])
    assert set(item["properties"]) == set(FindingModel.model_fields)


def test_repair_request_names_the_problem() -> None:
    """The repair message says what was wrong and asks for the object alone."""
    message = repair_request("the answer is not valid JSON")

    assert "not valid JSON" in message
    assert '"findings"' in message

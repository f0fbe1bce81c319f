"""ruff in the built-in reviewer: the severity mapping, and added lines only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ai_code_reviewer.errors import LLMError
from ai_code_reviewer.llm import ruff
from ai_code_reviewer.llm.builtin import BuiltinReviewer
from ai_code_reviewer.review.diff import parse_unified_diff
from ai_code_reviewer.review.model import Category, Diff, Severity
from tests.unit.llm.test_builtin import file_diff

SOURCE = """import os


def run(expression):
    return eval(expression)


def use():
    return missing_name + 1
"""


@pytest.mark.parametrize(
    ("code", "severity", "category"),
    [
        ("invalid-syntax", "critical", "bug"),
        ("E999", "critical", "bug"),
        ("F821", "major", "bug"),
        ("F632", "major", "bug"),
        ("F401", "minor", "maintainability"),
        ("F841", "minor", "maintainability"),
        ("F541", "info", "style"),
        ("B006", "major", "bug"),
        ("B007", "minor", "bug"),
        ("B904", "minor", "maintainability"),
        ("S307", "major", "security"),
        ("S105", "major", "security"),
        ("S311", "minor", "security"),
        ("PLE1142", "major", "bug"),
        ("ASYNC251", "major", "performance"),
        ("X123", "minor", "maintainability"),
    ],
)
def test_codes_map_to_a_severity_and_category(
    code: str, severity: Severity, category: Category
) -> None:
    """Each ruff code family gets a sensible severity and category."""
    assert ruff.classify(code) == (severity, category)


def test_the_installed_ruff_is_found_with_its_version() -> None:
    """find_ruff() runs the ruff package's program and reads its version."""
    found = ruff.find_ruff()

    done = subprocess.run(
        [found.binary, "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["ruff", found.version]


def test_check_reports_each_problem_of_the_whole_text_at_its_line() -> None:
    """ruff sees the whole file: the unused import, eval and the undefined name."""
    diagnostics = ruff.find_ruff().check("app/run.py", SOURCE)

    assert {(d.code, d.line) for d in diagnostics} == {
        ("F401", 1),
        ("S307", 5),
        ("F821", 9),
    }


def test_only_problems_on_added_lines_become_findings() -> None:
    """Problems on lines the change did not add are left out."""
    diagnostics = ruff.find_ruff().check("app/run.py", SOURCE)

    findings = ruff.added_line_findings("app/run.py", diagnostics, {8, 9})

    [finding] = findings
    assert (finding.path, finding.line) == ("app/run.py", 9)
    assert (finding.severity, finding.category) == ("major", "bug")
    assert finding.title == "Undefined name `missing_name` (ruff F821)"
    assert "undefined-name" in finding.body


def test_a_syntax_error_is_a_critical_bug() -> None:
    """Text that does not parse gives a critical finding on the broken line."""
    diagnostics = ruff.find_ruff().check("app/bad.py", "x = 1\ndef f(:\n    pass\n")

    findings = ruff.added_line_findings("app/bad.py", diagnostics, {2})

    assert findings
    assert {(f.line, f.severity, f.category) for f in findings} == {
        (2, "critical", "bug")
    }


def test_a_finding_over_several_lines_keeps_its_end_and_fix() -> None:
    """end_line closes a range over lines, and ruff's fix is named in the body."""
    diagnostic = ruff.Diagnostic(
        "F401", "unused-import", "`os` imported but unused", 3, 5, "Remove it"
    )

    finding = ruff.to_finding("a.py", diagnostic)

    assert (finding.line, finding.end_line) == (3, 5)
    assert "Its fix: Remove it." in finding.body


def write_program(path: Path, body: str) -> str:
    """Write an executable Python script that stands in for ruff."""
    path.write_text(f"#!{sys.executable}\n{body}\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("import sys; sys.exit(2)", "ruff failed on a.py"),
        ("print('not json')", "not the JSON it documents"),
        ("import time; time.sleep(10)", "ruff took longer than 0.5 seconds on a.py"),
    ],
)
def test_a_failing_ruff_is_an_llm_error(tmp_path: Path, body: str, error: str) -> None:
    """A ruff that fails, answers garbage or hangs raises LLMError, not a crash."""
    program = ruff.Ruff(write_program(tmp_path / "ruff", body), "0.0", timeout=0.5)

    with pytest.raises(LLMError, match=error):
        program.check("a.py", "x = 1\n")


def python_change(path: str, lines: list[str], added: set[int]) -> tuple[Diff, str]:
    """Return the diff adding ``added`` (1-based) of ``lines``, and the new text."""
    body = [f"{'+' if n in added else ' '}{line}" for n, line in enumerate(lines, 1)]
    text = "\n".join(lines) + "\n"
    old_count = len(lines) - len(added)
    header = [f"diff --git a/{path} b/{path}", f"--- a/{path}", f"+++ b/{path}"]
    hunk = f"@@ -1,{old_count} +1,{len(lines)} @@"
    return parse_unified_diff("\n".join([*header, hunk, *body]) + "\n"), text


async def test_builtin_reviewer_adds_ruff_findings_on_added_lines() -> None:
    """With the files' text, ruff's finding on an added line joins the rules'."""
    diff, text = python_change("app/run.py", SOURCE.splitlines(), {9})

    result = await BuiltinReviewer(sources={"app/run.py": text}.get).review(diff)

    assert [(f.line, f.title) for f in result.findings] == [
        (9, "Undefined name `missing_name` (ruff F821)")
    ]
    assert f"ruff {ruff.find_ruff().version} checked 1 of 1 Python file" in (
        result.summary
    )


async def test_ruff_adds_nothing_where_a_rule_found_the_same_kind() -> None:
    """eval on an added line is one security finding (the rule's), not two."""
    diff, text = python_change("app/run.py", SOURCE.splitlines(), {5})

    result = await BuiltinReviewer(sources={"app/run.py": text}.get).review(diff)

    assert [(f.line, f.category, f.title) for f in result.findings] == [
        (5, "security", "Code run from a string")
    ]


async def test_summary_says_why_ruff_did_not_run() -> None:
    """No sources, no Python file, or a missing text: the summary says which."""
    diff, _ = python_change("app/run.py", SOURCE.splitlines(), {9})
    markdown = parse_unified_diff(file_diff("README.md", "+# Title"))
    nothing: dict[str, str] = {}

    without_sources = await BuiltinReviewer().review(diff)
    no_python = await BuiltinReviewer(sources=nothing.get).review(markdown)
    no_text = await BuiltinReviewer(sources=nothing.get).review(diff)

    assert "ruff did not run: it was given the diff, not the files." in (
        without_sources.summary
    )
    assert "ruff did not run: no Python file gained lines." in no_python.summary
    assert "Not checked: the text of app/run.py was not at hand." in no_text.summary
    assert no_text.findings == without_sources.findings == ()

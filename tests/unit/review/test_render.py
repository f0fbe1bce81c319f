"""A review written as Markdown: summary, counts, findings by file, skipped files."""

from __future__ import annotations

from typing import Any

from ai_code_reviewer.review.model import Finding, ReviewResult, Skipped
from ai_code_reviewer.review.render import count_line, render_markdown, severity_counts


def make_finding(**overrides: Any) -> Finding:
    """Return a finding with plain defaults, changed by ``overrides``."""
    values: dict[str, Any] = {
        "path": "src/app.py",
        "line": 12,
        "severity": "major",
        "category": "bug",
        "title": "Off by one",
        "body": "The loop stops one item early.",
    }
    values.update(overrides)
    return Finding(**values)


def make_result(
    *findings: Finding,
    skipped: tuple[Skipped, ...] = (),
    cut: tuple[str, ...] = (),
) -> ReviewResult:
    """Return a review result of ``findings`` by a test reviewer."""
    return ReviewResult(
        "Mostly fine.", findings, "builtin", "builtin-rules-1", skipped=skipped, cut=cut
    )


def test_severity_counts_lists_every_severity_most_severe_first() -> None:
    """Each severity has a count, zero included, in the order critical to info."""
    findings = [make_finding(severity="minor"), make_finding(), make_finding()]

    counts = severity_counts(findings)

    assert list(counts.items()) == [
        ("critical", 0),
        ("major", 2),
        ("minor", 1),
        ("info", 0),
    ]


def test_count_line_names_only_the_severities_present() -> None:
    """The count line reads "2 major, 1 minor", or "no findings"."""
    findings = [make_finding(severity="minor"), make_finding(), make_finding()]

    assert count_line(findings) == "2 major, 1 minor"
    assert count_line([]) == "no findings"


def test_render_starts_with_title_summary_and_counts() -> None:
    """The title, the summary and the count line come first, in that order."""
    text = render_markdown(make_result(make_finding()), title="Review of 1a2b3c4")

    assert text.startswith(
        "# Review of 1a2b3c4\n\nMostly fine.\n\n**Findings:** 1 major\n\n"
    )
    assert text.endswith("_Reviewed by builtin (builtin-rules-1)._\n")


def test_findings_are_grouped_by_file_and_ordered_by_line() -> None:
    """Each file has a heading, and its findings follow in line order."""
    result = make_result(
        make_finding(path="b.py", line=30, title="Late"),
        make_finding(path="a.py", line=5, title="Only"),
        make_finding(path="b.py", line=2, severity="info", title="Early"),
    )

    text = render_markdown(result)

    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## `a.py`", "## `b.py`"]
    assert text.index("(line 2) Early") < text.index("(line 30) Late")
    assert "- **info** (line 2) Early — The loop stops one item early." in text


def test_finding_without_path_or_line_goes_under_the_whole_change() -> None:
    """A finding about no file is listed first, and without a line number."""
    result = make_result(make_finding(path="", line=None, title="No tests", body=""))

    text = render_markdown(result)

    assert "## The whole change\n\n- **major** No tests\n" in text


def test_suggestion_is_fenced_inside_the_list_item() -> None:
    """A suggestion becomes an indented fenced block under its finding."""
    result = make_result(make_finding(suggestion="for i in range(n + 1):\n    use(i)"))

    text = render_markdown(result)

    assert "\n\n  ```\n  for i in range(n + 1):\n      use(i)\n  ```\n" in text


def test_fence_outgrows_backticks_in_the_suggestion() -> None:
    """A suggestion that holds a fence is wrapped in a longer one."""
    result = make_result(make_finding(suggestion="```py\nx = 1\n```"))

    text = render_markdown(result)

    assert "  ````\n  ```py\n  x = 1\n  ```\n  ````" in text


def test_skipped_files_are_listed_and_empty_review_says_no_findings() -> None:
    """Skipped files get their own list; with no findings the count says so."""
    skipped = (Skipped("logo.png", "binary file"), Skipped("yarn.lock", "lock file"))
    text = render_markdown(make_result(skipped=skipped))

    assert "**Findings:** no findings" in text
    assert (
        "## Skipped files\n\n- `logo.png`: binary file\n- `yarn.lock`: lock file"
        in text
    )


def test_files_reviewed_in_part_are_listed() -> None:
    """What a budget cut from a file is said in its own section."""
    text = render_markdown(make_result(cut=("`big.py`: lines 400-900 left out",)))

    assert "## Reviewed in part\n\n- `big.py`: lines 400-900 left out" in text

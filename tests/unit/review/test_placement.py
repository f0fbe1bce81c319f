"""Findings checked against the added lines, merged across chunks, sorted."""

from __future__ import annotations

from dataclasses import replace

from ai_code_reviewer.review.diff import parse_unified_diff
from ai_code_reviewer.review.model import FileDiff, Finding, Severity
from ai_code_reviewer.review.placement import (
    deduplicate,
    merge_findings,
    normalise_path,
    place_findings,
)

DIFF = """\
diff --git a/app/calc.py b/app/calc.py
--- a/app/calc.py
+++ b/app/calc.py
@@ -10,3 +10,5 @@
 def total(items):
-    return sum(items)
+    value = sum(items)
+    value += 1
+    return value
 # end
"""


def files() -> tuple[FileDiff, ...]:
    """Return the files of DIFF (added lines 11 to 13)."""
    return parse_unified_diff(DIFF).files


def make(path: str = "app/calc.py", line: int | None = 11, **fields: object) -> Finding:
    """Return a finding with defaults for the fields a test does not care about."""
    base = Finding(path, line, "major", "bug", "Off by one", "It adds one.")
    return replace(base, **fields)  # type: ignore[arg-type]


def test_a_finding_on_an_added_line_stays_inline() -> None:
    """Path and lines on added lines are kept as the model gave them."""
    [placed] = place_findings([make(line=11, end_line=13)], files())

    assert (placed.path, placed.line, placed.end_line) == ("app/calc.py", 11, 13)
    assert placed.body == "It adds one."


def test_an_end_line_off_the_added_lines_is_dropped() -> None:
    """A range ending on a line the change did not add keeps only its first line."""
    [placed] = place_findings([make(line=12, end_line=14)], files())

    assert (placed.line, placed.end_line) == (12, None)


def test_a_finding_on_another_line_becomes_file_level() -> None:
    """A context line or a line outside the hunks moves the finding to the file."""
    placed = place_findings([make(line=10), make(line=40, title="Far")], files())

    assert [(f.path, f.line) for f in placed] == [("app/calc.py", None)] * 2
    assert "line 10" in placed[0].body or "line 10" in placed[1].body
    assert any("line 40" in f.body for f in placed)


def test_a_finding_on_an_unknown_path_becomes_change_level() -> None:
    """A path outside the reviewed files gives a change-level finding naming it."""
    [placed] = place_findings([make(path="lib/other.py", line=5)], files())

    assert (placed.path, placed.line) == ("", None)
    assert "lib/other.py" in placed.body
    assert "line 5" in placed.body


def test_diff_prefixes_on_paths_are_removed() -> None:
    """Paths written with a/, b/ or ./ find their file."""
    findings = [
        make(path="b/app/calc.py", title="One"),
        make(path="./app/calc.py", title="Two"),
        make(path="a/app/calc.py", title="Three"),
    ]

    placed = place_findings(findings, files())

    assert {(f.path, f.line) for f in placed} == {("app/calc.py", 11)}
    assert len(placed) == 3


def test_a_real_folder_named_like_a_prefix_is_kept() -> None:
    """A known path that starts with a/ is not shortened."""
    assert normalise_path("a/b.py", ["a/b.py"]) == "a/b.py"
    assert normalise_path("b/a/b.py", ["a/b.py"]) == "a/b.py"
    assert normalise_path(" ./x.py ") == "x.py"


def test_repeated_findings_keep_the_most_severe() -> None:
    """Same path, line and title (any case or spacing) is one finding, the worst."""
    severities: list[Severity] = ["minor", "critical", "major"]
    titles = ["Off by one", "off  BY one", " Off by One "]
    findings = [
        make(severity=s, title=t) for s, t in zip(severities, titles, strict=True)
    ]

    [kept] = deduplicate(findings)

    assert kept.severity == "critical"


def test_findings_on_different_lines_or_titles_are_all_kept() -> None:
    """Only an exact match of path, line and title is a repeat."""
    findings = [make(line=11), make(line=12), make(line=11, title="Other")]

    assert len(deduplicate(findings)) == 3


def test_findings_are_sorted_by_path_then_line() -> None:
    """The change first, then each file: its file-level findings, then by line."""
    findings = [
        make(path="b.py", line=3),
        make(path="a.py", line=9),
        make(path="a.py", line=None, title="File"),
        make(path="", line=None, title="Change"),
        make(path="a.py", line=2),
    ]

    ordered = merge_findings(findings)

    assert [(f.path, f.line) for f in ordered] == [
        ("", None),
        ("a.py", None),
        ("a.py", 2),
        ("a.py", 9),
        ("b.py", 3),
    ]

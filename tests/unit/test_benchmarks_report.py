"""The benchmarks' report: one marked section per benchmark, merged run by run."""

from __future__ import annotations

from benchmarks.__main__ import (
    HEADER,
    marker,
    merge_report,
    parse_options,
    read_sections,
)

LIST_TEXT = "## Read API at a million rows\n\n| latest page | 1.58 |"
REVIEW_TEXT = "## Review engines\n\n| 2,000 | 1.00 |"


def test_a_partial_run_keeps_the_other_sections_unchanged() -> None:
    """Rewriting one section leaves another section's text exactly as it was."""
    old = merge_report("", {"list_scaling": LIST_TEXT, "review_scaling": "old"})

    new = merge_report(old, {"review_scaling": REVIEW_TEXT})

    assert read_sections(new) == {
        "list_scaling": LIST_TEXT,
        "review_scaling": REVIEW_TEXT,
    }


def test_sections_follow_the_benchmarks_order_under_one_header() -> None:
    """A section added by a later run still lands in the benchmarks' order."""
    old = merge_report("", {"intake_scaling": "## Intake"})

    new = merge_report(old, {"list_scaling": LIST_TEXT})

    assert new.startswith(HEADER)
    assert new.count("# Benchmarks\n") == 1
    assert new.index(marker("list_scaling")) < new.index(marker("intake_scaling"))


def test_merging_the_same_sections_again_changes_nothing() -> None:
    """A report merged with its own sections comes out byte for byte the same."""
    report = merge_report("", {"list_scaling": LIST_TEXT, "review_scaling": "x"})

    assert merge_report(report, read_sections(report)) == report


def test_only_selects_the_benchmarks_to_run() -> None:
    """--only names the benchmarks to run; without it every benchmark runs."""
    chosen = parse_options(["--only", "review_scaling", "intake_scaling"])

    assert chosen.only == ["review_scaling", "intake_scaling"]
    assert parse_options([]).only == [
        "list_scaling",
        "review_scaling",
        "intake_scaling",
    ]

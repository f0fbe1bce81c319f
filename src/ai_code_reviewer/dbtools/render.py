"""Render records and statistics as plain-text tables for a terminal."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from ai_code_reviewer.api.db.models import ReviewFailureLog, ReviewRecord
from ai_code_reviewer.dbtools.records import DatabaseStats

CELL_WIDTH = 40
UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Lay ``rows`` out in aligned columns under ``headers``."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        widths = [
            max(width, len(cell)) for width, cell in zip(widths, row, strict=True)
        ]
    lines = [_line(headers, widths), _line(["-" * width for width in widths], widths)]
    lines += [_line(row, widths) for row in cells]
    return "\n".join(lines)


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    """Pad each cell to its column's width."""
    padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
    return "  ".join(padded).rstrip()


def _cell(value: object) -> str:
    """Show one value on one line of at most CELL_WIDTH characters."""
    if value is None:
        shown = "-"
    elif isinstance(value, datetime):
        shown = value.strftime("%Y-%m-%d %H:%M")
    elif isinstance(value, bool):
        shown = "yes" if value else "no"
    else:
        shown = " ".join(str(value).split())
    return shown if len(shown) <= CELL_WIDTH else shown[: CELL_WIDTH - 1] + "…"


def count_records(reviews: int, failures: int, kind: str = "") -> str:
    """Say how many reviews and failure logs: "1 review and 3 failure logs"."""
    review_word = "review" if reviews == 1 else "reviews"
    failure_word = "failure log" if failures == 1 else "failure logs"
    return f"{reviews} {review_word} and {failures} {kind}{failure_word}"


def human_size(size: int) -> str:
    """Write a byte count the way people read it: 1.5 MiB."""
    amount = float(size)
    for unit in UNITS[:-1]:
        if amount < 1024:
            return f"{amount:.0f} {unit}" if unit == "bytes" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} {UNITS[-1]}"


def subject(record: ReviewRecord | ReviewFailureLog) -> str:
    """Name what was reviewed: a pull request or a short commit id."""
    if record.pr_id is not None:
        return f"PR #{record.pr_id}"
    return f"commit {record.commit_id[:12]}" if record.commit_id else "-"


def reviews_table(records: Sequence[ReviewRecord]) -> str:
    """Show reviews, one row each."""
    headers = ["ID", "CREATED", "REPOSITORY", "SUBJECT", "AUTHOR", "MODEL", "EMAILED"]
    rows = [
        [
            r.id,
            r.created_at,
            f"{r.project_key}/{r.repo_slug}",
            subject(r),
            r.author_email,
            f"{r.llm_provider or '-'}/{r.llm_model or '-'}",
            r.email_sent,
        ]
        for r in records
    ]
    return table(headers, rows)


def failures_table(records: Sequence[ReviewFailureLog]) -> str:
    """Show failure logs, one row each."""
    headers = ["ID", "CREATED", "STAGE", "ERROR", "REPOSITORY", "TRIES", "RESOLVED"]
    rows = [
        [
            f.id,
            f.created_at,
            f.failure_stage,
            f"{f.error_type}: {f.error_message}",
            f"{f.project_key or '-'}/{f.repo_slug or '-'}",
            f.retry_count,
            f.resolved,
        ]
        for f in records
    ]
    return table(headers, rows)


def _counts(title: str, counts: Mapping[str, int]) -> list[str]:
    """Show a titled list of counts, or nothing when it is empty."""
    if not counts:
        return []
    width = max(len(name or "(none)") for name in counts)
    lines = [f"{name or '(none)':<{width}}  {n}" for name, n in counts.items()]
    return ["", f"{title}:", *("  " + line for line in lines)]


def schema_line(stats: DatabaseStats) -> str:
    """Say the schema revision against this release's head."""
    current, head = stats.schema.current, stats.schema.head
    if stats.schema.up_to_date:
        return f"{current} (head {head}, up to date)"
    if not stats.schema.known:
        return f"{current} (newer than this release's head {head})"
    return f"{current} (head {head}: the create command migrates it)"


def stats_text(location: str, stats: DatabaseStats) -> str:
    """Show the counts, schema revision and size that ``stats`` reports."""
    reviews, failures = stats.reviews, stats.failures
    lines = [
        f"Database:  {location}",
        f"Size:      {human_size(stats.size_bytes)}",
        f"Schema:    {schema_line(stats)}",
        f"Reviews:   {reviews.total} (last 24 h: {reviews.last_24h}, "
        f"last 7 days: {reviews.last_7d}, emailed: {reviews.email_sent})",
        f"Failures:  {failures.total} (unresolved: {failures.unresolved})",
    ]
    lines += _counts("Reviews by project", reviews.by_project)
    lines += _counts("Reviews by provider", reviews.by_provider)
    lines += _counts("Unresolved failures by stage", failures.unresolved_by_stage)
    return "\n".join(lines)

"""The objects a review is made of: a parsed diff and the findings about it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

LineKind = Literal["added", "removed", "context"]
FileStatus = Literal["added", "deleted", "modified", "renamed", "binary"]
Severity = Literal["critical", "major", "minor", "info"]
Category = Literal["bug", "security", "performance", "maintainability", "style", "test"]
SEVERITIES: tuple[Severity, ...] = ("critical", "major", "minor", "info")


@dataclass(frozen=True)
class DiffLine:
    """One line of a hunk, with its numbers in the old and the new file."""

    kind: LineKind
    text: str
    old_number: int | None
    new_number: int | None


@dataclass(frozen=True)
class Hunk:
    """One ``@@`` section of a file's diff."""

    old_start: int
    old_count: int
    new_start: int
    new_count: int
    lines: tuple[DiffLine, ...]


@dataclass(frozen=True)
class FileDiff:
    """The change to one file."""

    old_path: str | None
    new_path: str | None
    status: FileStatus
    hunks: tuple[Hunk, ...] = ()

    @property
    def path(self) -> str:
        """Return the path the change leaves (the old one for a deletion)."""
        return self.new_path or self.old_path or ""

    def added_lines(self) -> list[DiffLine]:
        """Return the lines the change adds, in order."""
        return [
            line for hunk in self.hunks for line in hunk.lines if line.kind == "added"
        ]


@dataclass(frozen=True)
class Diff:
    """A whole unified diff: the files it changes."""

    files: tuple[FileDiff, ...]

    def counts(self) -> tuple[int, int]:
        """Return the numbers of added and removed lines."""
        lines = [line for f in self.files for h in f.hunks for line in h.lines]
        added = sum(1 for line in lines if line.kind == "added")
        return added, sum(1 for line in lines if line.kind == "removed")


@dataclass(frozen=True)
class Finding:
    """One problem found in the change, placed on lines of the new file.

    ``line`` is None for a finding about the whole file (or, with an empty
    ``path``, the whole change); ``end_line`` closes a range that starts at
    ``line``.
    """

    path: str
    line: int | None
    severity: Severity
    category: Category
    title: str
    body: str
    suggestion: str | None = None
    end_line: int | None = None

    def to_json(self) -> dict[str, object]:
        """Return the finding as the JSON object review_records.findings stores."""
        return {
            "path": self.path,
            "line": self.line,
            "end_line": self.end_line,
            "severity": self.severity,
            "category": self.category,
            "title": self.title,
            "body": self.body,
            "suggestion": self.suggestion,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Finding:
        """Return the finding that :meth:`to_json` wrote."""
        return cls(
            path=str(data["path"]),
            line=data.get("line"),
            severity=data["severity"],
            category=data["category"],
            title=str(data["title"]),
            body=str(data.get("body") or ""),
            suggestion=data.get("suggestion"),
            end_line=data.get("end_line"),
        )


@dataclass(frozen=True)
class Skipped:
    """A file left out of the review, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Redacted:
    """A secret masked before the change went into a prompt: where, and what kind.

    ``line`` is the line in the new file (``side="new"``: added and context
    lines) or in the old file (``side="old"``: removed lines); a secret in the
    change's title has an empty ``path`` and no line. The value is never kept.
    """

    path: str
    line: int | None
    side: Literal["new", "old"]
    kind: str

    def to_json(self) -> dict[str, object]:
        """Return the record as the JSON object review_records.coverage stores."""
        return {
            "path": self.path,
            "line": self.line,
            "side": self.side,
            "kind": self.kind,
        }


@dataclass(frozen=True)
class Usage:
    """What the model calls of one review used, and what they cost."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None

    def __add__(self, other: Usage) -> Usage:
        """Return the usage of both; the cost is unknown if either's is."""
        cost = None
        if self.cost_usd is not None and other.cost_usd is not None:
            cost = self.cost_usd + other.cost_usd
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            cost,
        )


@dataclass(frozen=True)
class ReviewResult:
    """What a reviewer says about a diff, who said it, and what it covered.

    ``reviewed`` lists the files the reviewer saw, ``skipped`` the files left
    out with the reason, and ``cut`` says of each file reviewed only in part
    what was left out; a review states all three rather than truncate silently.
    ``redacted`` lists the secrets masked before any prompt was written,
    ``rejected`` the model's findings that did not validate and why, and
    ``prompt_version`` the version of the prompt files a model was asked with.
    """

    summary: str
    findings: tuple[Finding, ...]
    provider: str
    model: str
    skipped: tuple[Skipped, ...] = ()
    reviewed: tuple[str, ...] = ()
    cut: tuple[str, ...] = ()
    usage: Usage = field(default_factory=Usage)
    redacted: tuple[Redacted, ...] = ()
    rejected: tuple[str, ...] = ()
    prompt_version: str | None = None

    def coverage_json(self) -> dict[str, object]:
        """Return what review_records.coverage stores: reviewed, skipped, cut.

        ``redacted``, ``rejected`` and ``prompt_version`` are added only when
        set, so that reviews without them keep the shape older rows have.
        """
        coverage: dict[str, object] = {
            "reviewed": list(self.reviewed),
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "cut": list(self.cut),
        }
        if self.redacted:
            coverage["redacted"] = [item.to_json() for item in self.redacted]
        if self.rejected:
            coverage["rejected"] = list(self.rejected)
        if self.prompt_version is not None:
            coverage["prompt_version"] = self.prompt_version
        return coverage

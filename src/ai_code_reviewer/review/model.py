"""The objects a review is made of: a parsed diff and the findings about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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
    """One problem found in the change, placed on a line of the new file."""

    path: str
    line: int | None
    severity: Severity
    category: Category
    title: str
    body: str
    suggestion: str | None = None


@dataclass(frozen=True)
class ReviewResult:
    """What a reviewer says about a diff, and who said it."""

    summary: str
    findings: tuple[Finding, ...]
    provider: str
    model: str
    skipped: tuple[str, ...] = field(default_factory=tuple)

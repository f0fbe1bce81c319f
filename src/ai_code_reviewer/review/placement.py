"""Check where a model put its findings, merge the findings of chunks, drop repeats.

A model is told to comment on added lines with new-file numbers, and does not
always. Each finding is checked against the reviewed files:

- on a reviewed file and an added line, it stays inline (an ``end_line`` that
  is not an added line is dropped, the finding keeps its first line);
- on a reviewed file but another line, it becomes a finding about the file
  (``line`` None), the line it named written into its body;
- on a path the review did not cover, it becomes a finding about the whole
  change (``path`` ""), the path written into its body.

Findings from several chunks or models that share a path, a line and a title
(compared without case and extra spaces) are one finding: the most severe is
kept. The result is sorted by path, then line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from ai_code_reviewer.review.model import SEVERITIES, FileDiff, Finding

_PREFIXES = ("a/", "b/", "./")


def place_findings(
    findings: Iterable[Finding], files: Sequence[FileDiff]
) -> tuple[Finding, ...]:
    """Return ``findings`` checked against the added lines of ``files``, each once."""
    added = {
        file.path: frozenset(line.new_number for line in file.added_lines())
        for file in files
    }
    return merge_findings(place_finding(finding, added) for finding in findings)


def merge_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Return ``findings`` de-duplicated (see :func:`deduplicate`), by path and line."""
    return tuple(sorted(deduplicate(findings), key=_order))


def place_finding(
    finding: Finding, added: Mapping[str, frozenset[int | None]]
) -> Finding:
    """Return ``finding`` inline, about its file, or about the change (see module)."""
    path = normalise_path(finding.path, added)
    if path not in added:
        return _about_change(finding)
    lines = added[path]
    if finding.line is None:
        return replace(finding, path=path, end_line=None)
    if finding.line not in lines:
        return _about_file(replace(finding, path=path))
    end_line = finding.end_line if finding.end_line in lines else None
    return replace(finding, path=path, end_line=end_line)


def normalise_path(path: str, known: Iterable[str] = ()) -> str:
    """Return ``path`` without ``a/``, ``b/`` or ``./`` prefixes a model may add.

    A path that is one of ``known`` as written is left alone, so that a real
    folder named ``a`` or ``b`` keeps its name.
    """
    known = frozenset(known)
    path = path.strip()
    while path not in known and path.startswith(_PREFIXES):
        path = path[2:]
    return path.lstrip("/") if path not in known else path


def deduplicate(findings: Iterable[Finding]) -> list[Finding]:
    """Return one finding per path, line and title: the most severe, first seen."""
    kept: dict[tuple[str, int | None, str], Finding] = {}
    for finding in findings:
        key = (finding.path, finding.line, _title_key(finding.title))
        held = kept.get(key)
        if held is None or _rank(finding) < _rank(held):
            kept[key] = finding
    return list(kept.values())


def _about_file(finding: Finding) -> Finding:
    where = _lines(finding)
    body = f"(At {where}, which this change did not add.) {finding.body}".strip()
    return replace(finding, line=None, end_line=None, body=body)


def _about_change(finding: Finding) -> Finding:
    where = finding.path.strip() or "an unnamed file"
    if finding.line is not None:
        where = f"{where}, {_lines(finding)}"
    body = f"(About {where}, not among the reviewed files.) {finding.body}".strip()
    return replace(finding, path="", line=None, end_line=None, body=body)


def _lines(finding: Finding) -> str:
    if finding.end_line is not None and finding.end_line != finding.line:
        return f"lines {finding.line}-{finding.end_line}"
    return f"line {finding.line}"


def _title_key(title: str) -> str:
    return " ".join(title.lower().split())


def _rank(finding: Finding) -> int:
    return SEVERITIES.index(finding.severity)


def _order(finding: Finding) -> tuple[str, bool, int, int]:
    line = finding.line
    return finding.path, line is not None, line or 0, _rank(finding)

"""Write a review as Markdown: for emails, pull request comments and the dashboard."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ai_code_reviewer.review.model import SEVERITIES, Finding, ReviewResult

_WHOLE_CHANGE = "The whole change"
_BACKTICKS = re.compile(r"`+")


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Return how many findings there are of each severity, most severe first."""
    counts: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    for finding in findings:
        counts[finding.severity] += 1
    return counts


def count_line(findings: Iterable[Finding]) -> str:
    """Return ``"2 major, 1 minor"``, or ``"no findings"`` when there are none."""
    counts = severity_counts(findings)
    parts = [f"{count} {severity}" for severity, count in counts.items() if count]
    return ", ".join(parts) or "no findings"


def render_markdown(result: ReviewResult, *, title: str | None = None) -> str:
    """Return the review as Markdown: summary, counts, findings by file, skips."""
    blocks = [f"# {title or 'Code review'}", result.summary.strip()]
    blocks.append(f"**Findings:** {count_line(result.findings)}")
    for path, findings in _by_file(result.findings):
        blocks.append(f"## {f'`{path}`' if path else _WHOLE_CHANGE}")
        blocks.extend(_render_finding(finding) for finding in findings)
    if result.skipped:
        blocks.append("## Skipped files")
        blocks.append(
            "\n".join(f"- `{item.path}`: {item.reason}" for item in result.skipped)
        )
    if result.cut:
        blocks.append("## Reviewed in part")
        blocks.append("\n".join(f"- {what}" for what in result.cut))
    blocks.append(f"_Reviewed by {result.provider} ({result.model})._")
    return "\n\n".join(block for block in blocks if block) + "\n"


def _by_file(findings: Iterable[Finding]) -> list[tuple[str, list[Finding]]]:
    """Group findings by path (the whole change first), each file by line."""
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.path, []).append(finding)
    return [(path, sorted(groups[path], key=_finding_order)) for path in sorted(groups)]


def _finding_order(finding: Finding) -> tuple[int, int]:
    line = finding.line if finding.line is not None else 0
    return line, SEVERITIES.index(finding.severity)


def _render_finding(finding: Finding) -> str:
    """Return one finding as a list item, its suggestion fenced inside it."""
    where = f" (line {finding.line})" if finding.line is not None else ""
    body = f" — {finding.body.strip()}" if finding.body.strip() else ""
    item = f"- **{finding.severity}**{where} {finding.title.strip()}{body}"
    lines = item.splitlines()
    if finding.suggestion:
        lines += ["", *_fence(finding.suggestion)]
    return "\n".join([lines[0], *(_indent(line) for line in lines[1:])])


def _fence(code: str) -> list[str]:
    """Fence ``code`` with more backticks than any run inside it (CommonMark 4.5)."""
    longest = max((len(run) for run in _BACKTICKS.findall(code)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence, *code.rstrip("\n").splitlines(), fence]


def _indent(line: str) -> str:
    return f"  {line}" if line else ""

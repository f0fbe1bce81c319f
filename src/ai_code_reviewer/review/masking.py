"""Mask the secrets of a diff before any of it is written into a prompt.

:func:`redact` finds secrets one text at a time; this module applies it to
every line of every file and the change's title, keeps where each secret was
(never its value), and turns each secret on an added line into a finding,
since a model that only sees the masked text can no longer report it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from ai_code_reviewer.review.model import DiffLine, FileDiff, Finding, Redacted
from ai_code_reviewer.review.redact import redact

_KEY_END = "-----END"
_KEY_BODY = re.compile(r"[\sA-Za-z0-9+/=:,.-]*")
_KEY_MASK = "[REDACTED:private_key]"


@dataclass(frozen=True)
class Masked:
    """Files and title with their secrets masked, where they were, and findings."""

    files: tuple[FileDiff, ...]
    title: str | None
    redacted: tuple[Redacted, ...]
    findings: tuple[Finding, ...]


def mask_secrets(files: Iterable[FileDiff], title: str | None = None) -> Masked:
    """Return ``files`` and ``title`` with every secret masked (see module)."""
    masked: list[FileDiff] = []
    found: list[tuple[str, DiffLine, str]] = []
    for file in files:
        hunks = []
        for hunk in file.hunks:
            lines = _mask_lines(hunk.lines)
            found += [
                (file.path, line, kind) for line, kinds in lines for kind in kinds
            ]
            hunks.append(replace(hunk, lines=tuple(line for line, _ in lines)))
        masked.append(replace(file, hunks=tuple(hunks)))
    titled = redact(title) if title is not None else None
    in_title = (
        [Redacted("", None, "new", s.kind) for s in titled.found] if titled else []
    )
    return Masked(
        files=tuple(masked),
        title=titled.text if titled is not None else None,
        redacted=(*(_record(*item) for item in found), *in_title),
        findings=tuple(
            _secret_finding(*item) for item in found if item[1].kind == "added"
        ),
    )


def _mask_lines(lines: Iterable[DiffLine]) -> list[tuple[DiffLine, list[str]]]:
    """Return each line masked, with the kinds of the secrets it held.

    :func:`redact` sees one line at a time, so a private key's body lines are
    masked here: after its BEGIN line, the lines of the same kind through its
    END line (or while they look like base64) are masked whole.
    """
    masked: list[tuple[DiffLine, list[str]]] = []
    in_key: str | None = None
    for line in lines:
        if in_key == line.kind and (_KEY_END in line.text or _is_key_body(line)):
            masked.append((replace(line, text=_KEY_MASK), []))
            in_key = None if _KEY_END in line.text else in_key
            continue
        redaction = redact(line.text)
        kinds = [secret.kind for secret in redaction.found]
        opens_key = "private_key" in kinds and _KEY_END not in line.text
        in_key = line.kind if opens_key else None
        masked.append((replace(line, text=redaction.text), kinds))
    return masked


def _is_key_body(line: DiffLine) -> bool:
    return _KEY_BODY.fullmatch(line.text) is not None


def _record(path: str, line: DiffLine, kind: str) -> Redacted:
    if line.kind == "removed":
        return Redacted(path, line.old_number, "old", kind)
    return Redacted(path, line.new_number, "new", kind)


def _secret_finding(path: str, line: DiffLine, kind: str) -> Finding:
    name = kind.replace("_", " ")
    return Finding(
        path=path,
        line=line.new_number,
        severity="critical",
        category="security",
        title=f"Secret in the change ({name})",
        body=(
            f"This line adds what looks like a {name}. It was masked before the "
            "change was sent to the model. Move it to a secret store or the "
            "environment, and revoke it: it is in the repository's history now."
        ),
    )

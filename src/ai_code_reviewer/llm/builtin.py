"""The built-in reviewer: fixed rules over the added lines, for when no model is set.

Each rule is a row of :data:`RULES`: a pattern looked for on each added line of
the files it applies to; the secret row uses :func:`redact` instead, which also
sees keys that span lines. Removed and context lines are never looked at.

Given a :data:`SourceReader`, the reviewer also runs ruff (:mod:`.ruff`) on the
whole text of each changed Python file and keeps what it reports on added
lines, except where a rule already made a finding of the same category.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from posixpath import basename

from ai_code_reviewer.errors import LLMError, ReviewerError
from ai_code_reviewer.llm import ruff
from ai_code_reviewer.llm.base import SourceReader
from ai_code_reviewer.review.model import (
    Category,
    Diff,
    FileDiff,
    Finding,
    ReviewResult,
    Severity,
    Skipped,
)
from ai_code_reviewer.review.redact import redact

logger = logging.getLogger(__name__)

# Rules read this much of a line: past it is minified or generated code, which
# nobody reviews, and where some patterns would take quadratic time.
LINE_LIMIT = 2000

PYTHON = ("*.py", "*.pyi")
JAVASCRIPT = ("*.js", "*.jsx", "*.mjs", "*.cjs", "*.ts", "*.tsx", "*.vue", "*.svelte")
TESTS = (
    *("test_*.py", "*_test.py", "conftest.py", "*.test.*", "*.spec.*"),
    *("tests/*", "*/tests/*", "test/*", "*/test/*", "__tests__/*", "*/__tests__/*"),
)
PROSE = ("*.md", "*.rst", "*.txt", "*.adoc")
# SQL keywords in capitals, or in small letters with enough of a query around them
# that English ("select a file from the list") does not match. The first FROM
# (and WHERE) found is final (atomic groups): trying every later one makes a long
# line take cubic time.
_GAP = r"[^\"'`]*?"
_SQL = (
    rf"(?:SELECT\b(?>{_GAP}\bFROM)|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM"
    rf"|select\b(?>{_GAP}\bfrom\b)(?>{_GAP}\bwhere)|insert\s+into"
    r"|update\s+\w+\s+set|delete\s+from)\b"
)


@dataclass(frozen=True)
class Rule:
    """A pattern that makes a finding when an added line of a matching file has it."""

    name: str
    pattern: re.Pattern[str] | None  # None: found by redact(), not by a pattern
    severity: Severity
    category: Category
    title: str
    body: str
    files: tuple[str, ...] = ("*",)
    except_files: tuple[str, ...] = ()

    def applies_to(self, path: str) -> bool:
        """Say whether ``path`` matches the rule's file globs and not its exceptions."""
        return _matches(path, self.files) and not _matches(path, self.except_files)


SECRET = Rule(
    "secret",
    None,
    "critical",
    "security",
    "Secret in the code",
    "Anyone who can read the repository can use it, and it stays in the "
    "history. Revoke it now, then read it from the environment or a secret store.",
)
RULES: tuple[Rule, ...] = (
    SECRET,
    Rule(
        "python-eval",
        re.compile(r"(?<![\w.])(?<!def )(?:eval|exec)\s*\("),
        "major",
        "security",
        "Code run from a string",
        "eval and exec run whatever the string says, with all the rights of the "
        "process. Parse the data (json, ast.literal_eval) or dispatch on a table.",
        PYTHON,
    ),
    Rule(
        "javascript-eval",
        re.compile(r"(?<![\w.$])eval\s*\(|\bnew\s+Function\s*\("),
        "major",
        "security",
        "Code run from a string",
        "eval and the Function constructor run whatever the string says. Parse "
        "the data (JSON.parse) or dispatch on a table of functions.",
        JAVASCRIPT,
    ),
    Rule(
        "python-shell",
        re.compile(r"\bshell\s*=\s*True\b|\bos\.(?:system|popen)\s*\("),
        "major",
        "security",
        "Command run through a shell",
        "A shell reads the whole command line, so a value from outside can add "
        "commands of its own. Run the program with a list of arguments and no "
        "shell (subprocess.run([...])).",
        PYTHON,
    ),
    Rule(
        "javascript-shell",
        re.compile(
            r"(?:\bchild_process\.|(?<![\w$.]))exec(?:Sync)?\s*\(\s*"
            r"(?:`[^`]*\$\{|[^,)]*\+)"
        ),
        "major",
        "security",
        "Command run through a shell",
        "exec hands a command line built from values to a shell, which lets a "
        "value add commands. Use execFile or spawn with an argument array.",
        JAVASCRIPT,
    ),
    Rule(
        "sql-string",
        re.compile(
            rf"\b[rR]?[fF][rR]?[\"'][^\"'\n]*{_SQL}[^\"'\n]*\{{"
            rf"|[\"'][^\"'\n]*{_SQL}[^\"'\n]*[\"']\s*(?:%\s*[\w(\[{{]|\+\s*\w|\.format\()"
            rf"|`[^`\n]*{_SQL}[^`\n]*\$\{{"
            rf"|\b(?:Sprintf|format)\(\s*\"[^\"\n]*{_SQL}",
        ),
        "major",
        "security",
        "SQL built from strings",
        "Values pasted into the text of a query can change what it does (SQL "
        "injection). Pass them as parameters of the query.",
        except_files=PROSE,
    ),
    Rule(
        "tls-off",
        re.compile(
            r"\bverify\s*=\s*False\b|\brejectUnauthorized\s*:\s*false\b"
            r"|\bInsecureSkipVerify\s*:\s*true\b"
            r"|\bCURLOPT_SSL_VERIFY(?:PEER|HOST)\s*,\s*(?:false|0)\b"
            r"|\bNODE_TLS_REJECT_UNAUTHORIZED\s*=\s*[\"']?0"
        ),
        "major",
        "security",
        "TLS certificate check turned off",
        "Without the check anyone on the network path can read and change the "
        "traffic. Give the client the CA bundle that signed the server instead.",
        except_files=PROSE,
    ),
    Rule(
        "python-breakpoint",
        re.compile(r"\b(?:i?pdb|pudb)\.set_trace\s*\(|(?<![\w.])breakpoint\s*\(\s*\)"),
        "major",
        "bug",
        "Breakpoint left in",
        "The process stops here and waits for a debugger that is not there.",
        PYTHON,
    ),
    Rule(
        "javascript-debugger",
        re.compile(r"^\s*debugger\s*;?\s*$"),
        "major",
        "bug",
        "Breakpoint left in",
        "Every browser with its developer tools open stops here.",
        JAVASCRIPT,
    ),
    Rule(
        "python-print",
        re.compile(r"^\s*print\s*\("),
        "minor",
        "maintainability",
        "Debug output left in",
        "print writes to standard output, where nobody reads it in a service. "
        "Log through the module's logger, or remove it.",
        PYTHON,
        TESTS,
    ),
    Rule(
        "javascript-console-log",
        re.compile(r"\bconsole\.log\s*\("),
        "minor",
        "maintainability",
        "Debug output left in",
        "console.log output ends up in users' consoles. Remove it or use the "
        "project's logger.",
        JAVASCRIPT,
        TESTS,
    ),
    Rule(
        "todo",
        # At the start of a line or of a comment: not a string that names them.
        re.compile(r"(?:^|#|//|/\*|\*|<!--|--|;)\s*(?:TODO|FIXME)\b"),
        "info",
        "maintainability",
        "Unfinished work noted",
        "A TODO or FIXME marks work left undone. Tie it to an issue so that it "
        "is done or dropped on purpose.",
    ),
)


class BuiltinReviewer:
    """Review a diff offline with :data:`RULES`, the secret finder and ruff."""

    provider: str = "builtin"
    model: str = "builtin-rules-1"

    def __init__(self, sources: SourceReader | None = None) -> None:
        self.sources = sources

    async def review(self, diff: Diff, *, title: str | None = None) -> ReviewResult:
        """Return the findings of the rules and ruff on the added lines of ``diff``.

        The rules look at code only, so ``title`` is not used.
        """
        # A large diff takes seconds of CPU; a thread keeps the event loop answering.
        return await asyncio.to_thread(self.review_now, diff)

    def review_now(self, diff: Diff) -> ReviewResult:
        """Return the review of ``diff`` in the calling thread."""
        files = [file for file in diff.files if file.status != "binary"]
        found = [finding for file in files for finding in _review_file(file)]
        linted = _ruff_pass(files, self.sources)
        findings = sorted(
            _merge(found, linted.findings),
            key=lambda finding: (finding.path, finding.line or 0),
        )
        counts = [len(file.added_lines()) for file in files]
        checked, lines = sum(1 for count in counts if count), sum(counts)
        skipped = tuple(
            Skipped(file.path, "binary file")
            for file in diff.files
            if file.status == "binary"
        )
        logger.info(
            "builtin_review.finished",
            extra={
                "files": checked,
                "lines": lines,
                "findings": len(findings),
                "ruff_findings": len(linted.findings),
            },
        )
        summary = f"{_summary(checked, len(diff.files), lines)} {linted.note}"
        return ReviewResult(
            summary,
            tuple(findings),
            self.provider,
            self.model,
            skipped=skipped,
            reviewed=tuple(file.path for file in files),
        )


@dataclass(frozen=True)
class _Linted:
    """What ruff found on the added lines, and a sentence on how it ran."""

    findings: list[Finding]
    note: str


def _ruff_pass(files: list[FileDiff], sources: SourceReader | None) -> _Linted:
    """Run ruff on the changed Python files whose text ``sources`` gives."""
    if sources is None:
        return _Linted([], "ruff did not run: it was given the diff, not the files.")
    python = [f for f in files if ruff.is_python(f.path) and f.added_lines()]
    if not python:
        return _Linted([], "ruff did not run: no Python file gained lines.")
    try:
        checker = ruff.find_ruff()
    except LLMError as exc:
        logger.warning("builtin_review.ruff_missing", extra={"error": str(exc)})
        return _Linted([], f"ruff did not run: {exc}")
    findings: list[Finding] = []
    problems: list[str] = []
    for file in python:
        findings += _lint_file(checker, file, sources, problems)
    return _Linted(findings, _ruff_note(checker, len(python), problems))


def _lint_file(
    checker: ruff.Ruff, file: FileDiff, sources: SourceReader, problems: list[str]
) -> list[Finding]:
    """Return ruff's findings on the added lines of ``file``; note why if none."""
    try:
        text = sources(file.path)
        if text is None or len(text) > ruff.MAX_SOURCE_CHARS:
            problems.append(f"the text of {file.path} was not at hand")
            return []
        diagnostics = checker.check(file.path, text)
    except ReviewerError as exc:
        logger.warning(
            "builtin_review.ruff_failed", extra={"path": file.path, "error": str(exc)}
        )
        problems.append(str(exc).rstrip("."))
        return []
    added = {line.new_number for line in file.added_lines() if line.new_number}
    return ruff.added_line_findings(file.path, diagnostics, added)


def _ruff_note(checker: ruff.Ruff, total: int, problems: list[str]) -> str:
    done = total - len(problems)
    note = (
        f"ruff {checker.version} checked {done} of {_count(total, 'Python file')} "
        f"whole (rules {', '.join(ruff.SELECT)}), reporting on added lines only."
    )
    if problems:
        note += f" Not checked: {'; '.join(problems)}."
    return note


def _merge(found: list[Finding], linted: list[Finding]) -> list[Finding]:
    """Add ruff's findings, except on a line where a rule made one of its category."""
    seen = {(finding.path, finding.line, finding.category) for finding in found}
    return found + [
        finding
        for finding in linted
        if (finding.path, finding.line, finding.category) not in seen
    ]


def _review_file(file: FileDiff) -> list[Finding]:
    """Return the findings on the added lines of one file, secrets first."""
    findings = _secret_findings(file)
    rules = [rule for rule in RULES if rule.applies_to(file.path)]
    for line in file.added_lines():
        findings += [
            _finding(rule, file.path, line.new_number)
            for rule in rules
            if rule.pattern is not None
            and rule.pattern.search(line.text, 0, LINE_LIMIT)
        ]
    return findings


def _secret_findings(file: FileDiff) -> list[Finding]:
    """Return one finding a secret, found in the added lines read as one text."""
    added = file.added_lines()
    redaction = redact("\n".join(line.text for line in added))
    return [
        replace(
            _finding(SECRET, file.path, added[secret.line - 1].new_number),
            title=f"{SECRET.title} ({secret.kind.replace('_', ' ')})",
        )
        for secret in redaction.found
    ]


def _finding(rule: Rule, path: str, line: int | None) -> Finding:
    return Finding(path, line, rule.severity, rule.category, rule.title, rule.body)


def _summary(checked: int, total: int, lines: int) -> str:
    return (
        "This review comes from the built-in offline reviewer, because no "
        f"language model is configured. It looked at {_count(lines, 'added line')} "
        f"in {checked} of {_count(total, 'changed file')}, checking them for "
        "secrets, code run from strings, shell and SQL injection, disabled TLS "
        "checks, debug leftovers and TODO notes. It does not judge design or "
        "logic: configure a language model for that."
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _matches(path: str, globs: tuple[str, ...]) -> bool:
    name = basename(path)
    return any(fnmatchcase(path, glob) or fnmatchcase(name, glob) for glob in globs)

"""The built-in reviewer: fixed rules over the added lines, for when no model is set.

Each rule is a row of :data:`RULES`: a pattern looked for on each added line of
the files it applies to; the secret row uses :func:`redact` instead, which also
sees keys that span lines. Removed and context lines are never looked at.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from posixpath import basename

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
    """Review a diff offline with :data:`RULES` and the secret finder."""

    provider: str = "builtin"
    model: str = "builtin-rules-1"

    async def review(self, diff: Diff) -> ReviewResult:
        """Return the findings of every rule on the added lines of ``diff``."""
        # A large diff takes seconds of CPU; a thread keeps the event loop answering.
        return await asyncio.to_thread(self.review_now, diff)

    def review_now(self, diff: Diff) -> ReviewResult:
        """Return the review of ``diff`` in the calling thread."""
        files = [file for file in diff.files if file.status != "binary"]
        findings = sorted(
            (finding for file in files for finding in _review_file(file)),
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
            extra={"files": checked, "lines": lines, "findings": len(findings)},
        )
        summary = _summary(checked, len(diff.files), lines)
        return ReviewResult(
            summary,
            tuple(findings),
            self.provider,
            self.model,
            skipped=skipped,
            reviewed=tuple(file.path for file in files),
        )


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

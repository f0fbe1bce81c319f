"""Check the whole text of a changed Python file with ruff, for the built-in reviewer.

ruff (https://docs.astral.sh/ruff/) reads the file on stdin and answers JSON
(``--output-format json``); nothing is written to disk and no configuration
file of the repository is read (``--isolated``), so every repository is held
to the same rules. A file is checked whole, because an undefined name or an
unused import is only visible in the whole module, but only what ruff reports
on lines the change added becomes a finding: old problems of a file are not
the author's.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ai_code_reviewer.errors import LLMError
from ai_code_reviewer.review.model import Category, Finding, Severity

logger = logging.getLogger(__name__)

SELECT = ("E9", "F", "B", "S", "PLE", "ASYNC")
# assert, any subprocess call and a program named without its path are everyday
# Python; reported everywhere, they would bury the findings that matter.
IGNORE = ("S101", "S603", "S607")
PYTHON_SUFFIXES = (".py", ".pyi")
TIMEOUT_SECONDS = 20.0
# A file this large is generated or data; ruff would take long and say little.
MAX_SOURCE_CHARS = 1_000_000
SYNTAX_ERROR = "invalid-syntax"
_TITLE_MAX = 200

# (code or code prefix, severity, category), the first match wins: exact codes
# before the prefix of their family.
MAPPING: tuple[tuple[str, Severity, Category], ...] = (
    (SYNTAX_ERROR, "critical", "bug"),
    ("E9", "critical", "bug"),
    ("F401", "minor", "maintainability"),
    ("F403", "minor", "maintainability"),
    ("F405", "minor", "maintainability"),
    ("F811", "minor", "maintainability"),
    ("F841", "minor", "maintainability"),
    ("F541", "info", "style"),
    ("F", "major", "bug"),
    ("B006", "major", "bug"),
    ("B012", "major", "bug"),
    ("B023", "major", "bug"),
    ("B904", "minor", "maintainability"),
    ("B", "minor", "bug"),
    ("S311", "minor", "security"),
    ("S", "major", "security"),
    ("PLE", "major", "bug"),
    ("ASYNC", "major", "performance"),
)
_UNKNOWN: tuple[Severity, Category] = ("minor", "maintainability")


@dataclass(frozen=True)
class Diagnostic:
    """One problem ruff reports, on lines ``line`` to ``end_line`` of the file."""

    code: str
    name: str
    message: str
    line: int
    end_line: int
    fix: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Ruff:
    """The ruff program found on this machine, and its version."""

    binary: str
    version: str
    timeout: float = TIMEOUT_SECONDS

    def check(self, path: str, text: str) -> list[Diagnostic]:
        """Return what ruff reports on ``text``, the content of the file ``path``.

        Raises:
            LLMError: ruff failed, timed out or answered something else than JSON.
        """
        command = [self.binary, "check", *_check_options(path), "-"]
        try:
            done = subprocess.run(  # noqa: S603  # fixed program, argument list
                command,
                input=text.encode("utf-8", errors="replace"),
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise LLMError(
                f"ruff took longer than {self.timeout:g} seconds on {path}."
            ) from None
        if done.returncode != 0:
            raise LLMError(f"ruff failed on {path}: {_first_line(done.stderr)}")
        return read_diagnostics(done.stdout, path)


def _check_options(path: str) -> list[str]:
    return [
        "--output-format=json",
        f"--stdin-filename={path}",
        "--no-cache",
        "--isolated",
        "--exit-zero",
        f"--select={','.join(SELECT)}",
        f"--ignore={','.join(IGNORE)}",
    ]


@lru_cache(maxsize=1)
def find_ruff() -> Ruff:
    """Return the ruff program of the installed ``ruff`` package, and its version.

    Raises:
        LLMError: the ruff package or its program is not installed, or does
            not run.
    """
    try:
        from ruff import find_ruff_bin  # type: ignore[import-untyped]  # no py.typed

        binary = str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        raise LLMError("ruff is not installed in this Python environment.") from None
    try:
        done = subprocess.run(  # noqa: S603  # the installed package's own program
            [binary, "--version"], capture_output=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        raise LLMError(f"ruff at {binary} does not run.") from None
    version = done.stdout.decode(errors="replace").split()
    return Ruff(binary, version[-1] if version else "unknown")


def read_diagnostics(output: bytes, path: str) -> list[Diagnostic]:
    """Return the diagnostics of ruff's JSON output.

    Raises:
        LLMError: the output is not ruff's JSON list of diagnostics.
    """
    try:
        items = json.loads(output)
        return [_diagnostic(item) for item in items]
    except (ValueError, TypeError, KeyError):
        raise LLMError(
            f"ruff's answer on {path} is not the JSON it documents."
        ) from None


def _diagnostic(item: dict[str, Any]) -> Diagnostic:
    start, end = item["location"], item.get("end_location") or item["location"]
    fix = item.get("fix") or {}
    return Diagnostic(
        code=str(item.get("code") or SYNTAX_ERROR),
        name=str(item.get("name") or item.get("code") or SYNTAX_ERROR),
        message=str(item["message"]),
        line=int(start["row"]),
        end_line=int(end["row"]),
        fix=fix.get("message") or None,
        url=item.get("url") or None,
    )


def is_python(path: str) -> bool:
    """Say whether ruff can check ``path`` (a .py or .pyi file)."""
    return path.endswith(PYTHON_SUFFIXES)


def classify(code: str) -> tuple[Severity, Category]:
    """Return the severity and category of a ruff code, from :data:`MAPPING`."""
    for prefix, severity, category in MAPPING:
        if code.startswith(prefix):
            return severity, category
    return _UNKNOWN


def to_finding(path: str, diagnostic: Diagnostic) -> Finding:
    """Return ``diagnostic`` as a finding on the file ``path``."""
    severity, category = classify(diagnostic.code)
    message = diagnostic.message.strip().splitlines()[0] if diagnostic.message else ""
    title = f"{message or diagnostic.name} (ruff {diagnostic.code})"
    body = f"ruff's rule {diagnostic.name} reports this on a line the change adds."
    if diagnostic.fix:
        body += f" Its fix: {diagnostic.fix.rstrip('.')}."
    if diagnostic.url:
        body += f" See {diagnostic.url}."
    end = diagnostic.end_line if diagnostic.end_line > diagnostic.line else None
    return Finding(
        path, diagnostic.line, severity, category, title[:_TITLE_MAX], body, None, end
    )


def added_line_findings(
    path: str, diagnostics: list[Diagnostic], added: Collection[int]
) -> list[Finding]:
    """Return the findings of the diagnostics that start on an added line."""
    return [
        to_finding(path, diagnostic)
        for diagnostic in diagnostics
        if diagnostic.line in added
    ]


def _first_line(stderr: bytes) -> str:
    lines = stderr.decode(errors="replace").strip().splitlines()
    return lines[0] if lines else "it gave no reason."

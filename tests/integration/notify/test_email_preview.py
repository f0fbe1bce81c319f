"""`ai-code-reviewer email preview` renders a stored review's HTML email."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from ai_code_reviewer.settings import Settings
from tests.conftest import ReviewFactory

COMMAND = str(Path(sys.executable).parent / "ai-code-reviewer")
FINDING = {
    "path": "app.py",
    "line": 2,
    "end_line": None,
    "severity": "major",
    "category": "security",
    "title": "eval <of> input",
    "body": "Never <script>run()</script> this.",
    "suggestion": None,
}


async def preview(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `email preview` on the test's database, off the event loop."""
    return await asyncio.to_thread(
        subprocess.run,
        [COMMAND, "email", "preview", *args],
        env={**os.environ, "DATABASE_URL": settings.database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_preview_writes_the_html_of_a_review(
    settings: Settings, make_review: ReviewFactory, tmp_path: Path
) -> None:
    """The HTML file shows the review's findings, escaped."""
    review = await make_review(summary="One problem.", findings=[FINDING])
    output = tmp_path / "review.html"

    result = await preview(settings, str(review.id), "--output", str(output))

    assert result.returncode == 0, result.stderr
    html = output.read_text(encoding="utf-8")
    assert "<title>Code review of PROJ/service" in html
    assert "<strong>eval &lt;of&gt; input</strong>" in html
    assert "&lt;script&gt;run()&lt;/script&gt;" in html


async def test_preview_prints_to_stdout_without_output(
    settings: Settings, make_review: ReviewFactory
) -> None:
    """Without --output the HTML goes to standard output."""
    review = await make_review(summary="All good.", findings=[])

    result = await preview(settings, str(review.id))

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<!DOCTYPE html>")
    assert "no findings" in result.stdout


async def test_preview_of_an_unknown_review_fails_in_one_sentence(
    settings: Settings, make_review: ReviewFactory
) -> None:
    """An id with no review exits 2 with one line naming it."""
    await make_review()

    result = await preview(settings, "999")

    assert result.returncode == 2
    assert result.stderr == "ai-code-reviewer: there is no review 999\n"

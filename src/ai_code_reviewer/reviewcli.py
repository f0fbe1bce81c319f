"""The ``ai-code-reviewer review`` command: review a change here, without the service.

It reads a commit, a range or the staged changes of a local repository (or a
diff file), asks the configured reviewer, and prints the review on stdout, as
Markdown or JSON; nothing else is written there. No database is opened.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import click

from ai_code_reviewer.githost.local import LocalRepository, Selection
from ai_code_reviewer.llm.base import Reviewer, SourceReader
from ai_code_reviewer.review.diff import parse_unified_diff_bytes
from ai_code_reviewer.review.model import SEVERITIES, Diff, ReviewResult, Severity
from ai_code_reviewer.review.render import render_markdown
from ai_code_reviewer.settings import Settings, load_settings


@dataclass(frozen=True)
class Change:
    """A change to review: its diff, the review's title, and the files' text."""

    diff: Diff
    title: str
    sources: SourceReader | None = None


@click.command()
@click.argument("revision", required=False)
@click.option(
    "--repo",
    type=click.Path(path_type=Path),
    default=None,
    help="The Git repository (default: the current folder).",
)
@click.option("--staged", is_flag=True, help="Review the staged changes.")
@click.option(
    "--diff",
    "diff_file",
    type=click.File("rb"),
    default=None,
    help="Review this unified diff file instead; - reads standard input.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["markdown", "json"]),
    default="markdown",
    show_default=True,
    help="How the review is printed.",
)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES),
    default=None,
    help="Exit 1 when a finding of this severity or a higher one is made.",
)
@click.pass_context
def review(
    ctx: click.Context,
    revision: str | None,
    repo: Path | None,
    staged: bool,
    diff_file: BinaryIO | None,
    output_format: str,
    fail_on: Severity | None,
) -> None:
    """Review REVISION (a commit, REV1..REV2, REV1...REV2) or the staged changes.

    Without REVISION, HEAD is reviewed. Exit 0 after a review, 1 when --fail-on
    is given and met, 2 on an error.
    """
    if diff_file is not None:
        if revision or staged or repo is not None:
            raise click.UsageError("--diff takes no REVISION, --staged or --repo.")
        change = read_diff_file(diff_file)
    else:
        change = read_local_change(repo or Path.cwd(), revision, staged=staged)
    settings = load_settings()
    reviewer = settings_reviewer(settings, change.sources)
    result = asyncio.run(_run(reviewer, change.diff, change.title))
    click.echo(render(result, change.title, output_format), nl=False)
    if fail_on is not None and fails(result, fail_on):
        ctx.exit(1)


def read_local_change(path: Path, revision: str | None, *, staged: bool) -> Change:
    """Return the change ``revision`` (or the staged one) of the repository at ``path``.

    Raises:
        click.UsageError: both a revision and --staged are given.
        InvalidRequest: not a repository, an unknown revision, nothing to review.
    """
    if revision and staged:
        raise click.UsageError("Give either REVISION or --staged, not both.")
    repository = LocalRepository(path)
    selection = repository.select(revision, staged=staged)
    diff = repository.diff_of(selection)
    title = _title(repository, selection)
    return Change(diff, title, repository.reader(selection))


def _title(repository: LocalRepository, selection: Selection) -> str:
    if selection.head is None:
        return "Review of the staged changes"
    if ".." not in selection.label:
        subject = repository.title(selection.head)
        return f"Review of {selection.head[:12]}: {subject}"
    return f"Review of {selection.label}"


def read_diff_file(stream: BinaryIO) -> Change:
    """Return the change of a unified diff file (or of standard input).

    Raises:
        InvalidDiff: the content is not a unified diff.
    """
    name = getattr(stream, "name", "-")
    standard_input = name in ("-", "<stdin>") or not isinstance(name, str)
    title = "the diff on standard input" if standard_input else Path(name).name
    return Change(parse_unified_diff_bytes(stream.read()), f"Review of {title}")


def settings_reviewer(settings: Settings, sources: SourceReader | None) -> Reviewer:
    """Return the reviewer the settings configure, given the files' text."""
    # Imported here: the factory pulls in every vendor's client library, which
    # the other commands do not need.
    from ai_code_reviewer.llm.factory import build_reviewer

    return build_reviewer(settings, sources=sources)


async def _run(reviewer: Reviewer, diff: Diff, title: str) -> ReviewResult:
    """Review ``diff``, then close the reviewer's connections if it has any."""
    try:
        return await reviewer.review(diff, title=title)
    finally:
        close = getattr(reviewer, "aclose", None)
        if close is not None:
            await close()


def render(result: ReviewResult, title: str, output_format: str) -> str:
    """Return the review as Markdown, or as one JSON object on one line."""
    if output_format == "markdown":
        return render_markdown(result, title=title)
    usage = result.usage
    document = {
        "summary": result.summary,
        "provider": result.provider,
        "model": result.model,
        "findings": [finding.to_json() for finding in result.findings],
        "coverage": result.coverage_json(),
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "cost_usd": usage.cost_usd,
        },
    }
    return json.dumps(document, ensure_ascii=False) + "\n"


def fails(result: ReviewResult, threshold: Severity) -> bool:
    """Say whether a finding is as severe as ``threshold`` or more."""
    worst = SEVERITIES.index(threshold)
    return any(SEVERITIES.index(f.severity) <= worst for f in result.findings)

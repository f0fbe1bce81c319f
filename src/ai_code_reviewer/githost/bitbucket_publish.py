"""Publish a review back to Bitbucket Data Center, once, whatever the retries.

A pull request gets one summary comment, edited in place on every later
review, and one inline comment per finding that sits on a line; a commit gets
a Code Insights report with one annotation per finding, and optionally a
build status. Every part can be switched off (the ``PUBLISH_*`` settings).

Idempotence rests on markers in the comments' text: the summary ends with
:data:`SUMMARY_MARKER`, each inline comment with a fingerprint of its finding
(:func:`fingerprint`). Before posting, the pull request's activities are read
and whatever already carries our marker is edited or skipped. Code Insights
does not de-duplicate annotations, so the report is deleted before it is put
again (Atlassian, "Code Insights" REST reference).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ai_code_reviewer.errors import NotFound
from ai_code_reviewer.githost.base import Publication, Target
from ai_code_reviewer.githost.http import HostConflict, HostHttp, HostStatusError
from ai_code_reviewer.review.model import Finding
from ai_code_reviewer.settings import Settings

logger = logging.getLogger(__name__)

REPORT_KEY = "ai-code-reviewer"
REPORT_TITLE = "AI code review"
SUMMARY_MARKER = "_ai-code-reviewer review summary_"
_FINDING_MARKER = "_ai-code-reviewer finding {}_"
_FINDING_PATTERN = re.compile(r"_ai-code-reviewer finding ([0-9a-f]{12})_")
# Limits of the Code Insights API: details and messages up to 2000 characters,
# at most 1000 annotations per report.
DETAILS_LIMIT = 2000
MESSAGE_LIMIT = 2000
MAX_ANNOTATIONS = 1000
ANNOTATION_BATCH = 100
BUILD_DESCRIPTION_LIMIT = 255
_SEVERITIES = {"critical": "HIGH", "major": "HIGH", "minor": "MEDIUM", "info": "LOW"}
_TYPES = {"security": "VULNERABILITY", "bug": "BUG"}
_FAILING = frozenset({"critical", "major"})


@dataclass(frozen=True)
class PublishOptions:
    """Which parts of a review are published (the ``PUBLISH_*`` settings)."""

    pr_comment: bool = True
    inline_comments: bool = True
    code_insights: bool = True
    build_status: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> PublishOptions:
        """Read the switches from the settings."""
        return cls(
            pr_comment=settings.publish_pr_comment,
            inline_comments=settings.publish_inline_comments,
            code_insights=settings.publish_code_insights,
            build_status=settings.publish_build_status,
        )


@dataclass(frozen=True)
class RepoPaths:
    """The REST and web addresses of one repository."""

    api: str
    insights: str
    web: str

    @classmethod
    def of(cls, web_base: str, project: str, repo: str) -> RepoPaths:
        """Return the paths of ``project``/``repo`` on the server at ``web_base``."""
        tail = f"projects/{quote(project, safe='')}/repos/{quote(repo, safe='')}"
        return cls(
            api=f"/rest/api/1.0/{tail}",
            insights=f"/rest/insights/1.0/{tail}",
            web=f"{web_base.rstrip('/')}/{tail}",
        )


@dataclass(frozen=True)
class PostedComment:
    """A comment that stands on a pull request: what we need to edit or skip it."""

    id: int
    version: int
    text: str
    inline: bool


def fingerprint(finding: Finding) -> str:
    """Return 12 hex digits naming a finding across pushes, wherever its line moves.

    The path, the title (lower case, spaces squeezed) and the category name
    it; the line and the wording of the body do not.
    """
    title = " ".join(finding.title.lower().split())
    text = "\n".join((finding.path, title, finding.category))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def summary_text(publication: Publication) -> str:
    """Return the text of the summary comment: the review and our marker."""
    return f"{publication.markdown.rstrip()}\n\n{SUMMARY_MARKER}"


def inline_text(finding: Finding, mark: str) -> str:
    """Return the text of a finding's inline comment, ending with its fingerprint."""
    parts = [f"**{finding.severity.capitalize()} {finding.category}: {finding.title}**"]
    if finding.body:
        parts.append(finding.body)
    if finding.suggestion:
        parts.append(f"Suggestion: {finding.suggestion}")
    parts.append(_FINDING_MARKER.format(mark))
    return "\n\n".join(parts)


def _trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class BitbucketPublisher:
    """Post reviews as pull request comments, Code Insights reports, build statuses."""

    def __init__(self, http: HostHttp, options: PublishOptions) -> None:
        self.http = http
        self.options = options

    async def publish(
        self, paths: RepoPaths, target: Target, publication: Publication
    ) -> str:
        """Publish what the options allow; return "published" or "skipped"."""
        if target.pr_id is not None:
            done = await self.publish_pull_request(paths, target.pr_id, publication)
        elif target.commit_id is not None:
            done = await self.publish_commit(paths, target.commit_id, publication)
        else:
            done = False
        return "published" if done else "skipped"

    async def publish_pull_request(
        self, paths: RepoPaths, pr_id: int, publication: Publication
    ) -> bool:
        """Put the summary comment and the inline comments; False if both are off."""
        if not (self.options.pr_comment or self.options.inline_comments):
            return False
        standing = await self.posted_comments(paths, pr_id)
        if self.options.pr_comment:
            await self.put_summary(paths, pr_id, publication, standing)
        if self.options.inline_comments:
            await self.post_inline(paths, pr_id, publication.findings, standing)
        return True

    async def publish_commit(
        self, paths: RepoPaths, commit_id: str, publication: Publication
    ) -> bool:
        """Put the Code Insights report and the build status; False if both are off."""
        if self.options.code_insights:
            await self.put_report(paths, commit_id, publication)
        if self.options.build_status:
            await self.post_build_status(paths, commit_id, publication)
        return self.options.code_insights or self.options.build_status

    async def posted_comments(
        self, paths: RepoPaths, pr_id: int
    ) -> list[PostedComment]:
        """Return the comments standing on the pull request, from its activities."""
        url = f"{paths.api}/pull-requests/{pr_id}/activities"
        what = f"the activities of pull request {pr_id}"
        found: dict[int, PostedComment] = {}
        async for page in self.http.pages(url, what=what):
            for activity in page.values:
                comment = _comment_of(activity)
                if comment is not None:
                    found.setdefault(comment.id, comment)
        return list(found.values())

    async def put_summary(
        self,
        paths: RepoPaths,
        pr_id: int,
        publication: Publication,
        standing: Sequence[PostedComment],
    ) -> None:
        """Edit our summary comment in place, or post it when there is none."""
        text = summary_text(publication)
        ours = next((c for c in standing if _is_summary(c)), None)
        comments = f"{paths.api}/pull-requests/{pr_id}/comments"
        if ours is None:
            what = f"a comment on pull request {pr_id}"
            await self.http.request("POST", comments, what=what, json={"text": text})
            return
        if ours.text != text:
            await self._edit(f"{comments}/{ours.id}", ours.version, text)

    async def _edit(self, url: str, version: int, text: str) -> None:
        """Edit a comment; on a stale version read it again and retry once."""
        what = "an edit of the summary comment"
        try:
            await self.http.request(
                "PUT", url, what=what, json={"text": text, "version": version}
            )
        except HostConflict:
            logger.warning("githost.comment_version_stale", extra={"url": url})
            fresh = await self.http.json("GET", url, what="the summary comment")
            body = {"text": text, "version": fresh.get("version")}
            await self.http.request("PUT", url, what=what, json=body)

    async def post_inline(
        self,
        paths: RepoPaths,
        pr_id: int,
        findings: Iterable[Finding],
        standing: Sequence[PostedComment],
    ) -> int:
        """Post one comment per finding on a line, skipping those already there.

        Return how many were posted. A comment the server refuses with 400 or
        409 (the line left the diff) is logged and skipped.
        """
        marks = {m for c in standing for m in _FINDING_PATTERN.findall(c.text)}
        url = f"{paths.api}/pull-requests/{pr_id}/comments"
        posted = 0
        for finding in findings:
            mark = fingerprint(finding)
            if finding.line is None or not finding.path or mark in marks:
                continue
            if await self._post_one(url, pr_id, finding, mark):
                posted += 1
            marks.add(mark)
        return posted

    async def _post_one(
        self, url: str, pr_id: int, finding: Finding, mark: str
    ) -> bool:
        """Post one inline comment; False when the server refused its anchor."""
        anchor = {
            "path": finding.path,
            "line": finding.line,
            "lineType": "ADDED",
            "fileType": "TO",
            "diffType": "EFFECTIVE",
        }
        body = {"text": inline_text(finding, mark), "anchor": anchor}
        what = f"an inline comment on pull request {pr_id}"
        try:
            await self.http.request("POST", url, what=what, json=body)
        except HostStatusError as exc:
            if exc.status not in (400, 409):
                raise
            logger.warning(
                "githost.inline_comment_skipped",
                extra={"pr_id": pr_id, "fingerprint": mark, "status": exc.status},
            )
            return False
        return True

    async def put_report(
        self, paths: RepoPaths, commit_id: str, publication: Publication
    ) -> None:
        """Replace the commit's Code Insights report and post its annotations."""
        url = (
            f"{paths.insights}/commits/{quote(commit_id, safe='')}/reports/{REPORT_KEY}"
        )
        what = f"the Code Insights report of commit {commit_id}"
        with contextlib.suppress(NotFound):
            await self.http.request("DELETE", url, what=what)
        report = report_body(publication.summary, publication.findings)
        await self.http.request("PUT", url, what=what, json=report)
        annotations = [annotation(f) for f in publication.findings[:MAX_ANNOTATIONS]]
        for start in range(0, len(annotations), ANNOTATION_BATCH):
            batch = annotations[start : start + ANNOTATION_BATCH]
            await self.http.request(
                "POST", f"{url}/annotations", what=what, json={"annotations": batch}
            )

    async def post_build_status(
        self, paths: RepoPaths, commit_id: str, publication: Publication
    ) -> None:
        """Set the commit's build status: FAILED on a critical or major finding."""
        commit = quote(commit_id, safe="")
        body = {
            "key": REPORT_KEY,
            "state": "FAILED" if _failing(publication.findings) else "SUCCESSFUL",
            "name": REPORT_TITLE,
            "description": _trim(publication.summary, BUILD_DESCRIPTION_LIMIT),
            "url": f"{paths.web}/commits/{commit}",
        }
        what = f"the build status of commit {commit_id}"
        url = f"{paths.api}/commits/{commit}/builds"
        await self.http.request("POST", url, what=what, json=body)


def report_body(summary: str, findings: Sequence[Finding]) -> dict[str, Any]:
    """Return the Code Insights report of a review: result, details, counts."""
    total = {"title": "Findings", "type": "NUMBER", "value": len(findings)}
    counts = [
        {
            "title": severity.capitalize(),
            "type": "NUMBER",
            "value": sum(1 for f in findings if f.severity == severity),
        }
        for severity in ("critical", "major", "minor", "info")
    ]
    return {
        "title": REPORT_TITLE,
        "details": _trim(summary, DETAILS_LIMIT),
        "result": "FAIL" if _failing(findings) else "PASS",
        "reporter": REPORT_KEY,
        "data": [total, *counts],
    }


def annotation(finding: Finding) -> dict[str, Any]:
    """Return the Code Insights annotation of one finding."""
    message = f"{finding.title}: {finding.body}" if finding.body else finding.title
    item: dict[str, Any] = {
        "externalId": fingerprint(finding),
        "message": _trim(message, MESSAGE_LIMIT),
        "severity": _SEVERITIES[finding.severity],
        "type": _TYPES.get(finding.category, "CODE_SMELL"),
    }
    if finding.path:
        item["path"] = finding.path
    if finding.line is not None:
        item["line"] = finding.line
    return item


def _failing(findings: Iterable[Finding]) -> bool:
    return any(f.severity in _FAILING for f in findings)


def _is_summary(comment: PostedComment) -> bool:
    return not comment.inline and comment.text.rstrip().endswith(SUMMARY_MARKER)


def _comment_of(activity: Any) -> PostedComment | None:
    """Return the comment a COMMENTED activity carries, or None for other actions."""
    if not isinstance(activity, dict) or activity.get("action") != "COMMENTED":
        return None
    comment = activity.get("comment")
    if not isinstance(comment, dict):
        return None
    cid, version, text = (comment.get(k) for k in ("id", "version", "text"))
    if not (
        isinstance(cid, int) and isinstance(version, int) and isinstance(text, str)
    ):
        return None
    inline = "commentAnchor" in activity or "anchor" in comment
    return PostedComment(cid, version, text, inline)

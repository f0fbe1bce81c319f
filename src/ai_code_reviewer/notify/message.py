"""Build a review's email: headers, a plain text part and an HTML part.

Both parts come from the Jinja2 templates in ``templates/``. The HTML one is
autoescaped, and the model's Markdown goes through ``markup`` before it is
marked safe. Every header value that comes from data (a repository name, an
address) is put on one line first, so that a line break in it cannot end the
header and forge another (RFC 5322 section 2.2); the email package refuses
such values too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from functools import cache
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ai_code_reviewer.notify.base import Message
from ai_code_reviewer.notify.markup import markdown_to_html, web_url
from ai_code_reviewer.review.model import SEVERITIES, Finding
from ai_code_reviewer.review.render import count_line

SUBJECT_PREFIX = "[ai-code-reviewer]"
WHOLE_CHANGE = "The whole change"
SEVERITY_COLORS = {
    "critical": "#a40e26",
    "major": "#cf222e",
    "minor": "#9a6700",
    "info": "#57606a",
}


@dataclass(frozen=True)
class EmailOptions:
    """What the settings say about every email: sender, Reply-To, opt-out page."""

    sender: str = "ai-code-reviewer@localhost"
    reply_to: str | None = None
    unsubscribe_url: str | None = None


def message_id(review_id: int) -> str:
    """Return the Message-ID of a review's email, the same on every retry."""
    return f"<review-{review_id}@ai-code-reviewer>"


def one_line(value: str) -> str:
    """Return ``value`` with every run of whitespace, line breaks too, as a space."""
    return " ".join(value.split())


def subject_line(message: Message) -> str:
    """Return ``[ai-code-reviewer] PROJ/repo a1b2c3d: 2 major, 1 minor``."""
    target = one_line(message.subject_target)
    return f"{SUBJECT_PREFIX} {target}: {count_line(message.findings)}"


def build_email(message: Message, options: EmailOptions, now: datetime) -> EmailMessage:
    """Return the whole email of ``message``, ready to send or to save."""
    recipients = (*message.recipients, *message.cc)
    unsubscribe = unsubscribe_url(options.unsubscribe_url, recipients)
    email = _headed_email(options, message, now)
    email["Message-ID"] = message_id(message.review_id)
    email["X-AI-Code-Reviewer-Review-Id"] = str(message.review_id)
    if unsubscribe is not None:
        _add_unsubscribe(email, unsubscribe, one_person=len(recipients) == 1)
    context = review_context(message, unsubscribe)
    email.set_content(_render("review.txt.j2", context))
    email.add_alternative(_render("review.html.j2", context), subtype="html")
    return email


def build_test_email(
    address: str, options: EmailOptions, now: datetime
) -> EmailMessage:
    """Return a short test email to ``address`` with the usual headers."""
    email = EmailMessage(policy=SMTP)
    _set_common_headers(email, options, now)
    email["To"] = one_line(address)
    email["Subject"] = f"{SUBJECT_PREFIX} test message"
    email["Message-ID"] = make_msgid("test", domain="ai-code-reviewer")
    email.set_content(
        "This is a test message from ai-code-reviewer.\n\n"
        "If you can read it, review emails can reach this address.\n"
    )
    return email


def render_html(message: Message, options: EmailOptions | None = None) -> str:
    """Return the HTML part of the review's email (for previews)."""
    recipients = (*message.recipients, *message.cc)
    template = options.unsubscribe_url if options else None
    context = review_context(message, unsubscribe_url(template, recipients))
    return _render("review.html.j2", context)


def review_context(message: Message, unsubscribe: str | None) -> dict[str, Any]:
    """Return what the templates show of ``message``."""
    return {
        "review_id": message.review_id,
        "target": one_line(message.subject_target),
        "url": web_url(message.url),
        "summary": (message.summary or message.markdown).strip(),
        "counts": count_line(message.findings),
        "files": group_by_file(message.findings),
        "skipped": message.skipped,
        "cut": message.cut,
        "unsubscribe": unsubscribe,
    }


def group_by_file(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """Group findings by path, the whole change first, each file by line."""
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.path, []).append(finding)
    return [
        {
            "path": path,
            "title": path or WHOLE_CHANGE,
            "findings": [_finding_view(item) for item in sorted(items, key=_order)],
        }
        for path, items in sorted(groups.items())
    ]


def unsubscribe_url(template: str | None, recipients: tuple[str, ...]) -> str | None:
    """Return the opt-out URL for these recipients, or None when there is none.

    ``{email}`` is filled only when the email goes to one person: with
    several, any of them may click, and a link naming the first would
    unsubscribe that person; the page is then opened without an address and
    asks for it.
    """
    if not template:
        return None
    address = recipients[0] if len(recipients) == 1 else ""
    url = template.replace("{email}", quote(address, safe="@"))
    if url.lower().startswith("mailto:") and not any(c.isspace() for c in url):
        return url
    return web_url(url)


def _add_unsubscribe(email: EmailMessage, url: str, *, one_person: bool) -> None:
    """Add List-Unsubscribe, and the one-click header when a POST can act on it.

    RFC 8058 one-click needs an HTTPS URL that names who unsubscribes.
    """
    email["List-Unsubscribe"] = f"<{url}>"
    if url.lower().startswith("https://") and one_person:
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


def _headed_email(
    options: EmailOptions, message: Message, now: datetime
) -> EmailMessage:
    """Return an email with the From, To, Cc, Subject, Date... headers set."""
    email = EmailMessage(policy=SMTP)
    _set_common_headers(email, options, now)
    email["To"] = ", ".join(one_line(address) for address in message.recipients)
    if message.cc:
        email["Cc"] = ", ".join(one_line(address) for address in message.cc)
    email["Subject"] = subject_line(message)
    return email


def _set_common_headers(
    email: EmailMessage, options: EmailOptions, now: datetime
) -> None:
    """Set From, Reply-To, Date and Auto-Submitted (RFC 3834 section 5)."""
    email["From"] = one_line(options.sender)
    if options.reply_to:
        email["Reply-To"] = one_line(options.reply_to)
    email["Date"] = format_datetime(now)
    email["Auto-Submitted"] = "auto-generated"


def _finding_view(finding: Finding) -> dict[str, Any]:
    """Return one finding as the templates show it."""
    return {
        "severity": finding.severity,
        "color": SEVERITY_COLORS[finding.severity],
        "where": _where(finding),
        "title": one_line(finding.title),
        "body": finding.body.strip(),
        "suggestion": (finding.suggestion or "").rstrip(),
    }


def _where(finding: Finding) -> str:
    """Return ``line 12``, ``lines 12-14`` or nothing for a whole-file finding."""
    if finding.line is None:
        return ""
    if finding.end_line is not None and finding.end_line > finding.line:
        return f"lines {finding.line}-{finding.end_line}"
    return f"line {finding.line}"


def _order(finding: Finding) -> tuple[int, int]:
    return finding.line or 0, SEVERITIES.index(finding.severity)


@cache
def _environment() -> Environment:
    """Return the template environment: HTML templates autoescaped, text not."""
    environment = Environment(
        loader=PackageLoader("ai_code_reviewer.notify", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["markdown"] = _markdown_filter
    return environment


def _markdown_filter(text: str) -> Markup:
    """Render Markdown to cleaned HTML, marked safe for the autoescaping template."""
    return Markup(markdown_to_html(text))  # noqa: S704  # cleaned by nh3 just now


def _render(name: str, context: dict[str, Any]) -> str:
    return _environment().get_template(name).render(context)

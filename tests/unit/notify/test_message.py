"""The review email as built: headers, text and HTML parts, hostile content."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from html.parser import HTMLParser
from typing import Any

import pytest

from ai_code_reviewer.notify.base import Message
from ai_code_reviewer.notify.markup import markdown_to_html, web_url
from ai_code_reviewer.notify.message import (
    EmailOptions,
    build_email,
    build_test_email,
    render_html,
    unsubscribe_url,
)
from ai_code_reviewer.review.model import Finding, Skipped

NOW = datetime(2025, 1, 7, 9, 30, tzinfo=UTC)
HOSTILE = (
    "Fine <script>alert(1)</script> ![pixel](http://evil.example/p.png) "
    '<img src="http://evil.example/i.png"> [click](javascript:alert(1)) '
    '<a href="http://evil.example" onclick="x()">x</a>'
)


def finding(**overrides: Any) -> Finding:
    """Return a major finding on app.py line 2, changed by ``overrides``."""
    values: dict[str, Any] = {
        "path": "app.py",
        "line": 2,
        "severity": "major",
        "category": "security",
        "title": "eval of input",
        "body": "Do not **eval**.",
        "suggestion": "x = int(os.environ['X'])",
    }
    values.update(overrides)
    return Finding(**values)


def make_message(**overrides: Any) -> Message:
    """Return a commit review with findings in two files, to the author."""
    values: dict[str, Any] = {
        "review_id": 42,
        "subject_target": "PROJ/service a1b2c3d",
        "recipients": ("ada@example.com",),
        "markdown": "# Review\n",
        "summary": "The change adds an eval.",
        "findings": (
            finding(),
            finding(severity="major", line=9, title="second"),
            finding(path="util.py", severity="minor", line=None, suggestion=None),
        ),
        "skipped": (Skipped("poetry.lock", "lock file"),),
        "cut": ("big.py: lines after 400 left out",),
        "url": "https://git.example.com/projects/PROJ/repos/service/commits/a1b2c3d",
    }
    values.update(overrides)
    return Message(**values)


def built(message: Message, **options: Any) -> EmailMessage:
    """Build the email and read it back from its bytes, as a client would."""
    raw = build_email(message, EmailOptions(**options), NOW).as_bytes()
    parsed = email.message_from_bytes(raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def part(parsed: EmailMessage, subtype: str) -> str:
    """Return the text of the email's ``subtype`` part."""
    body = parsed.get_body((subtype,))
    assert body is not None
    content: str = body.get_content()
    return content


class TagCollector(HTMLParser):
    """Collect every tag and its attributes in an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Record a start tag."""
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """Return the tags of ``html`` with their attributes."""
    collector = TagCollector()
    collector.feed(html)
    return collector.tags


def test_subject_names_the_commit_and_counts() -> None:
    """The subject is prefix, project/repo, short commit and severity counts."""
    parsed = built(make_message())

    assert (
        parsed["Subject"] == "[ai-code-reviewer] PROJ/service a1b2c3d: 2 major, 1 minor"
    )


def test_subject_of_a_pull_request_without_findings() -> None:
    """A pull request's subject names it; no finding says so."""
    parsed = built(make_message(subject_target="PROJ/service PR #7", findings=()))

    assert parsed["Subject"] == "[ai-code-reviewer] PROJ/service PR #7: no findings"


def test_headers_of_a_review_email() -> None:
    """From, Reply-To, To, Cc, Date, Message-ID and Auto-Submitted are set."""
    message = make_message(cc=("archive@example.com",))

    parsed = built(message, sender="Review <r@example.com>", reply_to="l@example.com")

    assert parsed["From"] == "Review <r@example.com>"
    assert parsed["Reply-To"] == "l@example.com"
    assert (parsed["To"], parsed["Cc"]) == ("ada@example.com", "archive@example.com")
    assert parsed["Date"].datetime == NOW
    assert parsed["Message-ID"] == "<review-42@ai-code-reviewer>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["List-Unsubscribe"] is None


def test_email_has_text_then_html() -> None:
    """The email is multipart/alternative: plain text first, HTML last."""
    parsed = built(make_message())

    assert parsed.get_content_type() == "multipart/alternative"
    kinds = [item.get_content_type() for item in parsed.iter_parts()]
    assert kinds == ["text/plain", "text/html"]


def test_text_part_groups_findings_by_file() -> None:
    """The text lists each file once, its findings by line, and the coverage."""
    text = part(built(make_message()), "plain")

    assert text.count("== app.py ==") == 1
    assert text.index("line 2: eval of input") < text.index("line 9: second")
    assert "- [minor] eval of input" in text
    assert "x = int(os.environ['X'])" in text
    assert "- poetry.lock: lock file" in text
    assert "- big.py: lines after 400 left out" in text
    assert "https://git.example.com/projects/PROJ/repos/service/commits/a1b2c3d" in text


def test_html_part_shows_the_review() -> None:
    """The HTML has the summary, each finding, the suggestion and the link."""
    html = part(built(make_message()), "html")

    assert "<strong>eval</strong>" in html
    assert "x = int(os.environ[&#39;X&#39;])" in html
    assert '<a href="https://git.example.com/projects/PROJ/repos/service' in html
    assert "<code>poetry.lock</code>: lock file" in html


def test_hostile_markdown_is_shown_as_text_without_remote_content() -> None:
    """Script, images, event attributes and javascript: links never reach the HTML."""
    message = make_message(
        summary=HOSTILE, findings=(finding(body=HOSTILE, title="<b>t</b>"),)
    )

    html = part(built(message), "html")

    tags = tags_of(html)
    names = {name for name, _ in tags}
    assert not names & {"script", "img", "style", "iframe"}
    assert all(not key.startswith("on") for _, attrs in tags for key in attrs)
    hrefs = [attrs.get("href") or "" for name, attrs in tags if name == "a"]
    assert all(href.startswith("https://git.example.com") for href in hrefs)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;t&lt;/b&gt;" in html
    assert "evil.example/p.png" not in html


def test_line_break_in_a_title_or_target_adds_no_header() -> None:
    """CR/LF in data lands in the Subject or the body, never as a new header."""
    message = make_message(
        subject_target="PROJ/service\r\nBcc: mallory@example.com",
        findings=(finding(title="eval\r\nBcc: mallory@example.com"),),
    )

    parsed = built(message)

    assert parsed["Bcc"] is None
    assert parsed["Subject"].startswith(
        "[ai-code-reviewer] PROJ/service Bcc: mallory@example.com: 1 major"
    )
    assert "line 2: eval Bcc: mallory@example.com" in part(parsed, "plain")


def test_unsafe_commit_url_is_left_out() -> None:
    """A javascript: URL for the change is not linked."""
    html = part(built(make_message(url="javascript:alert(1)")), "html")

    assert "javascript:" not in html
    assert "Open it on the Git host" not in html


def test_unsubscribe_names_the_one_recipient() -> None:
    """With one recipient the URL names them and one-click is offered."""
    parsed = built(
        make_message(recipients=("ada+x@example.com",)),
        unsubscribe_url="https://intra.example.com/optout?email={email}",
    )

    assert parsed["List-Unsubscribe"] == (
        "<https://intra.example.com/optout?email=ada%2Bx@example.com>"
    )
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_unsubscribe_with_several_recipients_names_nobody() -> None:
    """With several recipients the URL names nobody and one-click is not offered."""
    parsed = built(
        make_message(cc=("bob@example.com",)),
        unsubscribe_url="https://intra.example.com/optout?email={email}",
    )

    assert parsed["List-Unsubscribe"] == "<https://intra.example.com/optout?email=>"
    assert parsed["List-Unsubscribe-Post"] is None


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "mailto:optout@example.com?subject={email}",
            "mailto:optout@example.com?subject=a@b.c",
        ),
        ("http://intra/optout", "http://intra/optout"),
        ("ftp://intra/optout", None),
        (None, None),
    ],
)
def test_unsubscribe_url_schemes(template: str | None, expected: str | None) -> None:
    """Only http, https and mailto opt-out URLs are used."""
    assert unsubscribe_url(template, ("a@b.c",)) == expected


def test_stored_review_without_data_shows_its_markdown() -> None:
    """A review stored before findings were data shows its Markdown as the summary."""
    message = make_message(summary="", findings=(), markdown="# Old\n\n**bold**")

    html = render_html(message)

    assert "<strong>bold</strong>" in html


def test_test_email_is_plain_and_addressed() -> None:
    """The test message goes to the address with the usual sender headers."""
    built_email = build_test_email(
        "ada@example.com", EmailOptions("r@example.com"), NOW
    )

    assert built_email["To"] == "ada@example.com"
    assert built_email["Subject"] == "[ai-code-reviewer] test message"
    assert built_email["Auto-Submitted"] == "auto-generated"
    assert built_email.get_content_type() == "text/plain"


def test_markdown_links_keep_only_safe_schemes() -> None:
    """http, https and mailto links stay; others lose their href."""
    html = markdown_to_html(
        "[a](https://a.example) [m](mailto:x@example.com) [f](file:///etc/passwd)"
    )

    assert '<a href="https://a.example" rel="noopener noreferrer">a</a>' in html
    assert 'href="mailto:x@example.com"' in html
    assert 'href="file:' not in html


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://git.example.com/c/1", True),
        ("http://git/c/1", True),
        ("javascript:alert(1)", False),
        ("https://git.example.com/c/1\r\nX: y", False),
        ("//git.example.com/c/1", False),
        ("", False),
    ],
)
def test_web_url_accepts_absolute_http_only(url: str, kept: bool) -> None:
    """Only absolute http(s) URLs without whitespace are linked."""
    assert (web_url(url) == url) is kept

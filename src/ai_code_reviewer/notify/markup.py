"""Turn the model's Markdown into HTML that is safe to put in an email.

Two locks, each enough on its own for what it guards: markdown-it-py runs
with raw HTML off, so ``<script>`` in a finding is shown as text; nh3 then
keeps only a short list of tags and attributes, drops every image (an
image is fetched when the mail is opened, which tells a third party who
read it), and keeps links only to http, https and mailto.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt

ALLOWED_TAGS = frozenset(
    {
        "a",
        "blockquote",
        "br",
        "code",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "li",
        "ol",
        "p",
        "pre",
        "strong",
        "ul",
    }
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})

_MARKDOWN = MarkdownIt("commonmark", {"html": False})


def markdown_to_html(text: str) -> str:
    """Return ``text`` rendered from Markdown, with raw HTML shown as text."""
    return clean_html(_MARKDOWN.render(text))


def clean_html(html: str) -> str:
    """Return ``html`` with only the allowed tags, attributes and link schemes."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def web_url(url: str | None) -> str | None:
    """Return ``url`` when it is an absolute http or https address, else None."""
    if not url or any(char.isspace() or ord(char) < 32 for char in url):
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in {"http", "https"} or not parts.netloc:
        return None
    return url

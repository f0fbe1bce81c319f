"""Keep one summary comment per pull request on GitHub and GitLab, edited in place.

Both hosts keep a pull (or merge) request's comments as a paged list of
``{id, body}`` objects, create one with a POST and edit one by id. Ours is
the comment whose body ends with :data:`SUMMARY_MARKER`, an HTML comment that
both hosts' Markdown hides; a later review edits it instead of adding one, and
leaves it alone when nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ai_code_reviewer.githost.http import HostHttp, linked_pages

SUMMARY_MARKER = "<!-- ai-code-reviewer:summary -->"


@dataclass(frozen=True)
class CommentThread:
    """Where a host lists a pull request's comments, and how it edits one.

    ``edit_url`` holds ``{id}`` for the comment's id; ``noun`` names the
    comment in error messages ("comment on pull request #7").
    """

    list_url: str
    edit_url: str
    edit_method: str
    noun: str


async def put_summary(http: HostHttp, thread: CommentThread, markdown: str) -> str:
    """Post the review as the thread's summary comment, or edit the one there.

    Return "published".
    """
    body = f"{markdown.rstrip()}\n\n{SUMMARY_MARKER}"
    ours = await find_summary(http, thread)
    if ours is None:
        what = f"a {thread.noun}"
        await http.request("POST", thread.list_url, what=what, json={"body": body})
    elif ours[1] != body:
        url = thread.edit_url.format(id=ours[0])
        what = f"an edit of the summary {thread.noun}"
        await http.request(thread.edit_method, url, what=what, json={"body": body})
    return "published"


async def find_summary(http: HostHttp, thread: CommentThread) -> tuple[int, str] | None:
    """Return (id, body) of our summary comment in the thread, if there is one."""
    what = f"the comments around the {thread.noun}"
    async for page in linked_pages(http, thread.list_url, what=what):
        for comment in page.values:
            found = _marked(comment)
            if found is not None:
                return found
    return None


def _marked(comment: Any) -> tuple[int, str] | None:
    """Return (id, body) of a user's comment that ends with our summary marker.

    GitLab's system notes ("added 1 commit") are never ours, whatever they quote.
    """
    if not isinstance(comment, dict) or comment.get("system") is True:
        return None
    cid, body = comment.get("id"), comment.get("body")
    if not (isinstance(cid, int) and isinstance(body, str)):
        return None
    return (cid, body) if body.rstrip().endswith(SUMMARY_MARKER) else None

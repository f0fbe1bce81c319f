"""Find secrets in text and replace each with ``[REDACTED:<kind>]``.

The rules run in this order; text an earlier rule masked is not looked at again:

- ``private_key``: a ``-----BEGIN ... PRIVATE KEY-----`` block through its END
  line; without an END line, the BEGIN line and the base64 lines after it.
- ``aws_access_key_id``: ``AKIA`` or ``ASIA`` and 16 capitals or digits.
- ``github_token``: ``ghp_``, ``gho_``, ``ghu_``, ``ghs_``, ``ghr_``, ``github_pat_``.
- ``slack_token``: ``xoxa-``, ``xoxb-``, ``xoxp-``, ``xoxr-``, ``xoxs-``.
- ``atlassian_token``: Bitbucket HTTP access tokens (``BBDC-``) and Atlassian
  API tokens (``ATATT``).
- ``jwt``: three base64url parts, the first two starting ``eyJ``.
- ``auth_header``: the credentials of ``Authorization: Bearer|Basic|Token ...``.
- ``url_password``: the password of ``scheme://user:password@host`` unless it is
  a placeholder (below); the user stays.
- ``secret_assignment``: the value given to a key whose name ends in password,
  passwd, passphrase, secret, secret_key, token, api_key, apikey, access_key,
  private_key or client_secret (``=``, ``:``, ``=>``, ``:=``; code, YAML, JSON,
  .env). A quoted value is a secret unless it is empty, a placeholder
  (``${X}``, ``{x}``, ``<x>``, ``%s``, ``***``, the words pass, password,
  secret, token) or the key's own name. An
  unquoted value is a secret unless it is a keyword (None, null, true), an
  identifier without digits or an attribute path (``user_password``,
  ``settings.TOKEN``), or an expression (``get()``, ``env[...]``, ``$X``).
- ``high_entropy``: a run of 32 or more base64 or hex characters that looks
  random: hex needs a digit, a letter and 3.0 bits of entropy a character;
  base64 needs a capital, a small letter, a digit, 4.0 bits a character, and
  must not read as words joined by ``_``, ``-`` or ``/`` (identifiers, paths,
  URL paths whose segments are words or git object ids).
  Checksums are not secrets: a run is kept when it follows a digest label
  (``sha256:``, ``sha512-``, ``h1:``, ``checksum =``, ``integrity``), an ``@``
  (a pinned action), or is a hex id on a git header line (``index a..b``,
  ``From <sha>``, ``commit <sha>``).
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_NAME = (
    r"pass(?:word|wd|phrase)|secret(?:[_-]?key)?|token|api[_-]?key"
    r"|access[_-]?key|private[_-]?key|client[_-]?secret"
)
_KEY_LABEL = r"[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
_PRIVATE_KEY = re.compile(
    rf"-----BEGIN{_KEY_LABEL}(?:(?:(?!-----BEGIN)[\s\S])*?-----END{_KEY_LABEL}"
    r"|(?:\r?\n[+ -]?[A-Za-z0-9+/=]{16,})*)"  # no END line: the base64 lines
)
_SECRET_FIELD = re.compile(rf"[\w.-]*(?:{_NAME}|authorization|cookie)", re.I)
_ASSIGNMENT = re.compile(
    rf"(?<![\w.-])(?P<key>[\w.-]*?(?P<name>{_NAME}))(?!\w)[\"']?"
    r"(?:[ \t]*:[ \t]*[A-Za-z_][\w\[\]., |]*?(?=[ \t]*=))?"  # a type annotation
    r"[ \t]*(?:=>|:=|[:=](?!=))[ \t]*"
    r"(?:[bBrRuUfF]{0,2}(?P<quote>[\"'`])(?P<secret>(?:(?!(?P=quote)).)*)(?P=quote)"
    r"|(?P<bare>[^\s\"'`,;)}\]#][^\s\"'`,;)}\]]*))",
    re.I,
)
_PLACEHOLDER = re.compile(
    r"\$\{|\{\{|\{[\w.]*\}|<[\w .-]*>|^%|^\$\w+$|^[*xX.\u2026]+$"
    r"|^(?:none|null|nil|true|false|undefined|[|>~-]-?"
    r"|(?:your|my)?[_-]?(?:password|passwd|pass|pwd|secret|token))$",
    re.I,
)
_IDENTIFIER = re.compile(r"[A-Za-z_]+|[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_EXPRESSION = re.compile(r"[(\[{<$%]")
_HEX = re.compile(r"[0-9a-fA-F]+")
# Words joined by _ or -, as path segments with / between them; a segment may
# also be a git object id (``commits/3b18e51...`` in a URL). Each way of reading
# a segment must reach its end, and the first that does is final: "deadbeef" is
# both a word and hex, and trying both for every segment takes exponential time.
_SEGMENT = (
    r"(?>(?:[A-Za-z]+\d*|\d+)(?:[_-](?:[A-Za-z]+\d*|\d+))*(?=/|$)"
    r"|[0-9a-f]{7,64}(?=/|$))"
)
_WORDS = re.compile(rf"/?{_SEGMENT}(?:/{_SEGMENT})*/?")
_GIT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_DIGEST_LABEL = re.compile(
    r"(?:\b(?:sha\d*|md5|h1|checksum|hash|digest|integrity|commit|rev|revision)"
    r"[\"']?\s*[:=-]?\s*[\"']?|@)$",
    re.I,
)
_DIGEST_PREFIX = re.compile(r"(?:sha\d+|md5)-", re.I)
_GIT_HEADER_LINE = re.compile(r"(?:index |From |commit |Merge: |tree |parent )")


@dataclass(frozen=True)
class Secret:
    """A secret found in a text: its kind and its line (never its value)."""

    kind: str
    line: int


@dataclass(frozen=True)
class Redaction:
    """A text with its secrets masked, and what was masked where."""

    text: str
    found: tuple[Secret, ...]


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    is_secret: Callable[[re.Match[str]], bool] = lambda match: True


def redact(text: str) -> Redaction:
    """Return ``text`` with every secret replaced by ``[REDACTED:<kind>]``."""
    spans = _find_spans(text)
    newlines = [match.start() for match in re.finditer("\n", text)]
    found = tuple(
        Secret(kind, bisect.bisect_left(newlines, start) + 1)
        for start, _, kind in spans
    )
    pieces, last = [], 0
    for start, end, kind in spans:
        pieces += [text[last:start], f"[REDACTED:{kind}]"]
        last = end
    return Redaction("".join([*pieces, text[last:]]), found)


def redact_mapping(value: Any) -> Any:
    """Return a copy of JSON-like ``value`` with its secrets masked.

    Values under secret-named keys (password, token, authorization, ...) are
    masked whole; every other string is passed through :func:`redact`, except
    a string that is exactly a git object id or SHA-256 digest (40 or 64 small
    hex digits): in a payload that is a commit id, not a secret.
    """
    if isinstance(value, str):
        return value if _GIT_ID.fullmatch(value) else redact(value).text
    if isinstance(value, Mapping):
        return {key: _redact_field(key, item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        items = [redact_mapping(item) for item in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def _redact_field(key: object, item: Any) -> Any:
    scalar = isinstance(item, str | bytes | int | float) and not isinstance(item, bool)
    named = isinstance(key, str) and _SECRET_FIELD.fullmatch(key) is not None
    if named and scalar and item not in ("", b""):
        return "[REDACTED:secret_assignment]"
    return redact_mapping(item)


def _find_spans(text: str) -> list[tuple[int, int, str]]:
    """Return the (start, end, kind) of every secret, in text order."""
    taken: list[tuple[int, int, str]] = []  # sorted, never overlapping
    for rule in _RULES:
        for match in rule.pattern.finditer(text):
            start, end = _secret_span(match)
            place = bisect.bisect_left(taken, (start, end))
            free = _is_free(taken, place, start, end)
            if start < end and free and rule.is_secret(match):
                taken.insert(place, (start, end, rule.kind))
    return taken


def _is_free(
    taken: list[tuple[int, int, str]], place: int, start: int, end: int
) -> bool:
    """Say whether [start, end) misses the spans just before and after ``place``."""
    before = place == 0 or taken[place - 1][1] <= start
    return before and (place == len(taken) or end <= taken[place][0])


def _secret_span(match: re.Match[str]) -> tuple[int, int]:
    for group in ("secret", "bare"):
        if group in match.re.groupindex and match[group] is not None:
            return match.span(group)
    return match.span()


def _is_assigned_secret(match: re.Match[str]) -> bool:
    """Tell a literal secret from a placeholder, an expression or a field label."""
    value = match["secret"] if match["secret"] is not None else match["bare"]
    if not value or _PLACEHOLDER.search(value):
        return False
    if _squash(value) in (_squash(match["key"]), _squash(match["name"])):
        return False
    if match["bare"] is None:
        return True
    return not (_IDENTIFIER.fullmatch(value) or _EXPRESSION.search(value))


def _squash(text: str) -> str:
    return re.sub(r"[\s_.-]", "", text.lower())


def _is_url_password(match: re.Match[str]) -> bool:
    return not _PLACEHOLDER.search(match["secret"])


def _is_random(match: re.Match[str]) -> bool:
    """Tell a random-looking run from a checksum, an id, an identifier or a path."""
    token = match[0]
    if _is_reference(match):
        return False
    if _HEX.fullmatch(token):
        has_both = not token.isdigit() and not token.isalpha()
        return has_both and _entropy(token) >= 3.0
    if _WORDS.fullmatch(token) or _DIGEST_PREFIX.match(token):
        return False
    kinds = (str.isupper, str.islower, str.isdigit)
    has_all = all(any(kind(char) for char in token) for kind in kinds)
    return has_all and _entropy(token) >= 4.0


def _is_reference(match: re.Match[str]) -> bool:
    """Say whether a run follows a digest label, or is a hex id on a git header."""
    text, start = match.string, match.start()
    line_start = text.rfind("\n", 0, start) + 1
    if _DIGEST_LABEL.search(text[max(line_start, start - 40) : start]):
        return True
    is_hex = _HEX.fullmatch(match[0]) is not None
    return is_hex and _GIT_HEADER_LINE.match(text, line_start) is not None


def _entropy(token: str) -> float:
    """Return the Shannon entropy of ``token`` in bits a character."""
    counts = Counter(token).values()
    return -sum(n / len(token) * math.log2(n / len(token)) for n in counts)


_RULES = (
    _Rule("private_key", _PRIVATE_KEY),
    _Rule("aws_access_key_id", re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")),
    _Rule(
        "github_token",
        re.compile(r"\b(?:gh[opsur]_[A-Za-z0-9]{30,}|github_pat_\w{30,})\b"),
    ),
    _Rule("slack_token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    _Rule("atlassian_token", re.compile(r"\b(?:BBDC-|ATATT)[\w+/=-]{30,}")),
    _Rule("jwt", re.compile(r"\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{8,}")),
    _Rule(
        "auth_header",
        re.compile(
            r"authorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:bearer|basic|token)[ \t]+"
            r"(?P<secret>[\w.~+/=-]{8,})",
            re.I,
        ),
    ),
    _Rule(
        "url_password",
        re.compile(
            r"\b[a-z][a-z0-9+.-]{0,31}://[^\s:/@'\"]{1,128}"
            r":(?P<secret>[^\s@/'\"]{1,256})@",
            re.I,
        ),
        _is_url_password,
    ),
    _Rule("secret_assignment", _ASSIGNMENT, _is_assigned_secret),
    _Rule("high_entropy", re.compile(r"[A-Za-z0-9+/=_-]{32,}"), _is_random),
)

"""Choose who gets a review's email: the recipient policy, with no I/O.

The candidates are the change's author and, for a pull request, its
reviewers, as the Git host named them; EMAIL_CC adds copies. Every address
is checked the same way: a malformed one, one outside EMAIL_ALLOWED_DOMAINS
or one in the opt-out list is dropped, and each person is mailed once
whatever the case of the address. EMAIL_ALLOWED_DOMAINS matches the domain
exactly: ``example.com`` does not allow ``eu.example.com``, which is listed
on its own when wanted, so that no address ever goes somewhere unlisted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.utils import getaddresses
from typing import Literal

from ai_code_reviewer.review.model import SEVERITIES, Finding, Severity

EmailPolicy = Literal["always", "findings", "never"]

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_ADDRESS_LENGTH = 254


@dataclass(frozen=True)
class RecipientPolicy:
    """The settings that decide who is mailed, and whether anyone is."""

    email_on: EmailPolicy = "always"
    min_severity: Severity = "minor"
    include_reviewers: bool = False
    cc: tuple[str, ...] = ()
    allowed_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class Choice:
    """Who gets the email, who was dropped and why, or why nobody is mailed."""

    to: tuple[str, ...]
    cc: tuple[str, ...]
    dropped: tuple[tuple[str, str], ...] = ()
    skip_reason: str | None = None


def normalize_address(text: str) -> str | None:
    """Return the bare address in ``text`` (``Name <a@b>`` or ``a@b``), or None.

    Non-ASCII addresses are refused: sending them needs SMTPUTF8, which not
    every relay offers.
    """
    if _CONTROL.search(text):
        return None
    pairs = getaddresses([text.strip()])
    if len(pairs) != 1:
        return None
    address = pairs[0][1]
    if len(address) > MAX_ADDRESS_LENGTH or not _ADDRESS.fullmatch(address):
        return None
    return address


def domain_allowed(address: str, allowed: Sequence[str]) -> bool:
    """Tell whether ``address`` is in one of ``allowed`` (any domain when empty)."""
    if not allowed:
        return True
    domain = address.rpartition("@")[2].casefold()
    return domain in {item.casefold() for item in allowed}


def parse_opt_outs(text: str) -> frozenset[str]:
    """Return the addresses of an opt-out file: one a line, ``#`` starts a comment."""
    found = set()
    for line in text.splitlines():
        address = normalize_address(line.split("#", 1)[0])
        if address:
            found.add(address.casefold())
    return frozenset(found)


def policy_skip_reason(
    policy: RecipientPolicy, findings: Iterable[Finding]
) -> str | None:
    """Return why EMAIL_ON sends nothing for these findings, or None to send."""
    if policy.email_on == "never":
        return "EMAIL_ON is never"
    if policy.email_on == "always":
        return None
    threshold = SEVERITIES.index(policy.min_severity)
    if any(SEVERITIES.index(item.severity) <= threshold for item in findings):
        return None
    return f"no finding at or above {policy.min_severity} (EMAIL_ON is findings)"


def choose_recipients(
    candidates: Sequence[str],
    author: str | None,
    findings: Sequence[Finding],
    policy: RecipientPolicy,
    opt_outs: frozenset[str] = frozenset(),
) -> Choice:
    """Apply the policy to the author and reviewers in ``candidates``, add EMAIL_CC."""
    reason = policy_skip_reason(policy, findings)
    if reason is not None:
        return Choice(to=(), cc=(), skip_reason=reason)
    primary, dropped = _primary(candidates, author, policy.include_reviewers)
    checker = _Checker(policy.allowed_domains, opt_outs, dropped)
    to = checker.keep(primary)
    cc = checker.keep(policy.cc)
    if not to:
        reason = "no recipient left" if candidates else "the change names no address"
        return Choice(to=(), cc=(), dropped=tuple(dropped), skip_reason=reason)
    return Choice(to=to, cc=cc, dropped=tuple(dropped))


def _primary(
    candidates: Sequence[str], author: str | None, include_reviewers: bool
) -> tuple[list[str], list[tuple[str, str]]]:
    """Split the candidates into the To list and the reviewers left out."""
    author_key = (normalize_address(author or "") or "").casefold()
    kept: list[str] = []
    dropped: list[tuple[str, str]] = []
    for candidate in candidates:
        key = (normalize_address(candidate) or "").casefold()
        if include_reviewers or (author_key and key == author_key):
            kept.append(candidate)
        else:
            dropped.append((candidate, "reviewer, and EMAIL_REVIEWERS is off"))
    return kept, dropped


class _Checker:
    """Drop malformed, disallowed, opted-out and repeated addresses, noting why."""

    def __init__(
        self,
        allowed_domains: Sequence[str],
        opt_outs: frozenset[str],
        dropped: list[tuple[str, str]],
    ) -> None:
        self.allowed_domains = allowed_domains
        self.opt_outs = opt_outs
        self.dropped = dropped
        self.seen: set[str] = set()

    def keep(self, addresses: Iterable[str]) -> tuple[str, ...]:
        """Return the addresses that pass, bare, each once across calls."""
        kept = []
        for text in addresses:
            address = normalize_address(text)
            reason = self._refusal(address)
            if reason is not None:
                self.dropped.append((text, reason))
            elif address is not None and address.casefold() not in self.seen:
                self.seen.add(address.casefold())
                kept.append(address)
        return tuple(kept)

    def _refusal(self, address: str | None) -> str | None:
        """Return why ``address`` may not be mailed, or None."""
        if address is None:
            return "malformed address"
        if not domain_allowed(address, self.allowed_domains):
            return "outside EMAIL_ALLOWED_DOMAINS"
        if address.casefold() in self.opt_outs:
            return "opted out"
        return None

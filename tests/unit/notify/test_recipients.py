"""The recipient policy: who is mailed, who is dropped and why, or nobody."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from ai_code_reviewer.errors import TransientError
from ai_code_reviewer.notify.base import Message
from ai_code_reviewer.notify.policy import PolicyNotifier, read_opt_outs
from ai_code_reviewer.notify.recipients import (
    RecipientPolicy,
    choose_recipients,
    normalize_address,
    parse_opt_outs,
)
from ai_code_reviewer.review.model import Finding, Severity
from tests.fakes import FakeNotifier

AUTHOR = "ada@example.com"
REVIEWER = "bob@example.com"


def finding(severity: Severity) -> Finding:
    """Return a finding of ``severity``."""
    return Finding("app.py", 1, severity, "bug", "t", "b")


def choose(
    candidates: tuple[str, ...] = (AUTHOR, REVIEWER),
    findings: tuple[Finding, ...] = (),
    opt_outs: frozenset[str] = frozenset(),
    **policy: Any,
) -> tuple[tuple[str, ...], tuple[str, ...], str | None]:
    """Apply the policy; return To, Cc and the skip reason."""
    choice = choose_recipients(
        candidates, AUTHOR, findings, RecipientPolicy(**policy), opt_outs
    )
    return choice.to, choice.cc, choice.skip_reason


def test_author_only_by_default() -> None:
    """Without EMAIL_REVIEWERS only the author is mailed."""
    assert choose() == ((AUTHOR,), (), None)


def test_reviewers_when_asked() -> None:
    """EMAIL_REVIEWERS adds the pull request's reviewers after the author."""
    assert choose(include_reviewers=True) == ((AUTHOR, REVIEWER), (), None)


def test_cc_is_added_and_deduplicated_case_insensitively() -> None:
    """EMAIL_CC is copied; an address already in To, in any case, is not repeated."""
    to, cc, _ = choose(cc=("ADA@Example.com", "archive@example.com"))

    assert (to, cc) == ((AUTHOR,), ("archive@example.com",))


def test_same_person_in_two_cases_is_mailed_once() -> None:
    """The author listed twice in two spellings gets one copy."""
    to, _, _ = choose(candidates=(AUTHOR, "Ada@EXAMPLE.com"), include_reviewers=True)

    assert to == (AUTHOR,)


def test_malformed_addresses_are_dropped() -> None:
    """Addresses that are not one plain address are dropped with a reason."""
    choice = choose_recipients(
        (AUTHOR, "not-an-address", "a@b.com\r\nBcc: m@x.com", "x@y.com, z@w.com"),
        AUTHOR,
        (),
        RecipientPolicy(include_reviewers=True),
    )

    assert choice.to == (AUTHOR,)
    assert [reason for _, reason in choice.dropped] == ["malformed address"] * 3


def test_allowed_domains_match_exactly() -> None:
    """Only listed domains are mailed, in any case; subdomains are not included."""
    candidates = ("ada@EXAMPLE.com", "eve@gmail.com", "joe@eu.example.com")

    to, cc, _ = choose(
        candidates=candidates,
        include_reviewers=True,
        allowed_domains=("example.com",),
        cc=("x@other.org",),
    )

    assert (to, cc) == (("ada@EXAMPLE.com",), ())


def test_opted_out_people_are_not_mailed() -> None:
    """An address in the opt-out list is dropped, CC included."""
    opt_outs = frozenset({"bob@example.com", "archive@example.com"})

    to, cc, _ = choose(
        include_reviewers=True, cc=("Archive@example.com",), opt_outs=opt_outs
    )

    assert (to, cc) == ((AUTHOR,), ())


def test_nobody_left_skips_the_email() -> None:
    """When the author is dropped nobody is mailed, CC included, and it says why."""
    to, cc, reason = choose(
        allowed_domains=("corp.example",), cc=("archive@corp.example",)
    )

    assert (to, cc, reason) == ((), (), "no recipient left")


def test_change_without_address_skips_the_email() -> None:
    """A change that names no address is skipped."""
    assert choose(candidates=()) == ((), (), "the change names no address")


def test_never_policy_skips() -> None:
    """EMAIL_ON=never mails nobody."""
    assert choose(email_on="never") == ((), (), "EMAIL_ON is never")


@pytest.mark.parametrize(
    ("severities", "minimum", "sent"),
    [
        ((), "info", False),
        (("info",), "minor", False),
        (("info", "minor"), "minor", True),
        (("critical",), "major", True),
        (("major",), "critical", False),
    ],
)
def test_findings_policy_counts_severities_at_or_above(
    severities: tuple[Severity, ...], minimum: Severity, sent: bool
) -> None:
    """EMAIL_ON=findings mails only with a finding at or above EMAIL_MIN_SEVERITY."""
    findings = tuple(finding(severity) for severity in severities)

    to, _, reason = choose(findings=findings, email_on="findings", min_severity=minimum)

    assert bool(to) is sent
    assert (reason is None) is sent


def test_opt_out_file_format() -> None:
    """One address a line; # comments, blank lines and junk are ignored; any case."""
    text = "# people who asked\nBob@Example.com  # since May\n\nnot an address\n"

    assert parse_opt_outs(text) == frozenset({"bob@example.com"})


def test_display_names_are_stripped() -> None:
    """``Name <a@b>`` gives the bare address."""
    assert normalize_address("Ada Lovelace <ada@example.com>") == AUTHOR


async def test_missing_opt_out_file_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A missing opt-out file means no opt-outs, with a warning."""
    with caplog.at_level(logging.WARNING):
        found = await read_opt_outs(tmp_path / "absent.txt")

    assert found == frozenset()
    assert [record.message for record in caplog.records] == [
        "email.opt_out_file_missing"
    ]


async def test_unreadable_opt_out_file_stops_the_send(tmp_path: Path) -> None:
    """An opt-out path that cannot be read (a folder) is a TransientError."""
    with pytest.raises(TransientError, match="opt-out file"):
        await read_opt_outs(tmp_path)


def review(**overrides: Any) -> Message:
    """Return a review message to the author and a reviewer."""
    values: dict[str, Any] = {
        "review_id": 1,
        "subject_target": "PROJ/service PR #7",
        "recipients": (AUTHOR, REVIEWER),
        "markdown": "# Review\n",
        "author": AUTHOR,
    }
    values.update(overrides)
    return Message(**values)


async def test_policy_notifier_reads_the_opt_out_file_at_each_send(
    tmp_path: Path,
) -> None:
    """An edit of the opt-out file applies to the next message without a restart."""
    opt_out = tmp_path / "opt-out.txt"
    opt_out.write_text("")
    transport = FakeNotifier()
    notifier = PolicyNotifier(
        RecipientPolicy(include_reviewers=True), transport, opt_out
    )

    first = await notifier.deliver(review())
    opt_out.write_text("bob@example.com\n")
    second = await notifier.deliver(review())

    assert first.recipients == (AUTHOR, REVIEWER)
    assert second.recipients == (AUTHOR,)
    assert [m.recipients for m in transport.delivered] == [
        (AUTHOR, REVIEWER),
        (AUTHOR,),
    ]


async def test_policy_notifier_skips_without_calling_the_transport() -> None:
    """A message the policy skips is never handed to the transport."""
    transport = FakeNotifier()
    notifier = PolicyNotifier(RecipientPolicy(email_on="never"), transport)

    delivery = await notifier.deliver(review())

    assert (delivery.status, delivery.recipients) == ("skipped", ())
    assert delivery.detail == "EMAIL_ON is never"
    assert transport.delivered == []


async def test_policy_notifier_passes_cc_to_the_transport() -> None:
    """EMAIL_CC reaches the transport as the message's Cc."""
    transport = FakeNotifier()
    policy = RecipientPolicy(cc=("archive@example.com",))

    await PolicyNotifier(policy, transport).deliver(review())

    [sent] = transport.delivered
    assert (sent.recipients, sent.cc) == ((AUTHOR,), ("archive@example.com",))

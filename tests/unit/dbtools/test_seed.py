"""The sample records the seed command makes."""

from __future__ import annotations

import re
from datetime import timedelta

from ai_code_reviewer.api.db.models import utcnow
from ai_code_reviewer.dbtools.seed import make_records
from ai_code_reviewer.review.model import Finding

HUNK = re.compile(r"^@@ -(\d+),(\d+) \+(\d+),(\d+) @@$", re.M)


def test_same_seed_makes_the_same_records() -> None:
    """A fixed --seed makes identical records twice."""
    first, _ = make_records(5, 0, seed=7)
    second, _ = make_records(5, 0, seed=7)

    assert [r.commit_id for r in first] == [r.commit_id for r in second]


def test_reviews_vary_like_real_ones() -> None:
    """Forty reviews span projects, repositories, authors, models and both triggers."""
    reviews, _ = make_records(40, 0, seed=1)

    assert len({r.project_key for r in reviews}) >= 3
    assert len({(r.project_key, r.repo_slug) for r in reviews}) >= 4
    assert len({r.author_email for r in reviews}) >= 4
    assert len({r.llm_provider for r in reviews}) >= 3
    assert {r.trigger_type for r in reviews} == {"commit", "pull_request"}
    assert all(re.fullmatch(r"[0-9a-f]{40}", r.commit_id or "") for r in reviews)
    assert all(
        (r.pr_id is not None) == (r.trigger_type == "pull_request") for r in reviews
    )


def test_diffs_are_unified_diffs_with_consistent_hunks() -> None:
    """Each diff has git headers and a hunk whose line counts match its body."""
    reviews, _ = make_records(20, 0, seed=2)

    for review in reviews:
        lines = review.diff_content.splitlines()
        assert lines[0].startswith("diff --git a/")
        assert lines[2].startswith("--- a/") and lines[3].startswith("+++ b/")
        match = HUNK.search(review.diff_content)
        assert match is not None
        body = lines[5:]
        old = sum(1 for line in body if line[0] in " -")
        new = sum(1 for line in body if line[0] in " +")
        assert (int(match.group(2)), int(match.group(4))) == (old, new)


def test_feedback_is_markdown_naming_the_file() -> None:
    """The feedback has Markdown headings and a finding on the changed file."""
    reviews, _ = make_records(10, 0, seed=3)

    for review in reviews:
        path = review.diff_content.splitlines()[0].split(" b/")[1]
        assert review.review_feedback.startswith("## Review of ")
        assert "### Findings" in review.review_feedback
        assert f"`{path}:" in review.review_feedback


def test_pull_requests_mail_the_author_and_reviewers() -> None:
    """Recipients start with the author; pull requests add other people."""
    reviews, _ = make_records(40, 0, seed=4)

    for review in reviews:
        recipients = review.email_recipients or []
        assert recipients[0] == review.author_email
        assert len(set(recipients)) == len(recipients)
        assert (len(recipients) > 1) == (review.pr_id is not None)


def test_records_spread_over_weeks_oldest_first() -> None:
    """Created times cover more than two weeks of the last four, in order."""
    reviews, failures = make_records(40, 8, seed=5)
    times = [r.created_at for r in reviews]

    assert times == sorted(times)
    assert max(times) - min(times) > timedelta(days=14)
    assert min(times) > utcnow() - timedelta(days=29)
    assert [f.created_at for f in failures] == sorted(f.created_at for f in failures)


def test_failures_cover_stages_and_resolution() -> None:
    """Failures come from several stages; some are resolved with notes, some open."""
    _, failures = make_records(0, 30, seed=6)

    assert len({f.failure_stage for f in failures}) >= 4
    assert any(f.resolved and f.resolution_notes for f in failures)
    assert any(not f.resolved and f.resolution_notes is None for f in failures)
    assert all(
        f.error_stacktrace and f.error_type in f.error_stacktrace for f in failures
    )
    webhook = [f for f in failures if f.event_type == "webhook"]
    assert webhook and all(f.request_payload for f in webhook)


def test_findings_are_stored_as_data_matching_the_feedback() -> None:
    """Each seeded review keeps its findings as JSON, each named in its feedback."""
    reviews, _ = make_records(reviews=30, failures=0, seed=11)

    for review in reviews:
        findings = [Finding.from_json(item) for item in review.findings or []]
        assert findings, "every sample review has a finding"
        assert review.summary and review.summary in review.review_feedback
        for finding in findings:
            assert f"`{finding.path}:{finding.line}`: {finding.title}" in (
                review.review_feedback
            )
        assert review.coverage == {
            "reviewed": [findings[0].path],
            "skipped": [],
            "cut": [],
        }
        assert (review.prompt_tokens == 0) == (review.llm_provider == "builtin")

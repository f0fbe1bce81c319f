"""The metrics module: model usage counters and the exposition without a database."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from ai_code_reviewer import metrics


def value(name: str, **labels: str) -> float | None:
    """Scrape this process and return the sample ``name`` with exactly ``labels``."""
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


def test_model_usage_adds_tokens_and_cost_by_kind() -> None:
    """One call's prompt and completion tokens and cost are added by kind."""
    metrics.count_model_usage(
        "unit", "m-1", {"prompt": 1200, "completion": 300}, {"prompt": 0.0036}
    )
    metrics.count_model_usage("unit", "m-1", {"prompt": 800}, {})

    tokens = "ai_code_reviewer_model_tokens_total"
    model = {"provider": "unit", "model": "m-1"}
    assert value(tokens, **model, kind="prompt") == 2000
    assert value(tokens, **model, kind="completion") == 300
    assert value("ai_code_reviewer_model_cost_usd_total", **model, kind="prompt") == (
        0.0036
    )


def test_without_a_snapshot_the_job_gauges_are_left_out() -> None:
    """A scrape that could not read the database has no job gauges, no made-up 0."""
    assert value("ai_code_reviewer_queue_depth") is None
    assert value("ai_code_reviewer_jobs", state="queued") is None

"""The service's Prometheus metrics, in one module that needs no web framework.

Counters and histograms are changed where things happen: webhook intake, the
pipeline's stages and email, the HTTP middleware. The job gauges are not kept
in memory: the /metrics route reads them from the database at each scrape
(:class:`QueueSnapshot`), so they are right whatever the number of workers.

By default each process has its own registry. With ``PROMETHEUS_MULTIPROC_DIR``
in the environment before the process starts, prometheus-client keeps every
value in files in that directory, and a scrape adds up those of every process
that shares it (the service's and ``ai-code-reviewer worker`` processes on one
machine); the directory must be emptied before they start.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

# The text format that generate_latest writes.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
NAMESPACE = "ai_code_reviewer"
STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)

# A counter's *_created series (when it was first changed) doubles the series
# and tells nothing a Prometheus server does not know from its own scrapes.
disable_created_metrics()  # type: ignore[no-untyped-call]  # not annotated upstream
REGISTRY = CollectorRegistry()


def _counter(name: str, documentation: str, labels: list[str]) -> Counter:
    """Declare a counter of this service in its registry."""
    return Counter(name, documentation, labels, namespace=NAMESPACE, registry=REGISTRY)


def _histogram(
    name: str,
    documentation: str,
    labels: list[str],
    buckets: tuple[float, ...] = Histogram.DEFAULT_BUCKETS,
) -> Histogram:
    """Declare a histogram of this service in its registry."""
    return Histogram(
        name,
        documentation,
        labels,
        namespace=NAMESPACE,
        registry=REGISTRY,
        buckets=buckets,
    )


WEBHOOK_DELIVERIES = _counter(
    "webhook_deliveries",
    "Webhook deliveries received, by Git host and outcome.",
    ["host", "outcome"],
)
STAGE_SECONDS = _histogram(
    "stage_duration_seconds",
    "Time each stage of a review job took, by stage and outcome (ok or error).",
    ["stage", "outcome"],
    STAGE_BUCKETS,
)
MODEL_TOKENS = _counter(
    "model_tokens",
    "Tokens sent to and received from models, by provider, model and kind.",
    ["provider", "model", "kind"],
)
MODEL_COST = _counter(
    "model_cost_usd",
    "What model calls cost in US dollars, by provider, model and kind.",
    ["provider", "model", "kind"],
)
EMAILS = _counter(
    "emails",
    "Review emails by what became of them: sent, outbox, skipped or failed.",
    ["status"],
)
HTTP_SECONDS = _histogram(
    "http_request_duration_seconds",
    "Time to answer HTTP requests, by method, route template and status class.",
    ["method", "route", "status_class"],
)


def count_model_usage(
    provider: str,
    model: str,
    tokens: Mapping[str, int],
    cost_usd: Mapping[str, float],
) -> None:
    """Add one model call's tokens and cost; keys of both are prompt, completion."""
    for kind, count in tokens.items():
        MODEL_TOKENS.labels(provider, model, kind).inc(count)
    for kind, cost in cost_usd.items():
        MODEL_COST.labels(provider, model, kind).inc(cost)


@dataclass(frozen=True)
class QueueSnapshot:
    """The review_jobs table at one moment: jobs by state, and the due queue."""

    jobs_by_state: Mapping[str, int]
    due: int
    oldest_due_age_seconds: float

    def families(self) -> list[Metric]:
        """Return the snapshot as gauge families."""
        jobs = GaugeMetricFamily(
            f"{NAMESPACE}_jobs", "Review jobs by state.", labels=["state"]
        )
        for state, count in sorted(self.jobs_by_state.items()):
            jobs.add_metric([state], count)
        depth = GaugeMetricFamily(
            f"{NAMESPACE}_queue_depth",
            "Queued jobs that are due and wait for a worker.",
            value=self.due,
        )
        age = GaugeMetricFamily(
            f"{NAMESPACE}_queue_oldest_age_seconds",
            "How long the oldest due job has waited for a worker; 0 when none.",
            value=self.oldest_due_age_seconds,
        )
        return [jobs, depth, age]


class _Families:
    """Collect a fixed list of metric families."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


class _Process:
    """Collect what this process's registry holds, without naming it twice."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def exposition(
    snapshot: QueueSnapshot | None = None, multiproc_dir: str | None = None
) -> bytes:
    """Return every metric in Prometheus text format, the snapshot's included.

    ``multiproc_dir`` defaults to PROMETHEUS_MULTIPROC_DIR; when there is one,
    the values of every process writing to it are added up.
    """
    registry = CollectorRegistry()
    directory = multiproc_dir or os.environ.get(MULTIPROC_ENV)
    if directory:
        # Registers itself; prometheus-client leaves it unannotated.
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Process())
    if snapshot is not None:
        registry.register(_Families(snapshot.families()))
    return generate_latest(registry)

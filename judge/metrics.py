"""Prometheus series of the comparison-job stream, for the proxy (publisher) and the workers.

- `tapcompare_jobs_published_total{endpoint}` / `tapcompare_jobs_publish_failed_total{endpoint}` (proxy);
- `tapcompare_jobs_backlog{kind}`: `length` (XLEN), `lag` (entries not yet delivered to the group),
  `pending` (delivered, not acknowledged), `backlog` (lag + pending), sampled every few seconds by
  every proxy and worker (alert on the max over instances, deploy/prometheus/tapcompare-jobs.rules.yml);
- `tapcompare_jobs_backlog_exceeded_total`: samples over `proxy.jobs_backlog_alert` (each also logged);
- `tapcompare_jobs_backlog_threshold`: that setting, so the alert rule can compare against it;
- worker: `tapcompare_worker_jobs_total{outcome}` (stored | duplicate | undecodable | failed),
  `tapcompare_worker_claimed_total`, `tapcompare_worker_lost_total` (trimmed before processing),
  `tapcompare_worker_job_seconds`, `tapcompare_worker_verdicts_total{path,verdict}`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from telemetry.metrics import counter, gauge, latency_histogram

BACKLOG_KINDS = ("length", "lag", "pending", "backlog")
ENDPOINTS = ("info", "comments", "morechildren", "create", "update", "increment")
JOB_OUTCOMES = ("stored", "duplicate", "undecodable", "failed", "given_up")


class BacklogMetrics:
    def __init__(self, registry: CollectorRegistry, threshold: int) -> None:
        self.backlog = gauge(registry, "tapcompare_jobs_backlog", "Comparison-job stream backlog", ("kind",))
        self.exceeded = counter(registry, "tapcompare_jobs_backlog_exceeded_total",
                                "Backlog samples above the alert threshold")
        self.threshold = gauge(registry, "tapcompare_jobs_backlog_threshold", "proxy.jobs_backlog_alert")
        self.threshold.set(threshold)


class PublisherMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.published = counter(registry, "tapcompare_jobs_published_total", "Comparison jobs published",
                                 ("endpoint",))
        self.failed = counter(registry, "tapcompare_jobs_publish_failed_total",
                              "Comparison jobs that could not be published (Redis unreachable)", ("endpoint",))
        for endpoint in ENDPOINTS:  # at 0 from the start, so an alert on them reads a real series
            self.published.labels(endpoint)
            self.failed.labels(endpoint)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.jobs = counter(registry, "tapcompare_worker_jobs_total", "Jobs finished by outcome", ("outcome",))
        for outcome in JOB_OUTCOMES:
            self.jobs.labels(outcome)
        self.claimed = counter(registry, "tapcompare_worker_claimed_total",
                               "Pending jobs claimed from an idle (dead) consumer")
        self.lost = counter(registry, "tapcompare_worker_lost_total",
                            "Pending jobs trimmed from the stream before they were processed")
        self.seconds = latency_histogram(registry, "tapcompare_worker_job_seconds", "Time to judge one job")
        self.verdicts = counter(registry, "tapcompare_worker_verdicts_total", "Verdicts by path", ("path", "verdict"))
        self.raised = counter(registry, "tapcompare_worker_raised_total", "Exceptions caught in the worker",
                              ("operation",))

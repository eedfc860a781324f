"""Prometheus series for verdicts, side latencies and the results writer.

Stdlib + prometheus_client only (no network client), so the proxy, a worker or a replay can
call it on any thread. Series (used by deploy/grafana/tapcompare.json):

- `tapcompare_verdicts_total{path, endpoint, verdict}`: every verdict, pre-created at 0 for the
  18 write paths and the response paths so "never exercised" is visible;
- `tapcompare_differences_total{path, kind}`: differing fields not explained by a rule (also
  pre-created at 0 per path and kind);
- `tapcompare_side_latency_seconds{endpoint, side}`: legacy vs new latency from record timings;
- `tapcompare_results_{submitted,written,dropped,failed}_total`, `tapcompare_results_pending`:
  the batching results writer, read from its stats at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from diff_reports.value_diff import DIFFERENCE_KINDS
from diff_reports.grouping import endpoint_of
from diff_reports.types import (
    ALL_WRITE_PATHS,
    READ_ENDPOINTS,
    WRITE_ENDPOINTS,
    VerdictKind,
    VerdictRecord,
    side_seconds,
    read_response_path,
    write_response_path,
)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
ALL_PATHS = tuple([p.name for p in ALL_WRITE_PATHS] + [write_response_path(e) for e in WRITE_ENDPOINTS]
                  + [read_response_path(e) for e in READ_ENDPOINTS])


class VerdictMetrics:
    """Call `observe(record)` for every verdict."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.verdicts = Counter("tapcompare_verdicts", "Comparison verdicts per path.",
                                ("path", "endpoint", "verdict"), registry=registry)
        self.differences = Counter("tapcompare_differences", "Unexplained differing fields per path and kind.",
                                   ("path", "kind"), registry=registry)
        self.latency = Histogram("tapcompare_side_latency_seconds", "Legacy vs new request latency.",
                                 ("endpoint", "side"), buckets=LATENCY_BUCKETS, registry=registry)
        for path in ALL_PATHS:
            for verdict in VerdictKind:
                self.verdicts.labels(path, endpoint_of(path), verdict.value)
            for kind in DIFFERENCE_KINDS:
                self.differences.labels(path, kind)

    def observe(self, record: VerdictRecord) -> None:
        endpoint = endpoint_of(record.path)
        self.verdicts.labels(record.path, endpoint, record.verdict.value).inc()
        if record.verdict is VerdictKind.MISMATCH:
            for d in record.differences:
                if d.ignored_by is None:
                    self.differences.labels(record.path, d.kind).inc()
        for side in ("legacy", "new"):
            seconds = side_seconds(record.timings, side)
            if seconds is not None:
                self.latency.labels(endpoint, side).observe(float(seconds))


class WriterCollector(Collector):
    """Exposes a ResultsWriter's stats at scrape time (register once per writer)."""

    def __init__(self, writer: object) -> None:
        self.writer = writer

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self.writer.stats  # type: ignore[attr-defined]
        for name, doc in (("submitted", "Records handed to the results writer."),
                          ("written", "Records written to the results store."),
                          ("dropped", "Records dropped because the writer's buffer was full."),
                          ("failed", "Records in batches the results store refused.")):
            yield CounterMetricFamily(f"tapcompare_results_{name}", doc, value=getattr(stats, name))
        yield GaugeMetricFamily("tapcompare_results_pending", "Records waiting to be written.",
                                value=self.writer.pending)  # type: ignore[attr-defined]


def track_writer(registry: CollectorRegistry, writer: object) -> WriterCollector:
    collector = WriterCollector(writer)
    registry.register(collector)
    return collector

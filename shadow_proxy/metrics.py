"""Every number the proxy exports on /metrics, in one place."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry

from telemetry.metrics import counter, gauge, latency_histogram

PASSTHROUGH = "passthrough"  # endpoint label of requests the proxy does not shadow


class ProxyMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        p = "tapcompare_proxy"
        self.primary = latency_histogram(registry, f"{p}_primary_seconds",
                                         "Client-visible time in the proxy, legacy call included", ("endpoint",))
        self.legacy = latency_histogram(registry, f"{p}_legacy_seconds", "Legacy call duration", ("endpoint",))
        self.overhead = latency_histogram(registry, f"{p}_overhead_seconds",
                                          "Time in the proxy excluding the legacy call", ("endpoint",))
        self.legacy_errors = counter(registry, f"{p}_legacy_errors_total",
                                     "Requests answered by the proxy because the legacy failed", ("reason",))
        self.shadow = latency_histogram(registry, f"{p}_shadow_seconds",
                                        "New-service call duration", ("endpoint", "outcome"))
        self.queue_depth = gauge(registry, f"{p}_shadow_queue_depth", "Shadow items waiting")
        self.dropped = counter(registry, f"{p}_shadow_dropped_total",
                               "Shadow items shed because the queue was full", ("endpoint",))
        self.sampled = counter(registry, f"{p}_shadow_sampled_total",
                               "Ramp decisions", ("endpoint", "decision"))
        self.skipped = counter(registry, f"{p}_shadow_skipped_total",
                               "Requests not shadowed, by reason", ("endpoint", "reason"))
        self.verdicts = counter(registry, f"{p}_verdicts_total", "Verdicts by path", ("path", "verdict"))
        self.raised = counter(registry, f"{p}_shadow_raised_total",
                              "Exceptions caught by the shadow error boundary", ("operation",))
        self.kill_trips = counter(registry, f"{p}_kill_switch_trips_total",
                                  "Automatic kill-switch trips", ("endpoint", "reason"))
        self.ramp_pct = gauge(registry, f"{p}_ramp_pct", "Current ramp percentage", ("endpoint",))

    def track_queue_depth(self, depth: Callable[[], int]) -> None:
        self.queue_depth.set_function(depth)

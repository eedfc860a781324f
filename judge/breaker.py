"""Circuit breakers for the shadow side's dependencies: a dead one costs no connection attempts.

One `Breaker` per dependency (the rewrite, the write validation's store reads, the jobs Redis).
Closed, every call goes through; after `failures` failures in a row it opens and callers are
told not to try (`allow()` is False) for `open_s`; then one call is let through as a probe
(half-open): its success closes the breaker, its failure opens it again for twice as long, up to
`max_open_s`. A call skipped while open is the caller's to count: the rewrite's is a
`shadow_error` verdict with reason `circuit_open` (`CIRCUIT_OPEN`), a validation's `unavailable`
with that reason, a publish a counted failure.

State on /metrics: `<prefix>_breaker_state{dependency}` (0 closed, 1 half-open, 2 open),
`<prefix>_breaker_opened_total{dependency}` and `<prefix>_breaker_rejected_total{dependency}`
(calls not made). Synchronous and lock-free: only ever used from one event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from prometheus_client import CollectorRegistry

from config import ProxySettings
from telemetry.logs import get_logger
from telemetry.metrics import counter, gauge

log = get_logger("judge.breaker")

CIRCUIT_OPEN = "circuit_open"  # the verdict reason, and the Observation error of a rewrite call not made


class State(int, Enum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass(frozen=True)
class BreakerConfig:
    failures: int = 5        # failures in a row that open the breaker
    open_s: float = 2.0      # the first back-off; doubled after each failed probe
    max_open_s: float = 10.0
    enabled: bool = True


def breaker_config(settings: ProxySettings) -> BreakerConfig:
    """The `proxy.breaker_*` settings."""
    return BreakerConfig(settings.breaker_failures, settings.breaker_open_s, settings.breaker_max_open_s,
                         settings.breaker_enabled)


class BreakerMetrics:
    def __init__(self, registry: CollectorRegistry, prefix: str) -> None:
        self.state = gauge(registry, f"{prefix}_breaker_state",
                           "Circuit breaker state per dependency: 0 closed, 1 half-open, 2 open", ("dependency",))
        self.opened = counter(registry, f"{prefix}_breaker_opened_total", "Times a circuit breaker opened",
                              ("dependency",))
        self.rejected = counter(registry, f"{prefix}_breaker_rejected_total",
                                "Calls not made because the dependency's breaker was open", ("dependency",))


class Breaker:
    def __init__(self, dependency: str, config: BreakerConfig, metrics: BreakerMetrics | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.dependency = dependency
        self.config = config
        self._metrics = metrics
        self._clock = clock
        self.state = State.CLOSED
        self.failures = 0
        self._back_off = config.open_s
        self._until = 0.0           # open: no call before this
        self._probe_since = 0.0     # half-open: when the probe was let through
        if metrics is not None:
            metrics.state.labels(dependency).set(State.CLOSED)
            metrics.opened.labels(dependency)
            metrics.rejected.labels(dependency)

    def allow(self) -> bool:
        """May a call be made now? False is counted as a rejected call."""
        if not self.config.enabled or self.state is State.CLOSED:
            return True
        now = self._clock()
        if self.state is State.OPEN and now >= self._until:
            self._set(State.HALF_OPEN)
            self._probe_since = now
            return True
        if self.state is State.HALF_OPEN and now - self._probe_since >= self._back_off:
            self._probe_since = now  # the probe never reported back (cancelled): let another through
            return True
        if self._metrics is not None:
            self._metrics.rejected.labels(self.dependency).inc()
        return False

    def success(self) -> None:
        if self.state is not State.CLOSED:
            log.info("breaker_closed", dependency=self.dependency)
            self._set(State.CLOSED)
        self.failures = 0
        self._back_off = self.config.open_s

    def failure(self) -> None:
        if not self.config.enabled:
            return
        self.failures += 1
        if self.state is State.HALF_OPEN:
            self._back_off = min(self._back_off * 2, self.config.max_open_s)
            self._open()
        elif self.state is State.CLOSED and self.failures >= self.config.failures:
            self._open()

    def report(self, ok: bool) -> None:
        self.success() if ok else self.failure()

    def _open(self) -> None:
        self._until = self._clock() + self._back_off
        self._set(State.OPEN)
        if self._metrics is not None:
            self._metrics.opened.labels(self.dependency).inc()
        log.warning("breaker_opened", dependency=self.dependency, failures=self.failures, back_off_s=self._back_off)

    def _set(self, state: State) -> None:
        self.state = state
        if self._metrics is not None:
            self._metrics.state.labels(self.dependency).set(state.value)

"""The automatic kill switch: per endpoint, a sliding window of shadow verdicts.

When, over the last `window_s` seconds and at least `min_samples` verdicts, the share of
`shadow_error` or of `mismatch` passes its threshold, the endpoint is ramped to 0 through the
audited ramp control (who = "guardrail"), logged and counted. The window then starts afresh.
Skipped verdicts are not samples (nothing was compared). Ramp-to-0 is conditional on the endpoint
still being enabled, so N proxies tripping together leave one audit entry, not N.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from diff_reports.types import VerdictKind
from shadow_proxy.metrics import ProxyMetrics
from shadow_proxy.ramp import RampControl
from telemetry.logs import get_logger

log = get_logger("shadow_proxy.guardrails")
GUARDRAIL = "guardrail"


@dataclass(frozen=True)
class GuardrailConfig:
    window_s: float = 60.0
    min_samples: int = 20
    max_error_rate: float = 0.5
    max_mismatch_rate: float = 0.1


class Guardrail:
    def __init__(self, config: GuardrailConfig, control: RampControl, metrics: ProxyMetrics,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._config = config
        self._control = control
        self._metrics = metrics
        self._clock = clock
        self._windows: dict[str, deque[tuple[float, VerdictKind]]] = {}
        self.trips: list[tuple[str, str]] = []

    async def observe(self, endpoint: str, verdict: VerdictKind) -> None:
        if verdict is VerdictKind.SKIPPED:
            return
        now = self._clock()
        window = self._windows.setdefault(endpoint, deque())
        window.append((now, verdict))
        horizon = now - self._config.window_s
        while window and window[0][0] < horizon:
            window.popleft()
        n = len(window)
        if n < self._config.min_samples:
            return
        errors = sum(1 for _, v in window if v is VerdictKind.SHADOW_ERROR)
        mismatches = sum(1 for _, v in window if v is VerdictKind.MISMATCH)
        reason = None
        if errors / n > self._config.max_error_rate:
            reason, rate, limit = "error_rate", errors / n, self._config.max_error_rate
        elif mismatches / n > self._config.max_mismatch_rate:
            reason, rate, limit = "mismatch_rate", mismatches / n, self._config.max_mismatch_rate
        if reason is None:
            return
        window.clear()
        why = (f"{reason.replace('_', ' ')} {rate:.2f} > {limit:.2f} "
               f"over {n} verdicts in {self._config.window_s:g}s")
        change = await self._control.set(endpoint, 0, who=GUARDRAIL, why=why, only_if_enabled=True)
        if change is None:
            return  # already at 0 (another proxy tripped first, or an operator)
        self.trips.append((endpoint, reason))
        self._metrics.kill_trips.labels(endpoint, reason).inc()
        log.warning("kill_switch_tripped", endpoint=endpoint, reason=reason, rate=round(rate, 4),
                    limit=limit, samples=n, from_pct=change.from_pct)

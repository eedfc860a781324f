"""Reading a Prometheus text exposition: counters, histogram buckets and quantiles from buckets."""

from __future__ import annotations

import re

from harness.common import http_get

_METRIC = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)$")


def scrape(port: int) -> dict[str, float]:
    """Prometheus text -> {name{labels}: value}."""
    status, body = http_get(f"http://127.0.0.1:{port}/metrics", timeout=3)
    out: dict[str, float] = {}
    if status != 200:
        return out
    for line in body.decode(errors="replace").splitlines():
        m = _METRIC.match(line.strip())
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def total(metrics: dict[str, float], name: str, label_filter: str = "") -> float:
    return sum(v for k, v in metrics.items() if k.split("{")[0] == name and label_filter in k)


def buckets(metrics: dict[str, float], name: str) -> dict[float, float]:
    """A histogram's cumulative bucket counts summed over its other labels: {le: count}."""
    out: dict[float, float] = {}
    for k, v in metrics.items():
        if k.split("{")[0] == name + "_bucket":
            le = k.split('le="')[1].split('"')[0]
            bound = float("inf") if le == "+Inf" else float(le)
            out[bound] = out.get(bound, 0.0) + v
    return out


def hist_quantile(cum: dict[float, float], q: float) -> float | None:
    """Prometheus histogram_quantile: linear interpolation inside the bucket (seconds)."""
    bounds = sorted(cum)
    if not bounds or cum[bounds[-1]] <= 0:
        return None
    rank = q * cum[bounds[-1]]
    prev_bound, prev_count = 0.0, 0.0
    for b in bounds:
        if cum[b] >= rank:
            if b == float("inf"):
                return prev_bound
            width = cum[b] - prev_count
            return prev_bound + (b - prev_bound) * ((rank - prev_count) / width if width else 1.0)
        prev_bound, prev_count = b, cum[b]
    return prev_bound

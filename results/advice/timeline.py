"""An endpoint's ramp over time, for the ramp page's plots: the shadow percentage (a step function
from the audit trail), verdict rates per path, the match rate, latency and SQL per bucket, and the
advisor's decision at the end of each bucket as marks.

A mark is the decision on the counts of the step up to that bucket's end (what `ramp advise` would
have said then), from bucketed counts: it judges the bounds, coverage, inconclusive share, time at
the step and the review groups first seen by then (with their status now), not latency (no samples
are kept per bucket)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from config.settings import RampPolicySettings
from results.advice.decision import CONCLUSIVE, Evidence, GroupEvidence, PathEvidence, Step, advise
from results.advice.endpoints import endpoint_paths, response_path
from results.advice.trail import RampChange, RampTrail, pct_at, steps_between
from results.store import ramp_queries


@dataclass
class Timeline:
    endpoint: str
    start: float
    end: float
    width_s: float
    buckets: list[float]                                    # bucket starts, epoch seconds
    paths: list[str]
    counts: dict[str, list[dict[str, int]]]                 # path -> per bucket verdict counts
    latency: list[dict[str, Any]]                           # per bucket: legacy/new p50/p99, sql
    steps: list[tuple[float, float, float]] | None          # (from, to, pct); None: no trail
    marks: list[tuple[float, str]] = field(default_factory=list)  # (bucket end, decision)

    def match_rate(self, path: str | None = None) -> list[float | None]:
        """Per bucket (match + ignored) / conclusive, over one path or all of them."""
        out: list[float | None] = []
        for i in range(len(self.buckets)):
            rows = [self.counts[p][i] for p in ([path] if path else self.paths)]
            conclusive = sum(r.get(v, 0) for r in rows for v in CONCLUSIVE)
            good = sum(r.get("match", 0) + r.get("ignored", 0) for r in rows)
            out.append(good / conclusive if conclusive else None)
        return out

    def verdict_rate(self, path: str, verdicts: tuple[str, ...]) -> list[float | None]:
        out: list[float | None] = []
        for row in self.counts[path]:
            total = sum(row.values())
            out.append(sum(row.get(v, 0) for v in verdicts) / total if total else None)
        return out


def to_dt(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)


def _bucket_width(span_s: float, buckets: int) -> float:
    """A round width (1 s .. 1 day) giving at most `buckets` buckets over the span."""
    for width in (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 86400):
        if span_s / width <= buckets:
            return float(width)
    return 86400.0


async def timeline(pool: asyncpg.Pool, endpoint: str, trail: RampTrail | None = None, *,
                   policy: RampPolicySettings = RampPolicySettings(), since: float | None = None,
                   until: float | None = None, buckets: int = 48) -> Timeline:
    paths = endpoint_paths(endpoint)
    end = until if until is not None else time.time()
    if since is None:
        first, _ = await ramp_queries.time_span(pool, paths)
        since = first.timestamp() if first is not None else end - 3600
    changes: list[RampChange] = await trail.changes(endpoint, since) if trail is not None else []
    width = _bucket_width(max(end - since, 1.0), buckets)
    start = since - since % width  # aligned, so the same bucket has the same start on every page
    n = int((end - start) // width) + 1
    starts = [start + i * width for i in range(n)]
    index = {round(s, 3): i for i, s in enumerate(starts)}
    counts: dict[str, list[dict[str, int]]] = {p: [{} for _ in starts] for p in paths}
    rows = await ramp_queries.bucketed_counts(pool, paths, to_dt(start), to_dt(start + n * width),
                                              dt.timedelta(seconds=width))
    for r in rows:
        i = index.get(round(r["bucket"].timestamp(), 3))
        if i is not None:
            counts[r["path"]][i][r["verdict"]] = r["n"]
    latency: list[dict[str, Any]] = [{} for _ in starts]
    for r in await ramp_queries.bucketed_latency(pool, response_path(endpoint), to_dt(start),
                                                 to_dt(start + n * width), dt.timedelta(seconds=width)):
        i = index.get(round(r["bucket"].timestamp(), 3))
        if i is not None:
            latency[i] = r
    steps = steps_between(changes, start, start + n * width) if trail is not None else None
    tl = Timeline(endpoint, start, end, width, starts, paths, counts, latency, steps)
    groups = await ramp_queries.groups_seen(pool, paths, to_dt(start), None)
    tl.marks = _marks(tl, changes if trail is not None else None, groups, policy)
    return tl


def _marks(tl: Timeline, changes: list[RampChange] | None, groups: list[dict[str, Any]],
           policy: RampPolicySettings) -> list[tuple[float, str]]:
    marks: list[tuple[float, str]] = []
    for i, bucket in enumerate(tl.buckets):
        t = min(bucket + tl.width_s, tl.end)
        if changes is not None:
            before = [c for c in changes if c.at <= t]
            step = Step(pct_at(changes, t), before[-1].at if before else None)
        else:
            step = None
        first = 0
        if step is not None and step.since is not None:
            first = next((j for j, b in enumerate(tl.buckets) if b + tl.width_s > step.since), i)
        paths = [PathEvidence(p, _sum(tl.counts[p][first:i + 1])) for p in tl.paths]
        if not any(p.total for p in paths) and (step is None or step.pct <= 0):
            continue  # nothing shadowed yet: no decision to mark
        seen = [GroupEvidence(g["id"], g["path"], g["verdict"], g["status"], g["title"], g["seen"]) for g in groups
                if g["first_at"].timestamp() <= t and g["last_at"].timestamp() >= tl.buckets[first]
                and g["status"] in ("open", "regressed")]
        advice = advise(Evidence(tl.endpoint, paths, seen, step=step, now=t), policy)
        marks.append((t, advice.decision))
    return marks


def _sum(rows: list[dict[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        for k, v in r.items():
            out[k] = out.get(k, 0) + v
    return out

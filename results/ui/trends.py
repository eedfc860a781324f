"""The overview's small trend lines: per path, the match rate in 24 buckets over the last day."""

from __future__ import annotations

import datetime as dt
import time

import asyncpg

from results.advice.decision import CONCLUSIVE
from results.store import ramp_queries
from results.ui.plots import Series, sparkline

TREND_BUCKETS = 24


async def trends(pool: asyncpg.Pool, paths: list[str], since: dt.datetime | None = None) -> dict[str, Series]:
    """Per path, the match rate in 24 buckets over the last day (or since `since`): the overview's
    small trend lines."""
    end = time.time()
    start = since.timestamp() if since is not None else end - 86400
    width = max((end - start) / TREND_BUCKETS, 1.0)
    rows = await ramp_queries.bucketed_counts(pool, paths, dt.datetime.fromtimestamp(start, dt.timezone.utc),
                                              dt.datetime.fromtimestamp(end + 1, dt.timezone.utc),
                                              dt.timedelta(seconds=width))
    good: dict[str, list[int]] = {p: [0] * TREND_BUCKETS for p in paths}
    judged: dict[str, list[int]] = {p: [0] * TREND_BUCKETS for p in paths}
    for r in rows:
        i = min(int((r["bucket"].timestamp() - start + 1e-6) // width), TREND_BUCKETS - 1)
        if r["verdict"] in CONCLUSIVE:
            judged[r["path"]][i] += r["n"]
            if r["verdict"] in ("match", "ignored"):
                good[r["path"]][i] += r["n"]
    return {p: sparkline([g / j if j else None for g, j in zip(good[p], judged[p])]) for p in paths
            if any(judged[p])}

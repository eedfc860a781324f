"""The advisor's evidence from the results store: one endpoint at its current step (since the
audit trail says its percentage was set), then `decision.advise`. Read-only."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

import asyncpg

from config.settings import RampPolicySettings
from results.advice.decision import Advice, Evidence, GroupEvidence, PathEvidence, Step, advise
from results.advice.endpoints import RAMP_ENDPOINTS, endpoint_paths, response_path
from results.advice.trail import RampTrail, current_step
from results.store import ramp_queries


def to_dt(ts: float | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc) if ts is not None else None


async def evidence(pool: asyncpg.Pool, endpoint: str, step: Step | None, *, now: float,
                   policy: RampPolicySettings, since: float | None = None, until: float | None = None) -> Evidence:
    """What the results store holds on `endpoint` in [since, until) (default: since the step began)."""
    start = to_dt(since if since is not None else (step.since if step is not None else None))
    end = to_dt(until)
    paths = endpoint_paths(endpoint)
    counts = await ramp_queries.path_counts(pool, paths, start, end)
    groups = [GroupEvidence(g["id"], g["path"], g["verdict"], g["status"], g["title"], g["seen"])
              for g in await ramp_queries.groups_seen(pool, paths, start, end)]
    legacy, new = await ramp_queries.latency_samples(pool, response_path(endpoint), start, end,
                                                     policy.latency_max_samples)
    legacy_sql, new_sql, sql_n = await ramp_queries.sql_means(pool, response_path(endpoint), start, end)
    return Evidence(endpoint, [PathEvidence(p, counts[p]) for p in paths],
                    [g for g in groups if g.status in ("open", "regressed")],
                    [ms for _, ms in legacy], [ms for _, ms in new], legacy_sql, new_sql, sql_n, step, now)


async def advise_endpoint(pool: asyncpg.Pool, endpoint: str, policy: RampPolicySettings = RampPolicySettings(),
                          trail: RampTrail | None = None, *, now: float | None = None) -> Advice:
    """The advice for `endpoint` at its current step. Without a trail the step is unknown: every
    result counts and the time at the step is not judged."""
    now = time.time() if now is None else now
    step = None
    if trail is not None:
        pcts = await trail.current()
        step = current_step(endpoint, pcts.get(endpoint, 0.0), await trail.changes(endpoint))
    return advise(await evidence(pool, endpoint, step, now=now, policy=policy), policy)


async def advise_all(pool: asyncpg.Pool, policy: RampPolicySettings = RampPolicySettings(),
                     trail: RampTrail | None = None, endpoints: Sequence[str] = RAMP_ENDPOINTS, *,
                     now: float | None = None) -> list[Advice]:
    now = time.time() if now is None else now
    return [await advise_endpoint(pool, e, policy, trail, now=now) for e in endpoints]

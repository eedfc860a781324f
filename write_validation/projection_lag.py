"""How far the legacy's own thread projections are behind its CDC log.

The legacy renders thread listings (`/comments`, morechildren) from projections its CDC consumer
builds (legacy_adapter.consumer, group `legacy-projections`). While that consumer is down or slow,
the legacy lists an older state than its own database holds: a listing that differs from the
rewrite's then says nothing about the rewrite. The judge asks this probe before it keeps such a
mismatch (judge.runner): it waits, bounded, for the projections to catch up and rechecks, or calls
the read `unavailable` with the backlog in the reason. Read-only: XINFO on production's Redis.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from legacy_adapter.consumer import GROUP as PROJECTIONS_GROUP

__all__ = ["PROJECTIONS_GROUP", "projection_backlog"]


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _pos(stream_id: Any) -> tuple[int, int]:
    ms, _, seq = str(_text(stream_id) or "0-0").partition("-")
    return int(ms), int(seq or 0)


async def projection_backlog(redis: aioredis.Redis, stream: str, group: str = PROJECTIONS_GROUP) -> int:
    """Events of `stream` the projections group has not applied yet: delivered but not acknowledged
    (pending) plus not yet delivered. 0 when no such stream or group exists (nothing to lag behind).
    When Redis cannot count what is undelivered (after trimming) but the group is behind the
    stream's last entry, that part counts as 1: the caller only needs to know "behind"."""
    try:
        groups = await redis.xinfo_groups(stream)
    except aioredis.ResponseError:  # no such stream: the legacy has written nothing yet
        return 0
    info = next((i for i in ({_text(k): _text(v) for k, v in g.items()} for g in groups)
                 if i.get("name") == group), None)
    if info is None:
        return 0
    pending = int(info.get("pending") or 0)
    lag = info.get("lag")
    if lag is not None:
        return pending + int(lag)
    meta = await redis.xinfo_stream(stream)
    behind = _pos(info.get("last-delivered-id")) < _pos(meta.get("last-generated-id"))
    return pending + int(behind)

"""How far a consumer group is behind its Redis stream: the jobs stream's workers (judge.publisher's
backlog monitor, a replay's settle) and the legacy's projections (write_validation.projection_lag)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

__all__ = ["Backlog", "read_backlog"]


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


@dataclass(frozen=True)
class Backlog:
    length: int        # XLEN (bounded by MAXLEN ~)
    lag: int           # entries the group has not been handed yet
    pending: int       # handed to a consumer, not yet acknowledged

    @property
    def total(self) -> int:
        return self.lag + self.pending


def _pos(stream_id: Any) -> tuple[int, int]:
    ms, _, seq = str(_text(stream_id)).partition("-")
    return int(ms), int(seq or 0)


async def read_backlog(redis: aioredis.Redis, stream: str, group: str, *, no_group_waits: bool = True) -> Backlog:
    """XLEN + XINFO GROUPS (+ XINFO STREAM when the group's `lag` cannot be trusted). A group not
    created yet has every entry waiting, unless `no_group_waits` is false (then nothing is behind).

    Redis 7.0 keeps counting entries trimmed before the group read them in `lag` (it can exceed
    XLEN, and it stays inflated). So: `lag` within XLEN -> `lag`; caught up (last delivered = last
    added) -> 0; otherwise XLEN, an upper bound."""
    length = int(await redis.xlen(stream))
    try:
        groups = await redis.xinfo_groups(stream)
    except aioredis.ResponseError:  # no stream yet
        return Backlog(length, length, 0)
    info = next((i for i in ({_text(k): _text(v) for k, v in g.items()} for g in groups)
                 if i.get("name") == group), None)
    if info is None:  # no consumer has created the group yet
        return Backlog(length, length if no_group_waits else 0, 0)
    pending = int(info.get("pending") or 0)
    lag = info.get("lag")
    if lag is not None and int(lag) <= length:
        return Backlog(length, int(lag), pending)
    meta = await redis.xinfo_stream(stream)
    delivered = _pos(info.get("last-delivered-id") or "0-0")
    if length == 0 or delivered >= _pos(meta.get("last-generated-id") or "0-0"):
        return Backlog(length, 0, pending)
    return Backlog(length, length, pending)  # an upper bound: Redis cannot say how many of XLEN are behind

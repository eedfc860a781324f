"""The ramp advisor's view of the audit trail (results.advice.trail.RampTrail) over the proxy's
Redis state: the percentages hash and the audit stream of shadow_proxy.audit. Read-only.

An entry whose percentage did not change (from = to: a ramp plan's pause, abort or finish noted in
the trail, or setting the value it already had) starts no step, so the trail leaves it out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import redis.asyncio as aioredis

from results.advice.trail import RampChange
from shadow_proxy.audit import RampKeys
from shadow_proxy.ramp import read_ramp

PAGE = 500


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisRampTrail:
    def __init__(self, redis: aioredis.Redis, keys: RampKeys) -> None:
        self._redis = redis
        self._keys = keys

    async def current(self) -> Mapping[str, float]:
        return await read_ramp(self._redis, self._keys)

    async def changes(self, endpoint: str, since: float | None = None) -> list[RampChange]:
        """Newest first, a page at a time, back to the endpoint's last change before `since` (or
        its latest change with `since=None`); returned oldest first."""
        found: list[RampChange] = []
        upper = "+"
        while True:
            rows = cast("list[tuple[Any, dict[Any, Any]]]",
                        await self._redis.xrevrange(self._keys.audit, max=upper, min="-", count=PAGE))
            for entry_id, raw in rows:
                f = {_text(k): _text(v) for k, v in raw.items()}
                if f.get("endpoint") != endpoint:
                    continue
                change = RampChange(float(f.get("at", 0)), endpoint, float(f.get("from", 0)), float(f.get("to", 0)),
                                    f.get("who", "?"), f.get("why", ""))
                if change.from_pct == change.to_pct:
                    continue
                found.append(change)
                if since is None or change.at < since:
                    return found[::-1]
            if len(rows) < PAGE:
                return found[::-1]
            upper = "(" + _text(rows[-1][0])  # exclusive: the next page starts below the last id seen

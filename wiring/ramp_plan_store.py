"""Ramp plans in the control-plane Redis: each endpoint's plan state (compare-and-set on a version,
so a CLI pause and the executor never overwrite each other), the step's progress, the executor's
lease, and audit notes (an entry in the ramp's audit stream that changes no percentage).

Keys, under the ramp's prefix: `<prefix>:ramp:plan:<endpoint>` (hash: version, state as JSON),
`<prefix>:ramp:plan:<endpoint>:progress` (JSON), `<prefix>:ramp:plan:lease` (the holder's id).
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis

from results.advice.plan import PlanState
from shadow_proxy.audit import AUDIT_MAXLEN, RampKeys

# KEYS: plan hash. ARGV: expected version ("0": no plan yet), new state JSON.
_CAS = """
local v = redis.call('HGET', KEYS[1], 'version') or '0'
if v ~= ARGV[1] then return false end
redis.call('HSET', KEYS[1], 'version', tostring(tonumber(v) + 1), 'state', ARGV[2])
return 1
"""
# KEYS: lease. ARGV: holder, ttl ms. Take the lease if free, renew it if ours.
_LEASE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS: ramp hash, audit stream. ARGV: endpoint, who, at, why. The entry's from and to are the
# percentage now (read in the same script), so the trail says what it was when this was noted.
_NOTE = f"""
local pct = redis.call('HGET', KEYS[1], ARGV[1]) or '0'
redis.call('XADD', KEYS[2], 'MAXLEN', '~', '{AUDIT_MAXLEN}', '*', 'who', ARGV[2], 'at', ARGV[3],
           'endpoint', ARGV[1], 'from', pct, 'to', pct, 'why', ARGV[4])
return pct
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class PlanStore:
    def __init__(self, redis: aioredis.Redis, keys: RampKeys) -> None:
        self._redis = redis
        self._keys = keys
        self._cas = redis.register_script(_CAS)
        self._lease = redis.register_script(_LEASE)
        self._release = redis.register_script(_RELEASE)
        self._note = redis.register_script(_NOTE)

    def _key(self, endpoint: str) -> str:
        return f"{self._keys.prefix}:ramp:plan:{endpoint}"

    @property
    def lease_key(self) -> str:
        return f"{self._keys.prefix}:ramp:plan:lease"

    async def get(self, endpoint: str) -> tuple[str, PlanState | None]:
        """(version, state); version "0" and None when the endpoint never had a plan."""
        raw = await self._redis.hgetall(self._key(endpoint))
        fields = {_text(k): _text(v) for k, v in raw.items()}
        if "state" not in fields:
            return "0", None
        return fields.get("version", "0"), PlanState.from_json(fields["state"])

    async def put(self, endpoint: str, version: str, state: PlanState) -> bool:
        """Write `state` if the plan is still at `version` (nobody changed it since it was read)."""
        return bool(await self._cas(keys=[self._key(endpoint)], args=[version, state.to_json()]))

    async def set_progress(self, endpoint: str, progress: dict[str, Any]) -> None:
        await self._redis.set(f"{self._key(endpoint)}:progress", json.dumps(progress))

    async def progress(self, endpoint: str) -> dict[str, Any] | None:
        raw = await self._redis.get(f"{self._key(endpoint)}:progress")
        return json.loads(raw) if raw else None

    async def hold_lease(self, holder: str, ttl_s: float) -> bool:
        """Take or renew the executor's lease; False while another holder's has not lapsed."""
        return bool(await self._lease(keys=[self.lease_key], args=[holder, str(max(1, int(ttl_s * 1000)))]))

    async def release_lease(self, holder: str) -> None:
        await self._release(keys=[self.lease_key], args=[holder])

    async def lease_holder(self) -> str | None:
        raw = await self._redis.get(self.lease_key)
        return _text(raw) if raw is not None else None

    async def note(self, endpoint: str, *, who: str, why: str) -> float:
        """An audit entry that changes nothing (a pause, an abort, a finished plan); the percentage now."""
        k = self._keys
        pct = await self._note(keys=[k.ramp, k.audit], args=[endpoint, who, f"{time.time():.6f}", why])
        return float(_text(pct))

"""Per-endpoint ramp percentages in Redis, sticky sampling, and live pick-up of changes.

State: a Redis hash `<prefix>:ramp` (endpoint -> pct). Every change goes through one Lua script
that reads the old value, writes the new one, appends the audit entry and publishes on
`<prefix>:ramp:changed` atomically, so no change is unaudited and every proxy hears of it. Proxies
reload the hash on each message, on (re)subscribe and every `refresh_s` as a fallback.

Sampling is sticky: `bucket(key)` is blake2b of the sticky key (a thread's `t3_` fullname) mod
10,000, and a request is shadowed when its bucket < pct * 100. Every endpoint uses the same bucket
for the same key, so at 5% the same 5% of threads get both their reads and their writes shadowed,
and every proxy instance makes the same decision.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis

from diff_reports.types import READ_ENDPOINTS, WRITE_ENDPOINTS
from shadow_proxy.audit import AUDIT_MAXLEN, RampKeys
from telemetry.logs import get_logger
from telemetry.tasks import cancel_and_wait

ENDPOINTS: tuple[str, ...] = READ_ENDPOINTS + WRITE_ENDPOINTS
BUCKETS = 10_000
log = get_logger("shadow_proxy.ramp")

# KEYS: ramp hash, audit stream, channel. ARGV: endpoint, new pct, who, at, why, only-if-enabled.
_SET_SCRIPT = f"""
local old = redis.call('HGET', KEYS[1], ARGV[1]) or '0'
if ARGV[6] == '1' and tonumber(old) <= 0 then return false end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', '{AUDIT_MAXLEN}', '*', 'who', ARGV[3], 'at', ARGV[4],
           'endpoint', ARGV[1], 'from', old, 'to', ARGV[2], 'why', ARGV[5])
redis.call('PUBLISH', KEYS[3], ARGV[1])
return old
"""


class RampError(ValueError):
    """A bad endpoint or percentage; the message says what was expected."""


def bucket(key: str) -> int:
    """Deterministic across processes and hosts (unlike hash())."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def in_ramp(key: str, pct: float) -> bool:
    return bucket(key) < round(pct * 100)


def check(endpoint: str, pct: float) -> float:
    if endpoint not in ENDPOINTS:
        raise RampError(f"unknown endpoint {endpoint!r}; expected one of {', '.join(ENDPOINTS)}")
    if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not 0 <= pct <= 100:
        raise RampError(f"pct must be a number from 0 to 100, got {pct!r}")
    return round(float(pct), 2)


def _fmt(pct: float) -> str:
    return str(int(pct)) if float(pct).is_integer() else str(pct)


@dataclass(frozen=True)
class RampChange:
    endpoint: str
    from_pct: float
    to_pct: float


class RampControl:
    """Writes ramp settings (admin API, CLI, guardrail). Every write is audited."""

    def __init__(self, redis: aioredis.Redis, keys: RampKeys) -> None:
        self._redis = redis
        self._keys = keys
        self._script = redis.register_script(_SET_SCRIPT)

    async def set(self, endpoint: str, pct: float, *, who: str, why: str = "",
                  only_if_enabled: bool = False) -> RampChange | None:
        """Set one endpoint; None when `only_if_enabled` and it was already at 0."""
        pct = check(endpoint, pct)
        k = self._keys
        old = await self._script(keys=[k.ramp, k.audit, k.channel],
                                 args=[endpoint, _fmt(pct), who, f"{time.time():.6f}", why,
                                       "1" if only_if_enabled else "0"])
        if old is None:
            return None
        log.info("ramp_changed", endpoint=endpoint, from_pct=float(old), to_pct=pct, who=who, why=why)
        return RampChange(endpoint, float(old), pct)

    async def kill(self, *, who: str, why: str = "") -> list[RampChange]:
        """Every endpoint to 0 (each change audited; endpoints already at 0 are left alone)."""
        changes = []
        for endpoint in ENDPOINTS:
            change = await self.set(endpoint, 0, who=who, why=why or "kill", only_if_enabled=True)
            if change:
                changes.append(change)
        return changes

    async def read(self) -> dict[str, float]:
        return await read_ramp(self._redis, self._keys)


async def read_ramp(redis: aioredis.Redis, keys: RampKeys) -> dict[str, float]:
    raw = await redis.hgetall(keys.ramp)
    stored = {}
    for k, v in raw.items():
        name = k.decode() if isinstance(k, bytes) else k
        try:
            stored[name] = float(v)
        except ValueError:
            log.warning("ramp_bad_value", endpoint=name, value=repr(v))
    return {e: stored.get(e, 0.0) for e in ENDPOINTS}


class RampState:
    """This proxy's live view of the ramp: in memory, kept current by pub/sub and a periodic reload."""

    def __init__(self, redis: aioredis.Redis, keys: RampKeys, refresh_s: float = 5.0,
                 on_change: Callable[[dict[str, float]], None] | None = None) -> None:
        self._redis = redis
        self._keys = keys
        self._refresh_s = refresh_s
        self._on_change = on_change
        self.pcts: dict[str, float] = {e: 0.0 for e in ENDPOINTS}
        self.version = 0
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task] = []
        self._subscribed = asyncio.Event()
        self._stopping = False

    def pct(self, endpoint: str) -> float:
        return self.pcts.get(endpoint, 0.0)

    def sampled(self, endpoint: str, key: str) -> bool:
        return in_ramp(key, self.pct(endpoint))

    async def start(self) -> None:
        """Load and subscribe. If Redis is down the proxy still starts, shadowing nothing (all 0%)
        until Redis answers: pass-through never depends on the control plane."""
        try:
            await self.reload()
            reachable = True
        except Exception as exc:
            log.error("ramp_unavailable_at_start", error=repr(exc), shadowing="nothing until Redis answers")
            reachable = False
        self._stopping = False
        self._tasks = [asyncio.create_task(self._listen(), name="ramp-listen"),
                       asyncio.create_task(self._poll(), name="ramp-poll")]
        if reachable:  # changes made after start() returns must reach us: wait for the subscription
            try:
                async with asyncio.timeout(5):
                    await self._subscribed.wait()
            except TimeoutError:
                log.warning("ramp_subscribe_slow", channel=self._keys.channel)

    async def stop(self) -> None:
        self._stopping = True  # the loops end at their next turn even if a cancellation is lost
        tasks, self._tasks = self._tasks, []
        abandoned = await cancel_and_wait(tasks)
        if abandoned:
            log.warning("ramp_tasks_abandoned", tasks=[t.get_name() for t in abandoned])

    async def reload(self) -> None:
        pcts = await read_ramp(self._redis, self._keys)
        async with self._changed:
            if pcts != self.pcts:
                log.info("ramp_loaded", **pcts)
            self.pcts = pcts
            self.version += 1
            self._changed.notify_all()
        if self._on_change:
            self._on_change(pcts)

    async def wait_until(self, predicate: Callable[[dict[str, float]], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self.pcts))

    async def _listen(self) -> None:
        backoff = 0.05
        while not self._stopping:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._keys.channel)
                    await self.reload()  # whatever changed while we were not subscribed
                    self._subscribed.set()
                    backoff = 0.05
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            await self.reload()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis down: keep serving the last known ramp, retry
                log.warning("ramp_listen_failed", error=repr(exc), retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _poll(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._refresh_s)
            try:
                await self.reload()
            except Exception as exc:
                log.warning("ramp_reload_failed", error=repr(exc))

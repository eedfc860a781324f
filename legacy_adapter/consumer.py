"""The legacy CDC consumer: builds the read projections from the stream, at least once.

Projections (docs/legacy-formats.md, "Redis CDC stream"):
- `tree:<link36>` hash: parent fullname -> JSON list of child base36 ids, insertion order;
- `score:<link36>:<sort>` sorted sets for top, confidence and controversial;
- `applied:<fullname>`: highest version applied; events at or below it are skipped.

`apply` is one atomic Lua script, so redelivery (a crash between apply and XACK) is harmless and
the step can run against any Redis, e.g. over the sister stream into a scratch db.
"""

from __future__ import annotations

import asyncio
import json
from typing import cast

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from legacy_adapter.cdc import DEFAULT_STREAM, BadEvent, CdcEvent, decode_entry
from legacy_adapter.sorts import PROJECTED_SORTS, SCORE_FUNCS
from telemetry.logs import get_logger

# XREADGROUP over RESP2 on a bytes client (no decode_responses): [[stream, [(id, fields|None), ...]]].
# redis-py types the reply as the union of its RESP2 and RESP3 shapes, so it is narrowed here.
_Entries = list[tuple[bytes, dict[bytes, bytes] | None]]


def _read_entries(got: object) -> _Entries:
    return cast("list[tuple[bytes, _Entries]]", got)[0][1] if got else []

GROUP = "legacy-projections"
RETRY_S = 0.5
log = get_logger("legacy.consumer")

# KEYS: applied, tree, score:top, score:confidence, score:controversial
# ARGV: version, is_created, parent, child36, has_scores, top, confidence, controversial
_APPLY = """
local applied = tonumber(redis.call('GET', KEYS[1]) or '0')
local version = tonumber(ARGV[1])
if version <= applied then return 0 end
if ARGV[2] == '1' then
  local raw = redis.call('HGET', KEYS[2], ARGV[3])
  local kids = {}
  if raw then kids = cjson.decode(raw) end
  local present = false
  for _, k in ipairs(kids) do if k == ARGV[4] then present = true end end
  if not present then
    table.insert(kids, ARGV[4])
    redis.call('HSET', KEYS[2], ARGV[3], cjson.encode(kids))
  end
end
if ARGV[5] == '1' then
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[4])
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[4])
  redis.call('ZADD', KEYS[5], ARGV[8], ARGV[4])
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
"""


def projection_keys(link36: str) -> dict[str, str]:
    return {"tree": f"tree:{link36}", **{s: f"score:{link36}:{s}" for s in PROJECTED_SORTS}}


async def apply(redis: aioredis.Redis, event: CdcEvent) -> bool:
    """Apply one event to the projections; False when it was already applied (idempotent)."""
    link36 = event.link.partition("_")[2]
    child36 = event.fullname.partition("_")[2]
    keys = projection_keys(link36)
    ups = event.changes.get("ups", [None, None])[1]
    downs = event.changes.get("downs", [None, None])[1]
    has_scores = ups is not None and downs is not None
    scores = [repr(SCORE_FUNCS[s](ups, downs)) if has_scores else "0" for s in PROJECTED_SORTS]
    created = event.type == "comment_created"
    done = await redis.eval(
        _APPLY, 5, f"applied:{event.fullname}", keys["tree"], *(keys[s] for s in PROJECTED_SORTS),
        str(event.version), "1" if created else "0", event.parent, child36, "1" if has_scores else "0", *scores)
    return bool(done)


async def read_tree(redis: aioredis.Redis, link36: str) -> dict[str, list[str]]:
    """The tree projection of a link: parent fullname -> child base36 ids."""
    raw = cast("dict[bytes, bytes]", await redis.hgetall(f"tree:{link36}"))  # a bytes client
    return {k.decode(): json.loads(v) for k, v in raw.items()}


class Consumer:
    """`run()` until `stop()`: pending entries first (recovery after a restart), then new ones."""

    def __init__(self, redis: aioredis.Redis, stream: str = DEFAULT_STREAM, name: str = "legacy-1",
                 group: str = GROUP, block_ms: int = 200, batch: int = 100, claim_idle_ms: int = 30000) -> None:
        self.redis, self.stream, self.name, self.group = redis, stream, name, group
        self.block_ms, self.batch, self.claim_idle_ms = block_ms, batch, claim_idle_ms
        self._stopping = asyncio.Event()
        self.applied = self.skipped = self.bad = self.handled = 0

    async def ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _handle(self, entries: _Entries) -> int:
        for entry_id, fields in entries:
            if fields is None:  # trimmed away while pending: nothing to apply
                await self.redis.xack(self.stream, self.group, entry_id)
                continue
            try:
                event = decode_entry(entry_id, fields)
            except BadEvent:
                self.bad += 1  # acked and counted: a poison entry must not block the group
            else:
                if await self.apply(event):
                    self.applied += 1
                else:
                    self.skipped += 1
            await self.redis.xack(self.stream, self.group, entry_id)
            self.handled += 1
        return len(entries)

    async def recover(self) -> None:
        """Re-apply this consumer's own pending entries, then claim long-idle ones of others."""
        while True:
            got = await self.redis.xreadgroup(self.group, self.name, {self.stream: "0"}, count=self.batch)
            entries = _read_entries(got)
            if not entries or not await self._handle(entries):
                break
        start = "0-0"
        while True:
            res = await self.redis.xautoclaim(self.stream, self.group, self.name, self.claim_idle_ms,
                                              start_id=start, count=self.batch)
            start, entries = res[0], res[1]
            await self._handle(entries)
            if start in (b"0-0", "0-0"):
                break

    async def poll_once(self) -> int:
        got = await self.redis.xreadgroup(self.group, self.name, {self.stream: ">"}, count=self.batch,
                                          block=self.block_ms)
        return await self._handle(_read_entries(got)) if got else 0

    async def drain(self) -> int:
        """Process everything in the stream so far, pending entries included, without blocking;
        returns how many entries were handled (used by the seeder and tests)."""
        before = self.handled
        await self.ensure_group()
        await self.recover()
        while await self._poll_nowait():
            pass
        return self.handled - before

    async def _poll_nowait(self) -> int:
        got = await self.redis.xreadgroup(self.group, self.name, {self.stream: ">"}, count=self.batch)
        return await self._handle(_read_entries(got)) if got else 0

    async def run(self) -> None:
        """Until `stop()`. A lost Redis connection is retried (with recovery of pending entries)."""
        recovered = False
        while not self._stopping.is_set():
            try:
                if not recovered:
                    await self.ensure_group()
                    await self.recover()
                    recovered = True
                await self.poll_once()
            except (RedisConnectionError, RedisTimeoutError) as exc:
                log.warning("cdc_consumer_redis_error", error=str(exc))
                recovered = False
                await asyncio.sleep(RETRY_S)  # back-off before reconnecting

    async def apply(self, event: CdcEvent) -> bool:
        """One event into this consumer's Redis (see the module function `apply`)."""
        return await apply(self.redis, event)

    def stop(self) -> None:
        self._stopping.set()

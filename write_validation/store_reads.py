"""Every store read of the write validation: what one side stored for one write, in all three
stores, without changing anything.

The harness reads production (what the legacy wrote) and the sister set (what the rewrite wrote)
the same way, then compares. Read-only by construction: SELECTs in a read-only transaction
(production through the read-only role), memcached `mg`, Redis XRANGE/XREVRANGE. Raw forms are kept
raw (bytes, text values, kinds); decoding is the comparison's job.

The CDC streams are read through a tail per side (`CdcTail`): every validated write needs the
newest `scan` events of both streams, and reading and decoding all of them every time cost about
a third of a replay's CPU, so a tail keeps them and asks Redis only for the entries added after
the newest one it holds. Each call tops up first, under a lock, so it sees every event added
before it was made; a stream that lost the newest entry held (flushed, trimmed, a server
restarted without persistence) is read again in full.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any, cast

import asyncpg
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sister_stores.addresses import StoreAddresses
from sister_stores.databases import close_pool

THING_COLUMNS = "thing_id, ups, downs, deleted, spam, date, version"

# XREVRANGE's reply on a bytes client (no decode_responses): [(id, {field: value}), ...]. redis-py's
# StreamRangeResponse also allows str (decode_responses), a nil reply and nil entries, none of which
# XREVRANGE gives such a client (a missing stream is an empty list).
RawStreamEntries = list[tuple[bytes, dict[bytes, bytes]]]


@dataclass(frozen=True)
class PostgresState:
    thing: dict[str, Any] | None
    data: tuple[tuple[str, str | None, str | None], ...]  # (key, value, kind), sorted by key
    link_thing: dict[str, Any] | None = None
    link_data: tuple[tuple[str, str | None, str | None], ...] = ()
    votes: tuple[tuple[int, str, Any], ...] = ()  # (account id, direction, date), sorted

    @property
    def version(self) -> int | None:
        return None if self.thing is None else int(self.thing["version"])


@dataclass(frozen=True)
class CacheEntry:
    key: str
    present: bool
    value: bytes = b""
    flags: int | None = None
    ttl: int | None = None  # seconds left; -1 means no expiry


@dataclass(frozen=True)
class CdcEvent:
    stream_id: str
    fields: dict[str, str] = field(default_factory=dict)


def _thing(row: asyncpg.Record | None) -> dict[str, Any] | None:
    return None if row is None else dict(row)


async def read_postgres(conn: asyncpg.Connection, comment_id: int, link_id: int | None) -> PostgresState:
    """Thing, data rows and votes of a comment, plus its link's thing and data rows, all from one
    snapshot (a read-only REPEATABLE READ transaction): read statement by statement, a write
    committing in between would give a thing row at one version and data rows at another."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _read_postgres(conn, comment_id, link_id)


async def _read_postgres(conn: asyncpg.Connection, comment_id: int, link_id: int | None) -> PostgresState:
    thing = await conn.fetchrow(f"SELECT {THING_COLUMNS} FROM reddit_thing_comment WHERE thing_id = $1", comment_id)
    data = await conn.fetch("SELECT key, value, kind FROM reddit_data_comment WHERE thing_id = $1 ORDER BY key", comment_id)
    votes = await conn.fetch(
        "SELECT thing1_id, name, date FROM reddit_rel_vote_account_comment WHERE thing2_id = $1 ORDER BY thing1_id",
        comment_id,
    )
    link_thing, link_data = None, []
    if link_id is not None:
        link_thing = await conn.fetchrow(f"SELECT {THING_COLUMNS} FROM reddit_thing_link WHERE thing_id = $1", link_id)
        link_data = await conn.fetch("SELECT key, value, kind FROM reddit_data_link WHERE thing_id = $1 ORDER BY key", link_id)
    return PostgresState(
        thing=_thing(thing),
        data=tuple((r["key"], r["value"], r["kind"]) for r in data),
        link_thing=_thing(link_thing),
        link_data=tuple((r["key"], r["value"], r["kind"]) for r in link_data),
        votes=tuple((r["thing1_id"], r["name"], r["date"]) for r in votes),
    )


async def read_memcached(host: str, port: int, key: str, timeout: float = 2.0) -> CacheEntry:
    """One `mg <key> v f t` (memcached >= 1.6 meta protocol): value, flags and remaining TTL.

    pymemcache has no meta commands and a plain `get` cannot see the TTL, so this speaks the
    text protocol on its own short-lived connection.
    """
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(f"mg {key} v f t\r\n".encode())
        await writer.drain()
        header = await asyncio.wait_for(reader.readline(), timeout)
        if header.startswith(b"EN"):
            return CacheEntry(key, present=False)
        parts = header.decode("ascii").split()
        if parts[0] != "VA":
            raise RuntimeError(f"memcached answered {header!r} to mg {key}")
        size = int(parts[1])
        flags = {p[0]: p[1:] for p in parts[2:]}
        body = await asyncio.wait_for(reader.readexactly(size + 2), timeout)
        return CacheEntry(key, True, body[:-2], int(flags.get("f", "0")), int(flags.get("t", "-1")))
    finally:
        writer.close()
        await writer.wait_closed()


async def read_cdc(
    client: aioredis.Redis, stream: str, *, fullname: str | None = None, request_id: str | None = None,
    scan: int = 2000
) -> list[CdcEvent]:
    """Events for `fullname` (every thing's when None; optionally only those of `request_id`) among
    the newest `scan` entries, oldest first."""
    events = events_oldest_first(cast(RawStreamEntries, await client.xrevrange(stream, count=scan)))
    return [e for e in events if (fullname is None or e.fields.get("fullname") == fullname)
            and (request_id is None or e.fields.get("request_id") == request_id)]


def events_oldest_first(entries: RawStreamEntries) -> list[CdcEvent]:
    """XREVRANGE's entries (newest first) decoded as events, oldest first."""
    out = [CdcEvent(stream_id.decode(), {k.decode(): v.decode() for k, v in raw.items()}) for stream_id, raw in entries]
    out.reverse()
    return out


class CdcTail:
    """The newest `scan` events of `stream` on `client` (a bytes client: no decode_responses), as
    `read_cdc` would return them at that moment."""

    def __init__(self, client: aioredis.Redis, stream: str, scan: int = 2000) -> None:
        self._client, self._stream, self._scan = client, stream, scan
        self._events: deque[CdcEvent] = deque(maxlen=scan)
        self._lock = asyncio.Lock()

    async def newest(self) -> list[CdcEvent]:
        """The newest `scan` events as of now, oldest first (a new list; the events are shared)."""
        async with self._lock:
            await self._top_up()
            return list(self._events)

    async def _top_up(self) -> None:
        if not self._events:
            self._refill(cast(RawStreamEntries, await self._client.xrevrange(self._stream, count=self._scan)))
            return
        last = self._events[-1].stream_id
        async with self._client.pipeline(transaction=False) as pipe:
            pipe.xrange(self._stream, min=last, max=last)  # is the newest held entry still there?
            pipe.xrevrange(self._stream, max="+", min=f"({last}", count=self._scan)
            still, added = await pipe.execute()
        if not still:
            self._refill(cast(RawStreamEntries, await self._client.xrevrange(self._stream, count=self._scan)))
            return
        self._events.extend(events_oldest_first(cast(RawStreamEntries, added)))  # a full batch pushes every older one out

    def _refill(self, entries: RawStreamEntries) -> None:
        self._events.clear()
        self._events.extend(events_oldest_first(entries))


@dataclass(frozen=True)
class SideState:
    postgres: PostgresState | BaseException
    cache: CacheEntry | BaseException
    events: list[CdcEvent] | BaseException  # newest `scan` entries of the stream, oldest first


@dataclass
class SideConnections:
    """One side's connections for the reads. Production is reached through the read-only role."""

    addresses: StoreAddresses
    pool: asyncpg.Pool
    redis: aioredis.Redis
    tails: dict[tuple[str, int], CdcTail] = field(default_factory=dict)  # per (stream, scan)

    @classmethod
    async def open(cls, addresses: StoreAddresses, postgres_dsn: str, pool_size: int = 4) -> "SideConnections":
        pool = await asyncpg.create_pool(postgres_dsn, min_size=1, max_size=pool_size, command_timeout=5)
        return cls(addresses, pool, redis_client(addresses.redis))

    async def close(self) -> None:
        await close_pool(self.pool)  # bounded: a store down at shutdown cannot hang it
        await self.redis.aclose()


def redis_client(url: str) -> aioredis.Redis:
    """A client that retries a dropped connection (a restarted server) before giving up."""
    return aioredis.from_url(url, socket_timeout=5, retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 3),
                             retry_on_error=[RedisConnectionError, RedisTimeoutError])


async def read_events(side: SideConnections, stream: str, scan: int = 2000) -> list[CdcEvent]:
    """The newest `scan` events of one side's CDC stream, oldest first (topped up: CdcTail)."""
    tail = side.tails.get((stream, scan))
    if tail is None:
        tail = side.tails[(stream, scan)] = CdcTail(side.redis, stream, scan)
    return await tail.newest()


async def read_side(side: SideConnections, stream: str, comment_id: int, link_id: int | None,
                       scan: int = 2000) -> SideState:
    """All three stores concurrently; a store that fails is recorded as its exception."""
    async def pg() -> PostgresState:
        async with side.pool.acquire() as conn:
            return await read_postgres(conn, comment_id, link_id)

    host, port = side.addresses.memcached_host_port
    results = await asyncio.gather(pg(), read_memcached(host, port, f"comment:{comment_id}"),
                                   read_events(side, stream, scan), return_exceptions=True)
    return SideState(*results)


async def link_of_comment(side: SideConnections, comment_id: int) -> int | None:
    """The link a comment belongs to (its `link_id` data row), None when the comment has none."""
    async with side.pool.acquire() as conn:
        value = await conn.fetchval("SELECT value FROM reddit_data_comment WHERE thing_id = $1 AND key = 'link_id'",
                                    comment_id)
    return int(value) if value else None


async def account_id(side: SideConnections, name: str) -> int | None:
    """The id of the account called `name`."""
    async with side.pool.acquire() as conn:
        return cast(int | None, await conn.fetchval(
            "SELECT thing_id FROM reddit_data_account WHERE key = 'name' AND value = $1", name))

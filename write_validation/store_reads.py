"""Read what one side stored for one entity, in all three stores, without changing anything.

The harness captures production (what the legacy wrote) and sister (what the rewrite wrote) the
same way, then compares. Capture is read-only by construction: SELECTs, memcached `mg`, Redis
XREVRANGE. Raw forms are kept raw (bytes, text values, kinds); decoding is the comparison's job.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

import asyncpg
import redis.asyncio as aioredis

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


async def capture_postgres(conn: asyncpg.Connection, comment_id: int, link_id: int | None) -> PostgresState:
    """Thing, data rows and votes of a comment, plus its link's thing and data rows, all from one
    snapshot (a read-only REPEATABLE READ transaction): read statement by statement, a write
    committing in between would give a thing row at one version and data rows at another."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _capture_postgres(conn, comment_id, link_id)


async def _capture_postgres(conn: asyncpg.Connection, comment_id: int, link_id: int | None) -> PostgresState:
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


async def capture_memcached(host: str, port: int, key: str, timeout: float = 2.0) -> CacheEntry:
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


async def capture_cdc(
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

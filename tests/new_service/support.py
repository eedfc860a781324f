"""Helpers for the new service's tests: seed rows with plain SQL, read back every store raw."""

from __future__ import annotations

import pickle
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import redis.asyncio as aioredis

from sister_stores.addresses import StoreAddresses
from tests.support.waiting import eventually

ALICE, BOB, CAROL = 11, 12, 13
SR = 5
LINK = 3_543_123_017  # a real-sized Reddit id (base36 "1mlhf7t")
LINK36 = "1mlhf7t"
SEQUENCE_FLOOR = 4_000_000_000


class FakeClock:
    """The service's injectable clock: tests move time instead of sleeping."""

    def __init__(self, now: float = 1_700_000_000.25) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def seed_base(dsn: str, link_ids: tuple[int, ...] = (LINK,)) -> None:
    """Accounts alice/bob/carol, subreddit `pics`, links; sequences above the explicit ids."""
    conn = await asyncpg.connect(dsn)
    try:
        for thing_id, name in ((ALICE, "alice"), (BOB, "bob"), (CAROL, "carol")):
            await conn.execute("INSERT INTO reddit_thing_account (thing_id) VALUES ($1)", thing_id)
            await conn.execute("INSERT INTO reddit_data_account VALUES ($1, 'name', $2, 'str')", thing_id, name)
        await conn.execute("INSERT INTO reddit_thing_subreddit (thing_id) VALUES ($1)", SR)
        await conn.execute("INSERT INTO reddit_data_subreddit VALUES ($1, 'name', 'pics', 'str')", SR)
        for link_id in link_ids:
            await conn.execute("INSERT INTO reddit_thing_link (thing_id, ups, downs, date) "
                               "VALUES ($1, 10, 2, to_timestamp(1699990000))", link_id)
            await conn.executemany("INSERT INTO reddit_data_link VALUES ($1, $2, $3, $4)", [
                (link_id, "title", "A link", "str"), (link_id, "author_id", str(BOB), "num"),
                (link_id, "sr_id", str(SR), "num"), (link_id, "url", "https://example.com/x", "str")])
        for kind in ("account", "subreddit", "link", "comment"):
            await conn.execute(f"SELECT setval('reddit_thing_{kind}_thing_id_seq', {SEQUENCE_FLOOR})")
    finally:
        await conn.close()


async def fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def data_rows(dsn: str, kind: str, thing_id: int) -> dict[str, tuple[str | None, str]]:
    rows = await fetch(dsn, f"SELECT key, value, kind FROM reddit_data_{kind} WHERE thing_id = $1", thing_id)
    return {r["key"]: (r["value"], r["kind"]) for r in rows}


async def thing_row(dsn: str, kind: str, thing_id: int) -> dict[str, Any] | None:
    rows = await fetch(dsn, f"SELECT ups, downs, deleted, spam, date, version FROM reddit_thing_{kind} "
                            "WHERE thing_id = $1", thing_id)
    return dict(rows[0]) if rows else None


async def votes(dsn: str, comment_id: int) -> dict[int, tuple[str, Any]]:
    rows = await fetch(dsn, "SELECT thing1_id, name, date FROM reddit_rel_vote_account_comment WHERE thing2_id = $1",
                       comment_id)
    return {r["thing1_id"]: (r["name"], r["date"]) for r in rows}


@dataclass(frozen=True)
class CacheEntry:
    value: bytes
    flags: int
    ttl: int

    @property
    def obj(self) -> Any:
        return pickle.loads(self.value)


def meta_get(addresses: StoreAddresses, key: str) -> CacheEntry | None:
    """`mg <key> t f v` on a raw socket: value, flags and remaining TTL as the server holds them."""
    with socket.create_connection(addresses.memcached_host_port, timeout=2) as sock:
        sock.sendall(f"mg {key} t f v\r\n".encode())
        buf = b""
        while b"\r\n" not in buf:
            buf += sock.recv(65536)
        head, _, rest = buf.partition(b"\r\n")
        if head.startswith(b"EN"):
            return None
        parts = head.split()
        assert parts[0] == b"VA", head
        size = int(parts[1])
        flags = {p[:1]: p[1:] for p in parts[2:]}
        while len(rest) < size + 2:
            rest += sock.recv(65536)
        return CacheEntry(rest[:size], int(flags[b"f"]), int(flags[b"t"]))


async def stream_events(addresses: StoreAddresses, stream: str = "comments:cdc") -> list[dict[str, str]]:
    r = aioredis.from_url(addresses.redis)
    try:
        entries = await r.xrange(stream)
    finally:
        await r.aclose()
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    await eventually(check, timeout=timeout)

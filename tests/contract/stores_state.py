"""Raw views of a store set for tests: every PostgreSQL row, every Memcached item (value, flags,
TTL via the meta command `mg`), every Redis key. Service-agnostic: no legacy code here."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import unquote

import asyncpg
import redis.asyncio as aioredis

from sister_stores.addresses import StoreAddresses

TABLES = [f"reddit_{kind}_{t}" for t in ("account", "subreddit", "link", "comment") for kind in ("thing", "data")]
TABLES.append("reddit_rel_vote_account_comment")


def _mc(addresses: StoreAddresses, command: bytes, end: tuple[bytes, ...]) -> bytes:
    with socket.create_connection(addresses.memcached_host_port, timeout=5) as sock:
        sock.sendall(command)
        buf = b""
        while not buf.endswith(end):
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    return buf


def mc_meta(addresses: StoreAddresses, key: str) -> tuple[bytes, int, int] | None:
    """(value, flags, remaining TTL seconds) of `key` via `mg <key> t f v`, None on a miss."""
    reply = _mc(addresses, f"mg {key} t f v\r\n".encode(), (b"EN\r\n", b"\r\n"))
    while reply.startswith(b"VA ") and reply.count(b"\r\n") < 2:
        reply += _mc(addresses, b"", (b"\r\n",))  # pragma: no cover - large values arrive at once locally
    if reply.startswith(b"EN"):
        return None
    head, _, rest = reply.partition(b"\r\n")
    parts = head.split()
    size = int(parts[1])
    flags = {p[:1]: p[1:] for p in parts[2:]}
    return rest[:size], int(flags[b"f"]), int(flags[b"t"])


def mc_meta_many(addresses: StoreAddresses, keys: list[str]) -> dict[str, tuple[bytes, int, int]]:
    """`mg <key> t f v` for many keys over one connection (pipelined, ended by the no-op `mn`)."""
    command = b"".join(f"mg {k} t f v\r\n".encode() for k in keys) + b"mn\r\n"
    reply = _mc(addresses, command, (b"MN\r\n",))
    out: dict[str, tuple[bytes, int, int]] = {}
    pos = 0
    for key in keys:
        end = reply.index(b"\r\n", pos)
        head = reply[pos:end]
        pos = end + 2
        if head.startswith(b"EN"):
            continue
        parts = head.split()
        size = int(parts[1])
        flags = {p[:1]: p[1:] for p in parts[2:]}
        out[key] = (reply[pos:pos + size], int(flags[b"f"]), int(flags[b"t"]))
        pos += size + 2
    return out


def mc_keys(addresses: StoreAddresses) -> list[str]:
    dump = _mc(addresses, b"lru_crawler metadump all\r\n", (b"END\r\n",))
    keys = []
    for line in dump.decode().splitlines():
        if line.startswith("key="):
            keys.append(unquote(line.split()[0][4:]))
    return sorted(keys)


async def pg_rows(addresses: StoreAddresses) -> dict[str, list[tuple]]:
    conn = await asyncpg.connect(addresses.postgres)
    try:
        out = {}
        for table in TABLES:
            rows = await conn.fetch(f"SELECT * FROM {table} ORDER BY 1, 2")
            out[table] = [tuple(r.values()) for r in rows]
        return out
    finally:
        await conn.close()


async def redis_state(addresses: StoreAddresses) -> dict[str, Any]:
    r = aioredis.from_url(addresses.redis)
    try:
        out: dict[str, Any] = {}
        for key in sorted(await r.keys("*")):
            kind = (await r.type(key)).decode()
            if kind == "string":
                out[key.decode()] = await r.get(key)
            elif kind == "hash":
                out[key.decode()] = await r.hgetall(key)
            elif kind == "zset":
                out[key.decode()] = await r.zrange(key, 0, -1, withscores=True)
            elif kind == "stream":
                out[key.decode()] = await r.xrange(key)
        return out
    finally:
        await r.aclose()


async def snapshot(addresses: StoreAddresses) -> dict[str, Any]:
    """All three stores. Memcached items carry value and flags (TTL drifts with wall time).
    Memcached cannot list its keys reliably (the LRU crawler's metadump can miss items), so the
    keys are the crawler's plus `comment:<id>` and `lock:comment:<id>` for every comment row."""
    rows = await pg_rows(addresses)
    ids = [row[0] for row in rows["reddit_thing_comment"]]
    candidates = set(mc_keys(addresses)) | {f"{p}comment:{i}" for i in ids for p in ("", "lock:")}
    cache = {key: got[:2] for key, got in mc_meta_many(addresses, sorted(candidates)).items()}
    return {"postgres": rows, "memcached": cache, "redis": await redis_state(addresses)}

"""Capture one side's stores for one write: PostgreSQL rows, the cache entry, the CDC events."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import asyncpg
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sister_stores.addresses import StoreAddresses
from write_validation.store_reads import CacheEntry, CdcEvent, PostgresState, capture_memcached, capture_postgres
from write_validation.cdc_tail import CdcTail
from sister_stores.databases import close_pool


@dataclass(frozen=True)
class SideCapture:
    postgres: PostgresState | BaseException
    cache: CacheEntry | BaseException
    events: list[CdcEvent] | BaseException  # newest `scan` entries of the stream, oldest first


@dataclass
class SideConnections:
    """One side's connections for capture. Production is reached through the read-only role."""

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


async def capture_events(side: SideConnections, stream: str, scan: int = 2000) -> list[CdcEvent]:
    """The newest `scan` events of one side's CDC stream, oldest first (topped up: cdc_tail.py)."""
    tail = side.tails.get((stream, scan))
    if tail is None:
        tail = side.tails[(stream, scan)] = CdcTail(side.redis, stream, scan)
    return await tail.newest()


async def capture_side(side: SideConnections, stream: str, comment_id: int, link_id: int | None,
                       scan: int = 2000) -> SideCapture:
    """All three stores concurrently; a store that fails is recorded as its exception."""
    async def pg() -> PostgresState:
        async with side.pool.acquire() as conn:
            return await capture_postgres(conn, comment_id, link_id)

    host, port = side.addresses.memcached_host_port
    results = await asyncio.gather(pg(), capture_memcached(host, port, f"comment:{comment_id}"),
                                   capture_events(side, stream, scan), return_exceptions=True)
    return SideCapture(*results)

"""What a request works against: where reads go, where writes go, and the request's identity."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from new_comments_service.memcached import MemcachedPool
from new_comments_service.model import RequestTime
from new_comments_service.sql import Sql


@dataclass
class Backend:
    """primary: everything is production. tap: reads from production through the read-only role,
    writes (PostgreSQL, Memcached, Redis) only to the sister set."""

    mode: str
    read_db: Sql
    write_db: Sql
    cache: MemcachedPool
    redis: aioredis.Redis
    stream: str
    tz_offset: int
    # tap mode only: production's CDC stream, read (never written) to rewind hydrated state.
    production_redis: aioredis.Redis | None = None

    @property
    def tap(self) -> bool:
        return self.mode == "tap"


@dataclass(frozen=True)
class WriteIdentity:
    """The identity of one write: ours in primary mode, the legacy's when the tap carries it."""

    request_time: RequestTime
    request_id: str
    thing_id: int | None = None  # the legacy-assigned id of a created comment (tap only)
    tapped: bool = False

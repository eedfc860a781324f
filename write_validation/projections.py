"""`redis_cdc.legacy_read`: run the legacy consumer's apply step over each side's events.

Each side's events for the entity are applied into its own scratch Redis database on the sister
server (never production), then the legacy's projection reader snapshots them. Scratch databases
are shared by every validator on the server (stream-mode workers included), so one comparison runs
at a time: an asyncio lock in the process and a Redis lock (in a third database) across processes.
"""

from __future__ import annotations

import asyncio
from typing import Any


from legacy_adapter.readers import apply, decode_entry, read_projection
from write_validation.store_reads import redis_client

LOCK_KEY = "tapcompare:scratch-projections"


class ScratchProjections:
    def __init__(self, sister_redis_url: str, db_legacy: int = 14, db_new: int = 15, db_lock: int = 13,
                 lock_timeout_s: float = 30.0) -> None:
        base = sister_redis_url.rsplit("/", 1)[0]
        self._clients = (redis_client(f"{base}/{db_legacy}"), redis_client(f"{base}/{db_new}"))
        self._lock_client = redis_client(f"{base}/{db_lock}")
        self._lock = asyncio.Lock()
        self._lock_timeout_s = lock_timeout_s

    async def close(self) -> None:
        for client in (*self._clients, self._lock_client):
            await client.aclose()

    async def project(self, legacy_events: list[dict[str, str]], new_events: list[dict[str, str]],
                      link36: str, fullname: str) -> tuple[dict[str, Any], dict[str, Any] | BaseException]:
        """(legacy projection, new projection or the error the legacy consumer raised on sister events)."""
        shared = self._lock_client.lock(LOCK_KEY, timeout=self._lock_timeout_s,
                                        blocking_timeout=self._lock_timeout_s, sleep=0.005)
        async with self._lock, shared:
            out: list[Any] = []
            for client, events in zip(self._clients, (legacy_events, new_events)):
                await client.flushdb()
                try:
                    for i, fields in enumerate(events):
                        await apply(client, decode_entry(f"0-{i + 1}", fields))
                    out.append(await read_projection(client, link36, [fullname]))
                except Exception as exc:  # the legacy consumer failing on sister data is the finding
                    out.append(exc)
            legacy, new = out
            if isinstance(legacy, BaseException):
                raise legacy
            return legacy, new

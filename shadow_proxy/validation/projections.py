"""`redis_cdc.legacy_read`: run the legacy consumer's apply step over each side's events.

Each side's events for the entity are applied into its own scratch Redis database on the sister
server (never production), then the legacy's projection reader snapshots them. Scratch databases
are shared, so one comparison runs at a time.
"""

from __future__ import annotations

import asyncio
from typing import Any


from legacy_adapter.readers import apply, decode_entry, read_projection
from shadow_proxy.validation.sides import redis_client


class ScratchProjections:
    def __init__(self, sister_redis_url: str, db_legacy: int = 14, db_new: int = 15) -> None:
        base = sister_redis_url.rsplit("/", 1)[0]
        self._clients = (redis_client(f"{base}/{db_legacy}"), redis_client(f"{base}/{db_new}"))
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def project(self, legacy_events: list[dict[str, str]], new_events: list[dict[str, str]],
                      link36: str, fullname: str) -> tuple[dict[str, Any], dict[str, Any] | BaseException]:
        """(legacy projection, new projection or the error the legacy consumer raised on sister events)."""
        async with self._lock:
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

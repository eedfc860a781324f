"""asyncpg access that counts every statement a request issues (the N+1 guard's evidence)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import asyncpg


@dataclass
class StatementCount:
    """Statements sent per store during one request (transaction control not included)."""

    by_store: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_store.values())


_CURRENT: ContextVar[StatementCount | None] = ContextVar("sql_statement_count", default=None)


def start_counting() -> StatementCount:
    count = StatementCount()
    _CURRENT.set(count)
    return count


def _bump(store: str) -> None:
    count = _CURRENT.get()
    if count is not None:
        count.by_store[store] = count.by_store.get(store, 0) + 1


class Sql:
    """A pool or a connection, labelled by the store it reaches; every call counts one statement."""

    def __init__(self, target: asyncpg.Pool | asyncpg.Connection, store: str) -> None:
        self._target = target
        self.store = store

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        _bump(self.store)
        return await self._target.fetch(query, *args)

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        _bump(self.store)
        return await self._target.fetchrow(query, *args)

    async def fetchval(self, query: str, *args: Any) -> Any:
        _bump(self.store)
        return await self._target.fetchval(query, *args)

    async def execute(self, query: str, *args: Any) -> str:
        _bump(self.store)
        return await self._target.execute(query, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator["Sql"]:
        """One pooled connection inside a transaction (only valid on a pool-backed Sql)."""
        assert isinstance(self._target, asyncpg.Pool)
        async with self._target.acquire() as conn:
            async with conn.transaction():
                yield Sql(conn, self.store)

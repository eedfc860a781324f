"""Forget an entity in the sister set so the rewrite re-hydrates it from production on its next write.

Used when the sister's copy can no longer match production: a write that never reached the
rewrite (shadow error, dropped), or a legacy write that committed without its CDC event. Only
ever pointed at the sister set (the caller holds sister connections; production is read-only).
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg


async def evict_comment(pool: asyncpg.Pool, memcached: tuple[str, int], comment_id: int) -> None:
    """The comment's rows and cache entry gone from the sister. The entry goes first as well as
    last: with the sister's PostgreSQL down the row delete fails, and a stale entry left behind
    would go on serving the copy that missed the write; the last delete drops an entry a read may
    have cached from the old rows in between."""
    with contextlib.suppress(OSError, asyncio.TimeoutError):
        await _mc_delete(memcached, f"comment:{comment_id}")
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM reddit_rel_vote_account_comment WHERE thing2_id = $1", comment_id)
        await conn.execute("DELETE FROM reddit_data_comment WHERE thing_id = $1", comment_id)
        await conn.execute("DELETE FROM reddit_thing_comment WHERE thing_id = $1", comment_id)
    await _mc_delete(memcached, f"comment:{comment_id}")


async def evict_link(pool: asyncpg.Pool, link_id: int) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("DELETE FROM reddit_data_link WHERE thing_id = $1", link_id)
        await conn.execute("DELETE FROM reddit_thing_link WHERE thing_id = $1", link_id)


async def _mc_delete(address: tuple[str, int], key: str, timeout: float = 2.0) -> None:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(*address), timeout)
    try:
        writer.write(f"delete {key}\r\n".encode())
        await writer.drain()
        await asyncio.wait_for(reader.readline(), timeout)  # DELETED or NOT_FOUND: both fine
    finally:
        writer.close()
        await writer.wait_closed()

"""The legacy's own readers, aimed at any store set (the harness runs them over sister data for
the `legacy_read` validation paths). Plain functions over connections and bytes.

- row loader:   PostgreSQL rows of a comment -> object -> API JSON (`render_from_rows`)
- cache reader: Memcached bytes (+ flags) -> object -> API JSON (`read_cache_value`, `render_cached`)
- CDC decoder:  stream entry -> CdcEvent (`decode_entry`)
- consumer:     `apply(redis, event)` into projections; `read_projection` snapshots them
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

import asyncpg
import redis.asyncio as aioredis

from legacy_adapter import things
from legacy_adapter.cache import PICKLE_FLAGS, loads_obj
from legacy_adapter.cdc import BadEvent, CdcEvent, decode_entry
from legacy_adapter.consumer import apply, projection_keys
from legacy_adapter.render import comment_json
from legacy_adapter.things import Obj, get_attr

__all__ = ["BadEvent", "CdcEvent", "apply", "apply_all", "comment_from_rows", "decode_entry", "load_comment", "read_cache_value",
           "read_projection", "render_cached", "render_from_rows", "render_obj"]


class NotPickled(ValueError):
    """A cache entry without the pickle flag (r2 would not unpickle it)."""


def comment_from_rows(thing_row: dict[str, Any], data_rows: list[tuple[str, str | None, str | None]]) -> Obj:
    """The row loader over rows already read (a snapshot): thing row + (key, value, kind) -> object."""
    return things.obj_from_rows(thing_row, [{"key": k, "value": v, "kind": kd} for k, v, kd in data_rows])


async def load_comment(conn: asyncpg.Connection, comment_id: int) -> Obj | None:
    """The row loader: thing row + data rows -> the comment object (None when absent)."""
    return await things.load(conn, "comment", comment_id)


async def render_obj(conn: asyncpg.Connection, obj: Obj, tz_offset: int) -> dict[str, Any]:
    """API JSON of a comment object; author and subreddit names come from `conn`'s data rows."""
    author = await things.name_of(conn, "account", get_attr("comment", obj, "author_id")) or "[deleted]"
    subreddit = await things.name_of(conn, "subreddit", get_attr("comment", obj, "sr_id")) or "[deleted]"
    return comment_json(obj, author, subreddit, tz_offset)


async def render_from_rows(conn: asyncpg.Connection, comment_id: int, tz_offset: int) -> dict[str, Any] | None:
    obj = await load_comment(conn, comment_id)
    return None if obj is None else await render_obj(conn, obj, tz_offset)


def read_cache_value(value: bytes, flags: int = PICKLE_FLAGS) -> Obj:
    """The cache reader: the bytes of `comment:<id>` -> the comment object."""
    if flags != PICKLE_FLAGS:
        raise NotPickled(f"cache flags {flags}, expected {PICKLE_FLAGS}")
    return loads_obj(value)


async def render_cached(conn: asyncpg.Connection, value: bytes, tz_offset: int, flags: int = PICKLE_FLAGS) -> dict[str, Any]:
    return await render_obj(conn, read_cache_value(value, flags), tz_offset)


async def apply_all(redis: aioredis.Redis, entries: list[tuple[Any, dict[Any, Any]]]) -> tuple[int, int]:
    """Decode and apply raw stream entries in order; (applied, skipped)."""
    applied = skipped = 0
    for entry_id, fields in entries:
        if await apply(redis, decode_entry(entry_id, fields)):
            applied += 1
        else:
            skipped += 1
    return applied, skipped


async def read_projection(redis: aioredis.Redis, link36: str, fullnames: Sequence[str] = ()) -> dict[str, Any]:
    """A comparable snapshot of one link's projections (and `applied:` of the given comments)."""
    keys = projection_keys(link36)
    # A bytes client (no decode_responses): hashes are bytes -> bytes, sorted sets (member, score).
    tree = {k.decode(): json.loads(v) for k, v in cast("dict[bytes, bytes]", await redis.hgetall(keys["tree"])).items()}
    out: dict[str, Any] = {"tree": dict(sorted(tree.items()))}
    for sort in ("top", "confidence", "controversial"):
        out[sort] = [(m.decode(), s) for m, s in cast("list[tuple[bytes, float]]", await redis.zrange(keys[sort], 0, -1, withscores=True))]
    out["applied"] = {n: int(v) if (v := await redis.get(f"applied:{n}")) is not None else None for n in fullnames}
    return out

"""The EAV thing model: defaults, the whole-object dict the cache holds, and the row SQL.

A thing object is a plain dict (exactly what Memcached holds, see docs/legacy-formats.md):
`{"_id", "_ups", "_downs", "_deleted", "_spam", "_date", "_version", "_t": {attr: value}}`
where `_t` holds only the attributes that differ from the type's defaults (= the data rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import asyncpg

from legacy_adapter.codec import decode_value, encode_value

Obj = dict[str, Any]
_MISSING = object()

# Attribute defaults per type; attributes without a default are always stored.
DEFAULTS: dict[str, dict[str, Any]] = {
    "account": {},
    "subreddit": {"comment_score_hide_mins": 0},
    "link": {"url": "", "selftext": "", "num_comments": 0, "upvote_ratio": None},
    "comment": {"parent_id": None, "editted": False, "distinguished": None, "gilded": 0, "stickied": False},
}
TYPES = tuple(DEFAULTS)


def thing_table(type_name: str) -> str:
    assert type_name in DEFAULTS
    return f"reddit_thing_{type_name}"


def data_table(type_name: str) -> str:
    assert type_name in DEFAULTS
    return f"reddit_data_{type_name}"


def is_default(type_name: str, key: str, value: Any) -> bool:
    default = DEFAULTS[type_name].get(key, _MISSING)
    # `False == 0` in Python: compare types too, so gilded=False would still be stored.
    return default is not _MISSING and type(default) is type(value) and default == value


def stored_attrs(type_name: str, attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes that get data rows (those that differ from defaults)."""
    return {k: v for k, v in attrs.items() if not is_default(type_name, k, v)}


def get_attr(type_name: str, obj: Obj, key: str) -> Any:
    return obj["_t"].get(key, DEFAULTS[type_name].get(key))


def new_obj(thing_id: int, ups: int, downs: int, date: datetime, attrs: Mapping[str, Any],
            type_name: str, deleted: bool = False, spam: bool = False, version: int = 1) -> Obj:
    return {"_id": thing_id, "_ups": ups, "_downs": downs, "_deleted": deleted, "_spam": spam,
            "_date": date, "_version": version, "_t": stored_attrs(type_name, attrs)}


def obj_from_rows(thing_row: Mapping[str, Any], data_rows: Iterable[Mapping[str, Any]]) -> Obj:
    """A thing row plus its (key, value, kind) data rows -> the object."""
    return {
        "_id": int(thing_row["thing_id"]), "_ups": int(thing_row["ups"]), "_downs": int(thing_row["downs"]),
        "_deleted": bool(thing_row["deleted"]), "_spam": bool(thing_row["spam"]),
        "_date": thing_row["date"], "_version": int(thing_row["version"]),
        "_t": {r["key"]: decode_value(r["value"], r["kind"]) for r in sorted(data_rows, key=lambda r: r["key"])},
    }


# --- SQL --------------------------------------------------------------------------------------

async def load(conn: asyncpg.Connection, type_name: str, thing_id: int, for_update: bool = False) -> Obj | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT thing_id, ups, downs, deleted, spam, date, version FROM {thing_table(type_name)} "
        f"WHERE thing_id = $1{lock}", thing_id)
    if row is None:
        return None
    data = await conn.fetch(f"SELECT key, value, kind FROM {data_table(type_name)} WHERE thing_id = $1", thing_id)
    return obj_from_rows(row, data)


async def insert(conn: asyncpg.Connection, type_name: str, obj: Obj, explicit_id: bool) -> int:
    """Insert the thing row (id from the sequence unless explicit) and its data rows; returns the id."""
    cols = "ups, downs, deleted, spam, date, version"
    args = [obj["_ups"], obj["_downs"], obj["_deleted"], obj["_spam"], obj["_date"], obj["_version"]]
    if explicit_id:
        thing_id = await conn.fetchval(
            f"INSERT INTO {thing_table(type_name)} (thing_id, {cols}) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "RETURNING thing_id", obj["_id"], *args)
    else:
        thing_id = await conn.fetchval(
            f"INSERT INTO {thing_table(type_name)} ({cols}) VALUES ($1, $2, $3, $4, $5, $6) RETURNING thing_id", *args)
    rows = [(thing_id, k, *encode_value(v)) for k, v in obj["_t"].items()]
    if rows:
        await conn.executemany(
            f"INSERT INTO {data_table(type_name)} (thing_id, key, value, kind) VALUES ($1, $2, $3, $4)", rows)
    return int(thing_id)


async def write_data_key(conn: asyncpg.Connection, type_name: str, thing_id: int, key: str, value: Any) -> None:
    """r2's per-key write: UPDATE ... WHERE thing_id AND key; INSERT when no row was updated."""
    text, kind = encode_value(value)
    status = await conn.execute(
        f"UPDATE {data_table(type_name)} SET value = $3, kind = $4 WHERE thing_id = $1 AND key = $2",
        thing_id, key, text, kind)
    if status == "UPDATE 0":
        await conn.execute(
            f"INSERT INTO {data_table(type_name)} (thing_id, key, value, kind) VALUES ($1, $2, $3, $4)",
            thing_id, key, text, kind)


async def bump_num_comments(conn: asyncpg.Connection, link_id: int) -> None:
    """Atomic increment of the link's `num_comments` data row (created at 1 when absent)."""
    await conn.execute(
        "INSERT INTO reddit_data_link (thing_id, key, value, kind) VALUES ($1, 'num_comments', '1', 'num') "
        "ON CONFLICT (thing_id, key) DO UPDATE SET value = (reddit_data_link.value::bigint + 1)::text",
        link_id)


async def find_by_name(conn: asyncpg.Connection, type_name: str, name: str) -> int | None:
    """Accounts and subreddits by their `name` data row (lowest id wins)."""
    return await conn.fetchval(
        f"SELECT min(thing_id) FROM {data_table(type_name)} WHERE key = 'name' AND value = $1", name)


async def name_of(conn: asyncpg.Connection, type_name: str, thing_id: int) -> str | None:
    return await conn.fetchval(
        f"SELECT value FROM {data_table(type_name)} WHERE thing_id = $1 AND key = 'name'", thing_id)

"""The legacy write model: create, edit and vote as r2 did them (one transaction per write, the
whole object `set` in Memcached after commit, then the CDC event). The HTTP handlers and the
seeder both go through here, so seeded data is exactly what the legacy itself would store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from legacy_adapter import things
from legacy_adapter.cdc import CdcEvent, make_event, publish
from legacy_adapter.codec import fullname
from legacy_adapter.errors import ApiError
from legacy_adapter.store import LegacyStores
from legacy_adapter.things import Obj, get_attr

EDIT_WINDOW = timedelta(seconds=180)
VOTE_TABLE = "reddit_rel_vote_account_comment"


@dataclass(frozen=True)
class Written:
    obj: Obj
    event: CdcEvent | None


def _names(obj: Obj) -> tuple[str, str, str]:
    """(comment fullname, link fullname, parent fullname) of a comment object."""
    link = fullname("link", get_attr("comment", obj, "link_id"))
    parent_id = get_attr("comment", obj, "parent_id")
    return fullname("comment", obj["_id"]), link, link if parent_id is None else fullname("comment", parent_id)


async def _emit(st: LegacyStores, type_name: str, obj: Obj, when: datetime, request_id: str,
                changes: dict[str, list[Any]]) -> CdcEvent:
    name, link, parent = _names(obj)
    event = make_event(type_name, name, link, parent, obj["_version"], when, request_id, changes)
    await publish(st.redis, st.stream, event)
    return event


async def create_comment(st: LegacyStores, author_id: int, parent_fullname: tuple[str, int], body: str,
                         when: datetime, request_id: str = "", *, thing_id: int | None = None,
                         ups: int = 1, downs: int = 0, deleted: bool = False, spam: bool = False,
                         extra: dict[str, Any] | None = None, reply_to_deleted: bool = False) -> Written:
    """A new comment under a link or a comment. `thing_id`, scores, `deleted`, `spam` and `extra`
    attributes are for the seeder (the dataset's real ids and state); the API uses defaults."""
    parent_type, parent_id = parent_fullname
    if parent_type == "link":
        link = await st.link(parent_id)
        if link is None:
            raise ApiError("NOT_FOUND", "thing_id")
        link_id, reply_to = parent_id, None
    elif parent_type == "comment":
        parent = await st.comment(parent_id)
        if parent is None:
            raise ApiError("NOT_FOUND", "thing_id")
        if parent["_deleted"] and not reply_to_deleted:  # the seeder replays history that had them
            raise ApiError("DELETED_COMMENT", "thing_id")
        link_id, reply_to = get_attr("comment", parent, "link_id"), parent_id
        link = await st.link(link_id)
        if link is None:
            raise ApiError("NOT_FOUND", "thing_id")
    else:
        raise ApiError("NO_THING_ID", "thing_id")
    attrs: dict[str, Any] = {"body": body, "author_id": author_id, "link_id": link_id,
                             "sr_id": get_attr("link", link, "sr_id"), "parent_id": reply_to, **(extra or {})}
    obj = things.new_obj(thing_id or 0, ups, downs, when, attrs, "comment", deleted=deleted, spam=spam)
    # r2 bumps the link's num_comments with `_incr`, under the link's read-modify-write lock.
    async with st.cache.lock(fullname("link", link_id)), st.pg.acquire() as conn, conn.transaction():
        obj["_id"] = await things.insert(conn, "comment", obj, explicit_id=thing_id is not None)
        await conn.execute(f"INSERT INTO {VOTE_TABLE} (thing1_id, thing2_id, name, date) VALUES ($1, $2, '1', $3)",
                           author_id, obj["_id"], when)
        await things.bump_num_comments(conn, link_id)
    await st.cache.set(obj)
    changes = {k: [None, v] for k, v in obj["_t"].items()}
    changes.update(ups=[None, obj["_ups"]], downs=[None, obj["_downs"]])
    return Written(obj, await _emit(st, "comment_created", obj, when, request_id, changes))


async def _locked_comment(st: LegacyStores, comment_id: int, field: str) -> Obj:
    obj = await st.comment(comment_id)  # r2 reloads the object from the cache under the lock
    if obj is None:
        raise ApiError("NOT_FOUND", field)
    return obj


async def edit_comment(st: LegacyStores, comment_id: int, account_id: int, body: str, when: datetime,
                       request_id: str = "") -> Written:
    async with st.cache.lock(fullname("comment", comment_id)):
        obj = await _locked_comment(st, comment_id, "thing_id")
        if get_attr("comment", obj, "author_id") != account_id:
            raise ApiError("NOT_AUTHOR", "thing_id")
        if obj["_deleted"]:
            raise ApiError("FORBIDDEN", "thing_id")  # r2: abort(403) after the author check
        wanted: dict[str, Any] = {"body": body}
        # Edits in the first 3 minutes of an unvoted comment are silent (no edit time).
        if when - obj["_date"] > EDIT_WINDOW or obj["_ups"] + obj["_downs"] > 2:
            wanted["editted"] = when
        # r2 commits only attributes whose value changes: the same text inside the window is no
        # write at all (no version, no cache write, no event); outside it only `editted` changes.
        changes: dict[str, list[Any]] = {k: [get_attr("comment", obj, k), v] for k, v in wanted.items()
                                         if get_attr("comment", obj, k) != v}
        if not changes:
            return Written(obj, None)
        async with st.pg.acquire() as conn, conn.transaction():
            for key, (_, new) in changes.items():
                await things.write_data_key(conn, "comment", comment_id, key, new)
            obj["_version"] = await conn.fetchval(
                "UPDATE reddit_thing_comment SET version = version + 1 WHERE thing_id = $1 RETURNING version",
                comment_id)
        for key, (_, new) in changes.items():
            obj["_t"][key] = new
        await st.cache.set(obj)
        return Written(obj, await _emit(st, "comment_edited", obj, when, request_id, changes))


async def vote(st: LegacyStores, comment_id: int, account_id: int, direction: int, when: datetime,
               request_id: str = "") -> Written:
    """Undo the old direction, apply the new one; the same vote again changes nothing."""
    async with st.cache.lock(fullname("comment", comment_id)):
        obj = await _locked_comment(st, comment_id, "id")
        if obj["_deleted"]:
            raise ApiError("NOT_FOUND", "id")  # r2 answers a vote on a deleted thing like a missing one
        async with st.pg.acquire() as conn, conn.transaction():
            old_name = await conn.fetchval(
                f"SELECT name FROM {VOTE_TABLE} WHERE thing1_id = $1 AND thing2_id = $2 FOR UPDATE",
                account_id, comment_id)
            old = int(old_name) if old_name is not None else 0
            if old == direction:
                return Written(obj, None)
            d_ups = (direction == 1) - (old == 1)
            d_downs = (direction == -1) - (old == -1)
            if old_name is None:
                await conn.execute(
                    f"INSERT INTO {VOTE_TABLE} (thing1_id, thing2_id, name, date) VALUES ($1, $2, $3, $4)",
                    account_id, comment_id, str(direction), when)
            else:
                await conn.execute(
                    f"UPDATE {VOTE_TABLE} SET name = $3, date = $4 WHERE thing1_id = $1 AND thing2_id = $2",
                    account_id, comment_id, str(direction), when)
            row = await conn.fetchrow(
                "UPDATE reddit_thing_comment SET ups = ups + $2, downs = downs + $3, version = version + 1 "
                "WHERE thing_id = $1 RETURNING ups, downs, version", comment_id, d_ups, d_downs)
        changes = {"ups": [row["ups"] - d_ups, row["ups"]], "downs": [row["downs"] - d_downs, row["downs"]],
                   "vote": [old, direction]}
        obj.update(_ups=row["ups"], _downs=row["downs"], _version=row["version"])
        await st.cache.set(obj)
        return Written(obj, await _emit(st, "comment_voted", obj, when, request_id, changes))

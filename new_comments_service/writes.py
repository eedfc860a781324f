"""The three writes: create, edit and vote, with their PostgreSQL, Memcached and CDC effects."""

from __future__ import annotations

from typing import Any

from new_comments_service import cdc, queries
from new_comments_service.backend import Backend, WriteIdentity
from new_comments_service.eav import ordered_attrs, row_arrays, stored_comment_attrs
from new_comments_service.errors import ApiError
from new_comments_service.hydration import Hydration, ensure_hydrated
from new_comments_service.ids import Fullname
from new_comments_service.model import CACHE_FLAGS, CACHE_TTL, Thing, cache_bytes, cache_key, cached_version, epoch_float
from new_comments_service.render import Names, Viewer, comment_object

EDIT_SILENT_S = 180
EDIT_SILENT_VOTES = 2


def edit_sets_time(age_s: float, votes: int) -> bool:
    """r2: an edit in the first 3 minutes of a comment with few votes leaves no edit mark."""
    return age_s > EDIT_SILENT_S or votes > EDIT_SILENT_VOTES


async def _after_commit(b: Backend, comment: Thing, kind: str, ident: WriteIdentity, changes: dict[str, list[Any]]) -> None:
    if kind == cdc.CREATED:
        await b.cache.set(cache_key(comment.thing_id), cache_bytes(comment), CACHE_TTL, CACHE_FLAGS)
    else:  # concurrent edits and votes: the newest version wins the cache, without a lock
        await b.cache.set_if_newer(cache_key(comment.thing_id), cache_bytes(comment), comment.version, CACHE_TTL,
                                   CACHE_FLAGS, cached_version)
    await cdc.publish(b.redis, b.stream, cdc.event_fields(kind, comment, ident.request_time, ident.request_id, changes))


async def create_comment(b: Backend, ident: WriteIdentity, user_id: int, user_name: str, parent: Fullname,
                         text: str) -> tuple[dict, Hydration | None]:
    if parent.kind == "link":
        found, names = await queries.links_by_ids(b.read_db, [parent.thing_id])
        if not found:
            raise ApiError("NOT_FOUND", "thing_id")
        link_id, sr_id, parent_comment = found[0].thing_id, found[0].sr_id, None
    else:
        found, names = await queries.comments_by_ids(b.read_db, [parent.thing_id])
        if not found:
            raise ApiError("NOT_FOUND", "thing_id")
        if found[0].deleted:
            raise ApiError("DELETED_COMMENT", "thing_id")
        link_id, sr_id, parent_comment = found[0].link_id, found[0].sr_id, found[0].thing_id
    hydration = None
    if b.tap:
        hydration = await ensure_hydrated("link", link_id, b, ident)
    attrs = stored_comment_attrs(
        {"body": text, "author_id": user_id, "link_id": link_id, "sr_id": sr_id, "parent_id": parent_comment})
    date = ident.request_time.dt
    async with b.write_db.transaction() as tx:
        comment_id = await queries.insert_comment(tx, ident.thing_id, date)
        await queries.upsert_data(tx, "comment", comment_id, *row_arrays(attrs))
        await queries.upsert_vote(tx, user_id, comment_id, 1, date)
        await queries.bump_num_comments(tx, link_id)
    comment = Thing(comment_id, 1, 0, False, False, date, 1, attrs)
    changes: dict[str, list[Any]] = {k: [None, v] for k, v in attrs.items()}
    changes.update(ups=[None, 1], downs=[None, 0])
    await _after_commit(b, comment, cdc.CREATED, ident, changes)
    names = Names({user_id: user_name}, {sr_id: names.subreddit(sr_id)})
    return comment_object(comment, names, b.tz_offset), hydration


async def edit_comment(b: Backend, ident: WriteIdentity, user_id: int, user_name: str, comment_id: int,
                       text: str) -> tuple[dict, Hydration | None]:
    """The row lock (SELECT ... FOR UPDATE) serialises concurrent writers of one comment; no
    Memcached lock is needed. Only attributes whose value changes are written; none: no write."""
    hydration = await ensure_hydrated("comment", comment_id, b, ident) if b.tap else None
    when = ident.request_time
    async with b.write_db.transaction() as tx:
        comment, _ = await queries.comment_for_update(tx, comment_id, user_id)
        if comment is None:
            raise ApiError("NOT_FOUND", "thing_id")
        if comment.author_id != user_id:
            raise ApiError("NOT_AUTHOR", "thing_id")
        if comment.deleted:
            raise ApiError("FORBIDDEN", "thing_id")
        new: dict[str, Any] = {"body": text}
        if edit_sets_time(when.seconds - epoch_float(comment.date), comment.ups + comment.downs):
            new["editted"] = when.dt
        changes: dict[str, list[Any]] = {}
        for key, value in new.items():
            old = comment.attrs.get(key, False if key == "editted" else None)
            if old != value:
                changes[key] = [old, value]
        if changes:
            await queries.upsert_data(tx, "comment", comment_id, *row_arrays({k: v[1] for k, v in changes.items()}))
            comment.version = await queries.bump_version(tx, comment_id)
    if changes:
        comment.attrs = ordered_attrs({**comment.attrs, **{k: v[1] for k, v in changes.items()}})
        await _after_commit(b, comment, cdc.EDITED, ident, changes)
    sr_name = await queries.subreddit_name(b.read_db, comment.sr_id)
    names = Names({user_id: user_name}, {comment.sr_id: sr_name} if sr_name is not None else {})
    return comment_object(comment, names, b.tz_offset, viewer=Viewer(user_name, when.seconds)), hydration


async def vote(b: Backend, ident: WriteIdentity, user_id: int, comment_id: int, direction: int) -> Hydration | None:
    """Apply `direction`; the same vote again changes nothing (no version bump, no event)."""
    hydration = await ensure_hydrated("comment", comment_id, b, ident, voter_id=user_id) if b.tap else None
    date = ident.request_time.dt
    async with b.write_db.transaction() as tx:
        comment, stored = await queries.comment_for_update(tx, comment_id, user_id)
        if comment is None or comment.deleted:  # a deleted comment is answered like a missing one
            raise ApiError("NOT_FOUND", "id")
        old = int(stored) if stored is not None else 0
        if old == direction:
            return hydration
        ups_delta = int(direction == 1) - int(old == 1)
        downs_delta = int(direction == -1) - int(old == -1)
        ups, downs, version = await queries.apply_votes(tx, comment_id, ups_delta, downs_delta)
        await queries.upsert_vote(tx, user_id, comment_id, direction, date)
    changes = {"ups": [comment.ups, ups], "downs": [comment.downs, downs], "vote": [old, direction]}
    comment.ups, comment.downs, comment.version = ups, downs, version
    await _after_commit(b, comment, cdc.VOTED, ident, changes)
    return hydration

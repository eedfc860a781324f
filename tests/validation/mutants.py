"""Eighteen mutants of the rewrite: each injects one divergence aimed at one validation path.

A mutant lists the paths it touches: the one it is aimed at, plus any path its divergence
necessarily shows up on too (a reader that fails on sister data also means the raw form differs,
so `legacy_read` mutants touch their store's `parity` as well). The harness must flag the aimed
path and nothing outside the touched set. Mutants patch the running rewrite in-process.
"""

from __future__ import annotations

import contextvars
import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from new_comments_service import cdc, queries, writes

CREATED, EDITED, VOTED = cdc.CREATED, cdc.EDITED, cdc.VOTED
_in_vote: contextvars.ContextVar[bool] = contextvars.ContextVar("in_vote", default=False)


@dataclass(frozen=True)
class Mutant:
    path: str
    what: str
    apply: Callable[[pytest.MonkeyPatch], None]
    also_touches: tuple[str, ...] = ()
    edit_after_s: float = 200.0

    @property
    def touched(self) -> set[str]:
        return {self.path, *self.also_touches}


def _after_commit(kind: str, *, cache: Callable[..., tuple[bytes, int, int]] | None = None,
                  event: Callable[[dict[str, str]], dict[str, str]] | None = None):
    """Replace writes._after_commit: the same cache set and CDC publish, one of them bent for `kind`."""
    def patch(mp: pytest.MonkeyPatch) -> None:
        async def after_commit(b, comment, k, ident, changes) -> None:
            value, ttl, flags = writes.cache_bytes(comment), writes.CACHE_TTL, writes.CACHE_FLAGS
            fields = cdc.event_fields(k, comment, ident.request_time, ident.request_id, changes)
            if k == kind:
                if cache:
                    value, ttl, flags = cache(value, ttl, flags)
                if event:
                    fields = event(dict(fields))
            await b.cache.set(writes.cache_key(comment.thing_id), value, ttl, flags)
            await cdc.publish(b.redis, b.stream, fields)
        mp.setattr(writes, "_after_commit", after_commit)
    return patch


def _cache_obj(edit: Callable[[dict[str, Any]], None], protocol: int = 2) -> Callable[..., tuple[bytes, int, int]]:
    def bend(value: bytes, ttl: int, flags: int) -> tuple[bytes, int, int]:
        obj = pickle.loads(value)
        edit(obj)
        return pickle.dumps(obj, protocol=protocol), ttl, flags
    return bend


def _upsert_data(predicate: Callable[[list[str]], bool], bend: Callable[[list, list, list], None]):
    def patch(mp: pytest.MonkeyPatch) -> None:
        original = queries.upsert_data

        async def upsert_data(tx, kind, thing_id, keys, vals, kinds) -> None:
            keys, vals, kinds = list(keys), list(vals), list(kinds)
            if kind == "comment" and predicate(keys):
                bend(keys, vals, kinds)
            await original(tx, kind, thing_id, keys, vals, kinds)
        mp.setattr(queries, "upsert_data", upsert_data)
    return patch


def _creating(keys: list[str]) -> bool:
    return "author_id" in keys


def _editing(keys: list[str]) -> bool:
    return "author_id" not in keys and "body" in keys


def _add_default_row(keys: list, vals: list, kinds: list) -> None:
    keys.append("gilded"), vals.append("0"), kinds.append("num")


def _kind_of(key: str, kind: str) -> Callable[[list, list, list], None]:
    def bend(keys: list, vals: list, kinds: list) -> None:
        kinds[keys.index(key)] = kind
    return bend


def _body_pickled(keys: list, vals: list, kinds: list) -> None:
    i = keys.index("body")
    vals[i], kinds[i] = pickle.dumps(vals[i], protocol=0).decode("latin-1"), "pickle"


def _vote_row_plus(mp: pytest.MonkeyPatch) -> None:
    original_vote, original_upsert = writes.vote, queries.upsert_vote

    async def vote(*args, **kw):
        token = _in_vote.set(True)
        try:
            return await original_vote(*args, **kw)
        finally:
            _in_vote.reset(token)

    async def upsert_vote(tx, account_id, comment_id, direction, date) -> None:
        if _in_vote.get() and direction == 1:
            await tx.execute("INSERT INTO reddit_rel_vote_account_comment (thing1_id, thing2_id, name, date) "
                             "VALUES ($1, $2, '+1', $3) ON CONFLICT (thing1_id, thing2_id) DO UPDATE SET name = '+1', "
                             "date = EXCLUDED.date", account_id, comment_id, date)
            return
        await original_upsert(tx, account_id, comment_id, direction, date)
    mp.setattr(writes, "vote", vote)  # the handlers call writes.vote through the module
    mp.setattr(queries, "upsert_vote", upsert_vote)


def _double_increment(mp: pytest.MonkeyPatch) -> None:
    original = queries.apply_votes

    async def apply_votes(tx, comment_id, ups_delta, downs_delta):
        return await original(tx, comment_id, ups_delta * 2, downs_delta * 2)
    mp.setattr(queries, "apply_votes", apply_votes)


def _edit_window_off_by_one(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(writes, "EDIT_SILENT_S", writes.EDIT_SILENT_S - 1)


def _changes_spaced(fields: dict[str, str]) -> dict[str, str]:
    fields["changes"] = json.dumps(json.loads(fields["changes"]), sort_keys=True)  # ", " and ": "
    return fields


def _rename(old: str, new: str) -> Callable[[dict[str, str]], dict[str, str]]:
    def bend(fields: dict[str, str]) -> dict[str, str]:
        fields[new] = fields.pop(old)
        return fields
    return bend


def _set(key: str, fn: Callable[[str], str]) -> Callable[[dict[str, str]], dict[str, str]]:
    def bend(fields: dict[str, str]) -> dict[str, str]:
        fields[key] = fn(fields[key])
        return fields
    return bend


def _vote_as_strings(fields: dict[str, str]) -> dict[str, str]:
    changes = json.loads(fields["changes"])
    changes["vote"] = [str(v) for v in changes["vote"]]
    fields["changes"] = json.dumps(changes, sort_keys=True, separators=(",", ":"))
    return fields


def _body_bytes(obj: dict[str, Any]) -> None:
    obj["_t"]["body"] = obj["_t"]["body"].encode("utf-8")


def _stale(key: str) -> Callable[[dict[str, Any]], None]:
    def edit(obj: dict[str, Any]) -> None:
        obj[key] -= 1
    return edit


def _same(obj: dict[str, Any]) -> None:
    return None


def _pair(endpoint: str, store: str) -> tuple[str, ...]:
    return (f"{endpoint}.{store}.parity",)


MUTANTS: tuple[Mutant, ...] = (
    Mutant("create.postgres.parity", "a default-valued attribute stored as a row (gilded=0)",
           _upsert_data(_creating, _add_default_row)),
    # The rewrite reads its own rows back too: with a string author it refuses the author's edit.
    Mutant("create.postgres.legacy_read", "author_id stored with kind 'str'",
           _upsert_data(_creating, _kind_of("author_id", "str")), ("create.postgres.parity", "update.response")),
    Mutant("create.memcached.parity", "cache entry pickled at protocol 4",
           _after_commit(CREATED, cache=_cache_obj(_same, protocol=4))),
    Mutant("create.memcached.legacy_read", "cache flags 0 (not marked as pickled)",
           _after_commit(CREATED, cache=lambda v, ttl, flags: (v, ttl, 0)), _pair("create", "memcached")),
    Mutant("create.redis_cdc.parity", "changes JSON written with spaces",
           _after_commit(CREATED, event=_changes_spaced)),
    Mutant("create.redis_cdc.legacy_read", "CDC field `parent` renamed `parent_id`",
           _after_commit(CREATED, event=_rename("parent", "parent_id")), _pair("create", "redis_cdc")),
    Mutant("update.postgres.parity", "edited body stored pickled (kind 'pickle') instead of as text",
           _upsert_data(_editing, _body_pickled)),
    Mutant("update.postgres.legacy_read", "the edit-time rule off by a second",
           _edit_window_off_by_one,
           ("update.postgres.parity", "update.memcached.parity", "update.memcached.legacy_read",
            "update.redis_cdc.parity", "update.response"), edit_after_s=180.0),
    Mutant("update.memcached.parity", "cache entry without TTL",
           _after_commit(EDITED, cache=lambda v, ttl, flags: (v, 0, flags))),
    Mutant("update.memcached.legacy_read", "cached body stored as UTF-8 bytes",
           _after_commit(EDITED, cache=_cache_obj(_body_bytes)), _pair("update", "memcached")),
    Mutant("update.redis_cdc.parity", "CDC ts with 3 decimals",
           _after_commit(EDITED, event=_set("ts", lambda ts: f"{float(ts):.3f}"))),
    Mutant("update.redis_cdc.legacy_read", "CDC type `comment_updated`",
           _after_commit(EDITED, event=_set("type", lambda _: "comment_updated")), _pair("update", "redis_cdc")),
    Mutant("increment.postgres.parity", "vote row direction stored as '+1'", _vote_row_plus),
    Mutant("increment.postgres.legacy_read", "a double increment", _double_increment,
           ("increment.postgres.parity", "increment.memcached.parity", "increment.memcached.legacy_read",
            "increment.redis_cdc.parity", "increment.redis_cdc.legacy_read")),
    Mutant("increment.memcached.parity", "cached _version not bumped",
           _after_commit(VOTED, cache=_cache_obj(_stale("_version")))),
    Mutant("increment.memcached.legacy_read", "cached _ups stale",
           _after_commit(VOTED, cache=_cache_obj(_stale("_ups"))), _pair("increment", "memcached")),
    Mutant("increment.redis_cdc.parity", "vote directions as strings in changes",
           _after_commit(VOTED, event=_vote_as_strings)),
    Mutant("increment.redis_cdc.legacy_read", "CDC version one ahead of its event_id",
           _after_commit(VOTED, event=_set("version", lambda v: str(int(v) + 1))), _pair("increment", "redis_cdc")),
)

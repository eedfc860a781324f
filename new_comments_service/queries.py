"""Every SQL statement the service sends. Reads fetch a thing, its data rows (as arrays) and the
names it renders with in one statement, so a thread is two statements however large it is."""

from __future__ import annotations

from typing import Any

from new_comments_service.model import Thing
from new_comments_service.render import Names
from new_comments_service.sql import Sql

_NAMES = """,
  (SELECT a.value FROM reddit_data_account a WHERE a.key = 'name'
     AND a.thing_id = (d.vals[array_position(d.keys, 'author_id')])::bigint) AS author_name,
  (SELECT s.value FROM reddit_data_subreddit s WHERE s.key = 'name'
     AND s.thing_id = (d.vals[array_position(d.keys, 'sr_id')])::bigint) AS sr_name,
  (SELECT h.value FROM reddit_data_subreddit h WHERE h.key = 'comment_score_hide_mins'
     AND h.thing_id = (d.vals[array_position(d.keys, 'sr_id')])::bigint) AS sr_hide_mins"""


_VOTE = """,
  (SELECT v.name FROM reddit_rel_vote_account_comment v WHERE v.thing1_id = $2 AND v.thing2_id = t.thing_id) AS vote"""


def _things(kind: str, where: str, extra: str = _NAMES, suffix: str = "") -> str:
    return f"""
SELECT t.thing_id, t.ups, t.downs, t.deleted, t.spam, t.date, t.version, d.keys, d.vals, d.kinds{extra}
FROM reddit_thing_{kind} t
CROSS JOIN LATERAL (
  SELECT array_agg(x.key ORDER BY x.key) AS keys, array_agg(x.value ORDER BY x.key) AS vals,
         array_agg(x.kind ORDER BY x.key) AS kinds
  FROM reddit_data_{kind} x WHERE x.thing_id = t.thing_id) d
WHERE {where}{suffix}"""


_COMMENTS_BY_IDS = _things("comment", "t.thing_id = ANY($1::bigint[])")
_LINKS_BY_IDS = _things("link", "t.thing_id = ANY($1::bigint[])")
_THREAD = _things("comment", "t.thing_id IN (SELECT l.thing_id FROM reddit_data_comment l "
                             "WHERE l.key = 'link_id' AND l.value = $1)")
_COMMENT_FOR_UPDATE = _things("comment", "t.thing_id = $1", extra=_VOTE, suffix="\nFOR UPDATE OF t")


def _with_names(records: list[Any]) -> tuple[list[Thing], Names]:
    things, accounts, subreddits, hide = [], {}, {}, {}
    for rec in records:
        thing = Thing.from_record(rec)
        things.append(thing)
        if rec["author_name"] is not None:
            accounts[thing.attrs["author_id"]] = rec["author_name"]
        if rec["sr_name"] is not None:
            subreddits[thing.attrs["sr_id"]] = rec["sr_name"]
        if rec["sr_hide_mins"] is not None:
            hide[thing.attrs["sr_id"]] = int(rec["sr_hide_mins"])
    return things, Names(accounts, subreddits, hide)


async def comments_by_ids(db: Sql, ids: list[int]) -> tuple[list[Thing], Names]:
    return _with_names(await db.fetch(_COMMENTS_BY_IDS, ids))


async def links_by_ids(db: Sql, ids: list[int]) -> tuple[list[Thing], Names]:
    return _with_names(await db.fetch(_LINKS_BY_IDS, ids))


async def thread(db: Sql, link_id: int) -> tuple[list[Thing], Names]:
    """Every comment of a link (link_id is stored as kind num, i.e. its decimal text)."""
    return _with_names(await db.fetch(_THREAD, str(link_id)))


async def account_id(db: Sql, name: str) -> int | None:
    return await db.fetchval(
        "SELECT thing_id FROM reddit_data_account WHERE key = 'name' AND value = $1 ORDER BY thing_id LIMIT 1", name)


async def subreddit_name(db: Sql, sr_id: int) -> str | None:
    return await db.fetchval("SELECT value FROM reddit_data_subreddit WHERE thing_id = $1 AND key = 'name'", sr_id)


# --- writes (always on one connection inside a transaction) ---

async def comment_for_update(tx: Sql, comment_id: int, voter_id: int) -> tuple[Thing | None, str | None]:
    """The comment row locked for this transaction, and `voter_id`'s vote on it."""
    rec = await tx.fetchrow(_COMMENT_FOR_UPDATE, comment_id, voter_id)
    if rec is None:
        return None, None
    return Thing.from_record(rec), rec["vote"]


async def insert_comment(tx: Sql, thing_id: int | None, date: Any) -> int:
    if thing_id is None:
        return await tx.fetchval(
            "INSERT INTO reddit_thing_comment (ups, downs, deleted, spam, date, version) "
            "VALUES (1, 0, false, false, $1, 1) RETURNING thing_id", date)
    return await tx.fetchval(
        "INSERT INTO reddit_thing_comment (thing_id, ups, downs, deleted, spam, date, version) "
        "VALUES ($1, 1, 0, false, false, $2, 1) RETURNING thing_id", thing_id, date)


async def upsert_data(tx: Sql, kind: str, thing_id: int, keys: list[str], vals: list[str | None], kinds: list[str]) -> None:
    """All changed data rows in one statement (update where a row exists, insert where none)."""
    await tx.execute(
        f"INSERT INTO reddit_data_{kind} (thing_id, key, value, kind) "
        "SELECT $1, u.k, u.v, u.kd FROM unnest($2::text[], $3::text[], $4::text[]) AS u(k, v, kd) "
        "ON CONFLICT (thing_id, key) DO UPDATE SET value = EXCLUDED.value, kind = EXCLUDED.kind",
        thing_id, keys, vals, kinds)


async def upsert_vote(tx: Sql, account_id: int, comment_id: int, direction: int, date: Any) -> None:
    await tx.execute(
        "INSERT INTO reddit_rel_vote_account_comment (thing1_id, thing2_id, name, date) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (thing1_id, thing2_id) DO UPDATE SET name = EXCLUDED.name, date = EXCLUDED.date",
        account_id, comment_id, str(direction), date)


async def bump_num_comments(tx: Sql, link_id: int) -> None:
    """Atomic, and creates the row on the first comment (0 is the default, so it had none)."""
    await tx.execute(
        "INSERT INTO reddit_data_link (thing_id, key, value, kind) VALUES ($1, 'num_comments', '1', 'num') "
        "ON CONFLICT (thing_id, key) DO UPDATE "
        "SET value = (COALESCE(reddit_data_link.value, '0')::bigint + 1)::text, kind = 'num'", link_id)


async def apply_votes(tx: Sql, comment_id: int, ups_delta: int, downs_delta: int) -> tuple[int, int, int]:
    rec = await tx.fetchrow(
        "UPDATE reddit_thing_comment SET ups = ups + $2, downs = downs + $3, version = version + 1 "
        "WHERE thing_id = $1 RETURNING ups, downs, version", comment_id, ups_delta, downs_delta)
    assert rec is not None, f"comment {comment_id} vanished under its row lock"  # the caller locked it
    return rec["ups"], rec["downs"], rec["version"]


async def bump_version(tx: Sql, comment_id: int) -> int:
    return await tx.fetchval(
        "UPDATE reddit_thing_comment SET version = version + 1 WHERE thing_id = $1 RETURNING version", comment_id)

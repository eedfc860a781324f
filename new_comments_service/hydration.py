"""Tap-mode hydration: copy an entity the sister set lacks from production (read-only) first.

The shadowed write arrives *after* the legacy applied it to production, so a plain copy already
contains this very write and applying it again would double it (a second num_comments bump, a
vote counted twice, an edit with the wrong old body). We hydrate the state from *before* it:

- link (for a create): production's num_comments minus every create the legacy committed on the
  link from this one on (found on production's stream, read only): each of those reaches the sister
  through its own shadowed write, which will count it again. The count must describe the row's
  snapshot, so the copy waits (bounded) while the stream moves during the read or still lacks a
  create the row holds;
- comment (for an edit or a vote): the legacy's own event for this request (matched by fullname,
  type, `ts` = the carried X-Tap-Request-Time and `request_id`) and every later event of the comment
  are undone, newest first: version back to before this write, old ups/downs and each voter's old
  direction (a later vote's voter is the vote row dated at that vote's time), old body/editted.

The legacy commits a write before it publishes its event, so a later write can already be in
production's row while its event is not on the stream yet; rewinding then would miss it (the vote
would be counted twice). So the copy waits (briefly, bounded) until the comment's newest event on
the stream carries the row's version, re-reading both; past the bound the copy is `raced`.

What remains: an event trimmed from the stream, or a write with no carried time, gives `current`
(copied as is: the write is already in it, so the comparison must not count it as the rewrite's).
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal, cast

from new_comments_service.eav import decode, encode
from new_comments_service.ids import comment_fullname, to36

if TYPE_CHECKING:
    from new_comments_service.backend import Backend, WriteIdentity

EVENT_SCAN = 2000  # how far back on production's stream we look for the legacy's event
CATCH_UP_S = 2.0   # how long a copy waits for production's stream to catch up with its row
CATCH_UP_POLL_S = 0.01
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class Hydration(str, Enum):
    PRESENT = "present"    # the sister set already had it: nothing copied
    REWOUND = "rewound"    # copied, as it was just before the shadowed write
    CURRENT = "current"    # copied as production has it now (the write's effect is already in it)
    RACED = "raced"        # copied and rewound, but production changed it again since
    ABSENT = "absent"      # production does not have it either


_SOURCE = {
    kind: f"""
SELECT t.thing_id, t.ups, t.downs, t.deleted, t.spam, t.date, t.version,
  ARRAY(SELECT x.key FROM reddit_data_{kind} x WHERE x.thing_id = t.thing_id ORDER BY x.key) AS keys,
  ARRAY(SELECT x.value FROM reddit_data_{kind} x WHERE x.thing_id = t.thing_id ORDER BY x.key) AS vals,
  ARRAY(SELECT x.kind FROM reddit_data_{kind} x WHERE x.thing_id = t.thing_id ORDER BY x.key) AS kinds,
  {extra}
FROM reddit_thing_{kind} t WHERE t.thing_id = $1"""
    for kind, extra in (
        # this create and every later one on the link, in the same snapshot as num_comments
        ("link", "ARRAY(SELECT c.thing_id FROM reddit_data_comment c WHERE c.thing_id >= $2 AND c.key = 'link_id' "
                 "AND c.value = t.thing_id::text ORDER BY c.thing_id) AS created_since"),
        ("comment", "ARRAY(SELECT v.thing1_id FROM reddit_rel_vote_account_comment v WHERE v.thing2_id = t.thing_id "
                    "ORDER BY v.rel_id) AS voters,\n"
                    "  ARRAY(SELECT v.name FROM reddit_rel_vote_account_comment v WHERE v.thing2_id = t.thing_id "
                    "ORDER BY v.rel_id) AS directions,\n"
                    "  ARRAY(SELECT v.date FROM reddit_rel_vote_account_comment v WHERE v.thing2_id = t.thing_id "
                    "ORDER BY v.rel_id) AS vote_dates"),
    )
}


async def ensure_hydrated(kind: Literal["link", "comment"], thing_id: int, b: "Backend",
                          ident: "WriteIdentity", voter_id: int | None = None) -> Hydration:
    """Make sure the sister set holds `thing_id`, copied from production as before this write."""
    if await b.write_db.fetchval(f"SELECT 1 FROM reddit_thing_{kind} WHERE thing_id = $1", thing_id):
        return Hydration.PRESENT
    # no carried id: no create of the link is this one's (2**62 matches none, and scans nothing)
    args: tuple[Any, ...] = (thing_id, ident.thing_id or 2**62) if kind == "link" else (thing_id,)
    on_stream = ident.tapped and b.production_redis is not None
    deadline = time.monotonic() + CATCH_UP_S
    while True:
        # A link's rewind counts creates on the stream: read it on both sides of the row, so a
        # create committed and published in between (in the count, not in the row) is seen.
        first = await _production_events(b) if on_stream and kind == "link" else None
        rec = await b.read_db.fetchrow(_SOURCE[kind], *args)
        if rec is None:
            return Hydration.ABSENT
        events = await _production_events(b) if ident.tapped else []
        since = _comment_events_since(events, thing_id, ident) if kind == "comment" else []
        if kind == "link":
            # the stream moved while the row was read, or a create in the row is not on it yet
            behind = first is not None and (_link_creates_since(first, thing_id, ident) !=
                                            _link_creates_since(events, thing_id, ident)
                                            or _unpublished(rec, events, thing_id))
        else:
            # A comment's own event found, but the row is newer than the newest event: a later
            # write committed and has not been published yet. Wait for it (never past the deadline).
            behind = bool(since) and int(since[-1].get("version") or 0) < int(rec["version"] or 0)
        if not behind or time.monotonic() >= deadline:
            break
        await asyncio.sleep(CATCH_UP_POLL_S)
    row = {k: rec[k] for k in ("thing_id", "ups", "downs", "deleted", "spam", "date", "version")}
    # Data rows are copied verbatim (value text and kind), never decoded and re-encoded: a
    # re-pickled value could differ from the legacy's bytes. Only rewound keys are re-encoded.
    data: dict[str, tuple[str | None, str | None]] = dict(zip(rec["keys"], zip(rec["vals"], rec["kinds"])))
    votes: list[list[Any]] = []
    if kind == "link":
        outcome = _rewind_link(data, _link_creates_since(events, thing_id, ident),
                               ident.thing_id is not None and ident.thing_id in rec["created_since"])
        if behind and outcome is Hydration.REWOUND:
            outcome = Hydration.RACED
    else:
        votes = [list(v) for v in zip(rec["voters"], rec["directions"], rec["vote_dates"])]
        outcome = Hydration.CURRENT if not since else _rewind_comment(row, data, votes, since, voter_id)
        if behind:
            outcome = Hydration.RACED
    await _copy(b, kind, row, data, votes)
    return outcome


def _rewind_link(data: dict[str, tuple[str | None, str | None]], creates_since: int | None, has_created: bool) -> Hydration:
    """num_comments as before this create: minus every create the legacy committed on the link from
    this one on (each of them reaches the sister through its own shadowed write)."""
    if creates_since is None:
        if not has_created:
            return Hydration.CURRENT
        creates_since = 1  # the legacy's event is gone from the stream: rewind this create alone
    left = decode(*data.get("num_comments", ("0", "num"))) - creates_since
    if left > 0:
        data["num_comments"] = encode(left)
    else:
        data.pop("num_comments", None)  # 0 is the default: no row
    return Hydration.REWOUND


async def _production_events(b: "Backend") -> list[dict[str, str]]:
    """The newest EVENT_SCAN entries of production's stream (read only), oldest first."""
    if b.production_redis is None:
        return []
    # A bytes client (no decode_responses): entries are (id, {field: value}) of bytes.
    entries = cast("list[tuple[bytes, dict[bytes, bytes]]]",
                   await b.production_redis.xrevrange(b.stream, count=EVENT_SCAN))
    return [{k.decode(): v.decode() for k, v in raw.items()} for _, raw in reversed(entries)]


def _link_creates_since(events: list[dict[str, str]], link_id: int, ident: "WriteIdentity") -> int | None:
    """Creates on the link at or after the legacy's event for this create; None when it is not found."""
    if ident.thing_id is None:
        return None
    own = comment_fullname(ident.thing_id)
    link = f"t3_{to36(link_id)}"
    creates = [e for e in events if e.get("type") == "comment_created" and e.get("link") == link]
    names = [e.get("fullname") for e in creates]
    return len(names) - names.index(own) if own in names else None


def _unpublished(rec: Any, events: list[dict[str, str]], link_id: int) -> bool:
    """A create at or after this one is in production's row snapshot but not on its stream yet
    (the legacy commits, then publishes): the rewind would not count it."""
    link = f"t3_{to36(link_id)}"
    published = {e.get("fullname") for e in events if e.get("type") == "comment_created" and e.get("link") == link}
    return any(comment_fullname(i) not in published for i in rec["created_since"])


def _comment_events_since(events: list[dict[str, str]], thing_id: int, ident: "WriteIdentity") -> list[dict[str, str]]:
    """The legacy's event for this write and every later event of the comment (oldest first)."""
    fullname = comment_fullname(thing_id)
    mine = [e for e in events if e.get("fullname") == fullname]
    for i, fields in enumerate(mine):
        if fields.get("ts") != ident.request_time.text or fields.get("type") not in ("comment_edited", "comment_voted"):
            continue
        if ident.request_id and fields.get("request_id") not in ("", ident.request_id):
            continue
        return mine[i:]
    return []


def _from_epoch(seconds: float) -> datetime:
    return _EPOCH + timedelta(microseconds=round(seconds * 1_000_000))


def _rewind_comment(row: dict[str, Any], data: dict[str, tuple[str | None, str | None]], votes: list[list[Any]],
                    since: list[dict[str, str]], voter_id: int | None) -> Hydration:
    """Undo this write's event and every later one, newest first: all of them will be applied to the
    sister by their own shadowed writes. This vote's voter is the request's user; a later vote's is
    the vote row dated at its time."""
    rewound: set[int] = set()  # vote rows already moved back past a later vote of the same voter
    for n, event in enumerate(reversed(since)):
        own = n == len(since) - 1
        changes = json.loads(event["changes"])
        if event["type"] == "comment_voted":
            row["ups"], row["downs"] = changes["ups"][0], changes["downs"][0]
            old_dir, new_dir = changes["vote"]
            when = _from_epoch(float(event["ts"]))
            # The voter of a later vote is the row dated at its time; a row carries only its newest
            # date, so a voter who voted again later is the row already rewound to this direction.
            candidates = [i for i, vote in enumerate(votes) if vote[1] == str(new_dir)]
            if own:
                match = [i for i in candidates if votes[i][0] == voter_id]
            else:
                match = ([i for i in candidates if votes[i][2] == when and i not in rewound]
                         or [i for i in candidates if i in rewound])
            if match:
                votes[match[0]][1] = str(old_dir)
                rewound.add(match[0])
        else:
            data["body"] = encode(changes["body"][0])
            if "editted" in changes:
                old = changes["editted"][0]
                if old is False or old is None:
                    data.pop("editted", None)
                else:
                    data["editted"] = encode(_from_epoch(old))
    row["version"] = int(since[0]["version"]) - 1
    return Hydration.RACED if len(since) > 1 else Hydration.REWOUND


async def _copy(b: "Backend", kind: str, row: dict[str, Any], data: dict[str, tuple[str | None, str | None]],
                votes: list[list[Any]]) -> None:
    """Thing, data and vote rows in one transaction; a concurrent hydration of the same id wins or waits."""
    keys = list(data)
    vals = [data[k][0] for k in keys]
    kinds = [data[k][1] for k in keys]
    async with b.write_db.transaction() as tx:
        inserted = await tx.fetchval(
            f"INSERT INTO reddit_thing_{kind} (thing_id, ups, downs, deleted, spam, date, version) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (thing_id) DO NOTHING RETURNING thing_id",
            row["thing_id"], row["ups"], row["downs"], row["deleted"], row["spam"], row["date"], row["version"])
        if inserted is None:
            return
        if keys:
            await tx.execute(
                f"INSERT INTO reddit_data_{kind} (thing_id, key, value, kind) "
                "SELECT $1, u.k, u.v, u.kd FROM unnest($2::text[], $3::text[], $4::text[]) AS u(k, v, kd)",
                row["thing_id"], keys, vals, kinds)
        if votes:
            await tx.execute(
                "INSERT INTO reddit_rel_vote_account_comment (thing1_id, thing2_id, name, date) "
                "SELECT u.a, $1, u.n, u.d FROM unnest($2::bigint[], $3::text[], $4::timestamptz[]) AS u(a, n, d) "
                "ON CONFLICT (thing1_id, thing2_id) DO NOTHING",
                row["thing_id"], [v[0] for v in votes], [v[1] for v in votes], [v[2] for v in votes])

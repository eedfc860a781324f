"""Seed a store set from Reddit thread files, through the legacy model.

Choices (see docs in the module functions):
- ids: the dataset's real base36 ids for comments, links and subreddits; the sequences are then
  set above the maximum so new things never collide. Accounts get sequence ids.
- authors: anonymised as `user_` + the first 10 hex digits of sha256(name); `[deleted]` stays.
- scores: a score s >= 1 becomes ups=s, downs=0; s <= 0 becomes ups=1, downs=1-s (the author's
  own upvote is always counted, matching the self-vote row every create writes).
- `[deleted]` bodies: deleted=true; `[removed]` bodies: spam=true (a moderator removal, rendered
  `[removed]`); the database keeps the real body when another recorded snapshot of the comment
  still had it (r2 keeps it too), else the marker.
- a post's `upvote_ratio`, where recorded, is stored on the link as a float.
- a comment whose parent is missing from a partial thread is skipped with its descendants and
  counted in `SeedReport.orphans_skipped` (re-parenting would invent structure).
- a thread without a post file gets a synthesized link (author `[deleted]`, earliest comment time).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from legacy_adapter import model, things
from legacy_adapter.codec import dt_from_epoch, from36
from legacy_adapter.consumer import Consumer
from legacy_adapter.store import LegacyStores

DELETED_MARKERS = ("[deleted]", "[removed]")
ACCOUNT_DATE = dt_from_epoch(1119484800.0)  # 2005-06-23: accounts are not rendered; a fixed date


def anonymise(name: str) -> str:
    if name == "[deleted]":
        return name
    return "user_" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]


def score_to_votes(score: int) -> tuple[int, int]:
    return (score, 0) if score >= 1 else (1, 1 - score)


@dataclass
class SeedReport:
    threads: list[str] = field(default_factory=list)
    comments: int = 0
    deleted: int = 0
    edited: int = 0
    orphans_skipped: int = 0
    accounts: int = 0
    links_synthesized: int = 0
    threads_already_present: int = 0
    events_applied: int = 0


def load_thread(ndjson: Path) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    rows = [json.loads(line) for line in ndjson.read_text(encoding="utf-8").splitlines() if line.strip()]
    post_path = ndjson.with_name(ndjson.name.replace(".ndjson", ".post.json"))
    post = json.loads(post_path.read_text(encoding="utf-8")) if post_path.exists() else None
    return rows, post


def _live_version(row: dict[str, Any]) -> tuple[str, str]:
    """(body, author) to store: the recorded ones, or a live snapshot's for deleted comments."""
    body, author = row["body"], row["author"]
    if body in DELETED_MARKERS:
        for snap in row.get("_other_snapshots") or []:
            if snap.get("body") not in DELETED_MARKERS and snap.get("body"):
                return snap["body"], snap["author"] if snap.get("author") != "[deleted]" else author
    return body, author


def creation_order(rows: list[dict[str, Any]], link_full: str) -> tuple[list[dict[str, Any]], int]:
    """Rows by (created_utc, id), parents always before children; orphan subtrees dropped."""
    by_id = {r["id"]: r for r in rows}
    kids: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for r in rows:
        if r["parent_id"] == link_full:
            roots.append(r)
        else:
            kids.setdefault(r["parent_id"][3:], []).append(r)
    reachable: list[dict[str, Any]] = []
    stack = list(roots)
    while stack:
        r = stack.pop()
        reachable.append(r)
        stack.extend(kids.get(r["id"], []))
    order_key = lambda r: (r["created_utc"], from36(r["id"]))  # noqa: E731
    done: set[str] = set()
    out: list[dict[str, Any]] = []
    pending = sorted(reachable, key=order_key)
    while pending:  # a child recorded as older than its parent waits for it
        later = []
        for r in pending:
            parent = r["parent_id"]
            if parent == link_full or parent[3:] in done:
                out.append(r)
                done.add(r["id"])
            else:
                later.append(r)
        pending = later
    return out, len(by_id) - len(reachable)


def _ratio(value: Any) -> float | None:
    """A recorded upvote ratio, stored as a float (an EAV `num` row)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


async def _account(st: LegacyStores, name: str, report: SeedReport) -> int:
    async with st.pg.acquire() as conn:
        found = await things.find_by_name(conn, "account", name)
        if found is not None:
            return found
        report.accounts += 1
        obj = things.new_obj(0, 0, 0, ACCOUNT_DATE, {"name": name}, "account")
        return await things.insert(conn, "account", obj, explicit_id=False)


async def _ensure(st: LegacyStores, type_name: str, thing_id: int, date: datetime, attrs: dict[str, Any],
                  ups: int = 0, downs: int = 0) -> bool:
    async with st.pg.acquire() as conn:
        if await conn.fetchval(f"SELECT 1 FROM {things.thing_table(type_name)} WHERE thing_id = $1", thing_id):
            return False
        await things.insert(conn, type_name, things.new_obj(thing_id, ups, downs, date, attrs, type_name), True)
        return True


async def seed_thread(st: LegacyStores, ndjson: Path, report: SeedReport) -> None:
    rows, post = load_thread(ndjson)
    link_full = ndjson.name.split(".")[0]
    link_id = from36(link_full[3:])
    first = rows[0] if rows else {}
    sr_id = from36(((post or first).get("subreddit_id") or "t5_1")[3:])
    await _ensure(st, "subreddit", sr_id, ACCOUNT_DATE, {"name": (post or first).get("subreddit", "unknown")})
    if post is None:
        report.links_synthesized += 1
        post = {"title": f"[post {link_full[3:]} not recorded]", "author": "[deleted]", "score": 1,
                "created_utc": min((r["created_utc"] for r in rows), default=0.0), "url": "", "selftext": ""}
    author = await _account(st, anonymise(post.get("author") or "[deleted]"), report)
    ups, downs = score_to_votes(int(post.get("score", 1)))
    attrs = {"title": post.get("title", ""), "url": post.get("url") or "", "selftext": post.get("selftext") or "",
             "author_id": author, "sr_id": sr_id, "upvote_ratio": _ratio(post.get("upvote_ratio"))}
    if not await _ensure(st, "link", link_id, dt_from_epoch(post["created_utc"]), attrs, ups, downs):
        report.threads_already_present += 1
        return
    report.threads.append(link_full)
    ordered, orphans = creation_order(rows, link_full)
    report.orphans_skipped += orphans
    for r in ordered:
        body, author_name = _live_version(r)
        author_id = await _account(st, anonymise(author_name), report)
        parent = ("link", link_id) if r["parent_id"] == link_full else ("comment", from36(r["parent_id"][3:]))
        extra: dict[str, Any] = {"gilded": int(r.get("gilded") or 0), "distinguished": r.get("distinguished"),
                                 "stickied": bool(r.get("stickied"))}
        if isinstance(r.get("edited"), (int, float)) and not isinstance(r.get("edited"), bool):
            extra["editted"] = dt_from_epoch(float(r["edited"]))
            report.edited += 1
        deleted = r["body"] == "[deleted]"
        spam = r["body"] == "[removed]"  # removed by a moderator: r2's spam flag, rendered [removed]
        report.deleted += deleted or spam
        c_ups, c_downs = score_to_votes(int(r.get("score") or 0))
        await model.create_comment(st, author_id, parent, body, dt_from_epoch(r["created_utc"]), "",
                                   thing_id=from36(r["id"]), ups=c_ups, downs=c_downs, deleted=deleted, spam=spam, extra=extra,
                                   reply_to_deleted=True)
        report.comments += 1


async def _bump_sequences(st: LegacyStores) -> None:
    async with st.pg.acquire() as conn:
        for type_name in things.TYPES:
            table = things.thing_table(type_name)
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'thing_id'), "
                f"GREATEST((SELECT max(thing_id) FROM {table}), 1))")


async def seed(st: LegacyStores, threads_dir: str | Path, only: list[str] | None = None,
               accounts: tuple[str, ...] = ()) -> SeedReport:
    """Seed every `<link fullname>.ndjson` of `threads_dir` (or those in `only`), create the extra
    `accounts` (for writes), then build the projections by draining the CDC consumer."""
    report = SeedReport()
    for name in accounts:
        await _account(st, name, report)
    for path in sorted(Path(threads_dir).glob("*.ndjson")):
        if only is None or path.name.split(".")[0] in only:
            await seed_thread(st, path, report)
    await _bump_sequences(st)
    report.events_applied = await Consumer(st.redis, st.stream, name="seeder").drain()
    return report

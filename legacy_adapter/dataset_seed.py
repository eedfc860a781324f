"""Seed a store set from a dataset's seed snapshot (docs/dataset-format.md), through the legacy model.

The records are what `datasets.build` writes: accounts, subreddits, links and comments
(every parent before its children). Choices, shared with `seeding.py` (the thread-file seeder):
- comments and links keep the dataset's real base36 ids and creation times; accounts and
  subreddits get sequence ids in file order (so two sets seeded from one file get the same ids);
- a score s becomes ups/downs as `seeding.score_to_votes` does (the author's own vote counted);
- `deleted` comments keep the body the dataset gives and render as `[deleted]`; `spam` ones
  render as `[removed]`; a link's `upvote_ratio` (a float) is stored as an EAV `num` row;
- after the comments, the sequences are set above the highest id and the legacy CDC consumer
  applies the seed's events, which builds the tree and score projections.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from legacy_adapter import model, things
from legacy_adapter.codec import dt_from_epoch, from36
from legacy_adapter.consumer import Consumer
from legacy_adapter.seeding import ACCOUNT_DATE, SeedReport, _account, _ratio, _bump_sequences, _ensure, score_to_votes
from legacy_adapter.store import LegacyStores

SEED_KINDS = ("account", "subreddit", "link", "comment")


@dataclass
class DatasetSeedReport:
    accounts: int = 0
    subreddits: int = 0
    links: int = 0
    comments: int = 0
    deleted: int = 0
    links_already_present: int = 0
    events_applied: int = 0


def _fullname_id(fullname: str) -> int:
    return from36(fullname.split("_", 1)[1])


async def _subreddit(st: LegacyStores, name: str, ids: dict[str, int], hide_mins: int = 0) -> int:
    if name not in ids:
        async with st.pg.acquire() as conn:
            found = await things.find_by_name(conn, "subreddit", name)
            if found is None:
                attrs = {"name": name, "comment_score_hide_mins": hide_mins}
                obj = things.new_obj(0, 0, 0, ACCOUNT_DATE, attrs, "subreddit")
                found = await things.insert(conn, "subreddit", obj, explicit_id=False)
        ids[name] = found
    return ids[name]


async def seed_dataset(st: LegacyStores, records: Iterable[Mapping[str, Any]]) -> DatasetSeedReport:
    """Load the seed records (other kinds are ignored) and build the projections.

    Links already present are skipped with their comments, so seeding twice changes nothing."""
    report = DatasetSeedReport()
    legacy_report = SeedReport()  # seeding._account counts created accounts here
    accounts: dict[str, int] = {}
    subreddits: dict[str, int] = {}
    skipped_links: set[str] = set()

    async def account(name: str) -> int:
        if name not in accounts:
            accounts[name] = await _account(st, name, legacy_report)
        return accounts[name]

    for rec in records:
        kind = rec.get("kind")
        if kind == "account":
            await account(rec["name"])
        elif kind == "subreddit":
            await _subreddit(st, rec["name"], subreddits, int(rec.get("comment_score_hide_mins") or 0))
        elif kind == "link":
            sr_id = await _subreddit(st, rec["subreddit"], subreddits)
            ups, downs = score_to_votes(int(rec.get("score", 1)))
            attrs = {"title": rec.get("title", ""), "url": rec.get("url") or "", "selftext": rec.get("selftext") or "",
                     "author_id": await account(rec.get("author") or "[deleted]"), "sr_id": sr_id,
                     "upvote_ratio": _ratio(rec.get("upvote_ratio"))}
            if await _ensure(st, "link", _fullname_id(rec["fullname"]), dt_from_epoch(float(rec["created_utc"])),
                             attrs, ups, downs):
                report.links += 1
            else:
                report.links_already_present += 1
                skipped_links.add(rec["fullname"])
        elif kind == "comment":
            if rec["link"] in skipped_links:
                continue
            parent = rec["parent"]
            parent_ref = ("link", _fullname_id(parent)) if parent.startswith("t3_") else ("comment", _fullname_id(parent))
            ups, downs = score_to_votes(int(rec.get("score", 1)))
            extra = {"gilded": int(rec.get("gilded") or 0), "distinguished": rec.get("distinguished"),
                     "stickied": bool(rec.get("stickied"))}
            deleted = bool(rec.get("deleted"))
            spam = bool(rec.get("spam"))
            await model.create_comment(st, await account(rec.get("author") or "[deleted]"), parent_ref, rec["body"],
                                       dt_from_epoch(float(rec["created_utc"])), "",
                                       thing_id=_fullname_id(rec["fullname"]), ups=ups, downs=downs, deleted=deleted,
                                       spam=spam, extra=extra, reply_to_deleted=True)
            report.comments += 1
            report.deleted += deleted or spam
    report.accounts = legacy_report.accounts
    report.subreddits = len(subreddits)
    await _bump_sequences(st)
    report.events_applied = await Consumer(st.redis, st.stream, name="dataset-seeder").drain()
    return report

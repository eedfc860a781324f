"""API objects with r2's key orders: comments (t1), links (t3), Listings and "more" stubs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from new_comments_service.ids import comment_fullname, link_fullname, subreddit_fullname, to36
from new_comments_service.model import Thing, epoch_float

DELETED = "[deleted]"
REMOVED = "[removed]"


@dataclass(frozen=True)
class Names:
    """Account and subreddit names by id, resolved in the same query as the things they label."""

    accounts: dict[int, str]
    subreddits: dict[int, str]
    hide_minutes: dict[int, int] = field(default_factory=dict)  # subreddit id -> score-hiding window

    def account(self, thing_id: int) -> str:
        return self.accounts.get(thing_id, DELETED)

    def subreddit(self, thing_id: int) -> str:
        return self.subreddits.get(thing_id, "")


def _created(thing: Thing, tz_offset: int) -> tuple[float, float]:
    created_utc = float(int(epoch_float(thing.date)))
    # r2 quirk: `created` is shifted by the server's offset east of UTC.
    return created_utc - tz_offset, created_utc


def controversiality(ups: int, downs: int) -> int:
    """Flagged only with a sample of at least 7 votes and an upvote share from 0.4 to 0.6."""
    total = ups + downs
    return int(total >= 7 and 0.4 <= ups / total <= 0.6)


@dataclass(frozen=True)
class Viewer:
    """Who reads (an account name, or None) and the server time of the read."""

    name: str | None = None
    now: float | None = None


def looks_deleted(c: Thing, names: Names, viewer: Viewer) -> bool:
    """Deleted, or removed (spam) unless the reader wrote it."""
    return c.deleted or (c.spam and viewer.name != names.account(c.attrs["author_id"]))


def _score_hidden(c: Thing, names: Names, viewer: Viewer) -> bool:
    minutes = names.hide_minutes.get(c.attrs["sr_id"], 0)
    if minutes <= 0 or viewer.now is None or viewer.name == names.account(c.attrs["author_id"]):
        return False
    return epoch_float(c.date) > viewer.now - 60 * minutes


def comment_object(c: Thing, names: Names, tz_offset: int, replies: Any = "", depth: int | None = None,
                   viewer: Viewer = Viewer()) -> dict:
    a = c.attrs
    editted = a.get("editted", False)
    ups, downs = (1, 0) if _score_hidden(c, names, viewer) else (c.ups, c.downs)
    score = ups - downs
    gone = looks_deleted(c, names, viewer)
    created, created_utc = _created(c, tz_offset)
    parent = comment_fullname(a["parent_id"]) if a.get("parent_id") is not None else link_fullname(a["link_id"])
    data = {
        "subreddit_id": subreddit_fullname(a["sr_id"]),
        "link_id": link_fullname(a["link_id"]),
        "likes": None,
        "replies": replies,
        "id": to36(c.thing_id),
        "gilded": 0 if gone else a.get("gilded", 0),
        "author": DELETED if gone else names.account(a["author_id"]),
        "parent_id": parent,
        "score": score,
        "body": (REMOVED if c.spam else DELETED) if gone else a.get("body", ""),
        "edited": float(int(epoch_float(editted))) if editted is not False and editted is not None else False,
        "downs": 0,
        "subreddit": names.subreddit(a["sr_id"]),
        "name": comment_fullname(c.thing_id),
        "created": created,
        "created_utc": created_utc,
        "ups": score,
        "distinguished": None if gone else a.get("distinguished"),
        "stickied": a.get("stickied", False),
        "controversiality": controversiality(ups, downs),
    }
    if depth is not None:
        data["depth"] = depth
    return {"kind": "t1", "data": data}


def link_object(link: Thing, names: Names, tz_offset: int) -> dict:
    a = link.attrs
    link36 = to36(link.thing_id)
    sr_name = names.subreddit(a["sr_id"])
    created, created_utc = _created(link, tz_offset)
    data = {
        "subreddit_id": subreddit_fullname(a["sr_id"]),
        "title": a.get("title", ""),
        "author": names.account(a["author_id"]),
        "num_comments": a.get("num_comments", 0),
        "score": link.score,
        "ups": link.score,
        "downs": 0,
        "name": link_fullname(link.thing_id),
        "id": link36,
        "created": created,
        "created_utc": created_utc,
        "url": a.get("url", ""),
        "selftext": a.get("selftext", ""),
        "subreddit": sr_name,
        "permalink": f"/r/{sr_name}/comments/{link36}/",
        "upvote_ratio": a.get("upvote_ratio"),
    }
    return {"kind": "t3", "data": data}


def listing(children: list) -> dict:
    return {"kind": "Listing", "data": {"modhash": "", "children": children, "after": None, "before": None}}


def more_for_limit(hidden_ids: list[int], count: int, parent_fullname: str, depth: int) -> dict:
    first = hidden_ids[0]
    return {"kind": "more", "data": {
        "count": count, "name": comment_fullname(first), "id": to36(first), "parent_id": parent_fullname,
        "depth": depth, "children": [to36(i) for i in hidden_ids]}}


def more_for_depth(parent_fullname: str, depth: int) -> dict:
    return {"kind": "more", "data": {
        "count": 0, "name": "t1__", "id": "_", "parent_id": parent_fullname, "depth": depth, "children": []}}


def things_response(things: list) -> dict:
    return {"json": {"errors": [], "data": {"things": things}}}

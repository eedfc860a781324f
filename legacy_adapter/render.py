"""API JSON of things, keys in r2's order (docs/legacy-formats.md, "HTTP API")."""

from __future__ import annotations

from typing import Any

from legacy_adapter.codec import epoch, to36, whole_seconds
from legacy_adapter.things import Obj, get_attr

DELETED = "[deleted]"
REMOVED = "[removed]"
CFLAG_MIN_VOTES = 7
CFLAG_BOUNDS = (0.4, 0.6)


def controversiality(ups: int, downs: int) -> int:
    """r2's `_is_controversial`: at least 7 votes and an upvote ratio within [0.4, 0.6]."""
    votes = ups + downs
    if votes < CFLAG_MIN_VOTES:
        return 0
    return 1 if CFLAG_BOUNDS[0] <= ups / votes <= CFLAG_BOUNDS[1] else 0


def shown_deleted(obj: Obj, author: str, viewer: str | None) -> bool:
    """Deleted, or removed as spam (its own author still sees a spam comment as it was)."""
    return bool(obj["_deleted"] or (obj["_spam"] and viewer != author))


def score_hidden(obj: Obj, author: str, viewer: str | None, now: float | None, hide_mins: int) -> bool:
    """The subreddit's score-hiding window after posting; the author always sees the score."""
    return (hide_mins > 0 and now is not None and viewer != author
            and epoch(obj["_date"]) > now - hide_mins * 60)


def listing(children: list[Any]) -> dict[str, Any]:
    return {"kind": "Listing", "data": {"modhash": "", "children": children, "after": None, "before": None}}


def comment_json(obj: Obj, author: str, subreddit: str, tz_offset: int,
                 replies: Any = "", depth: int | None = None, *, viewer: str | None = None,
                 now: float | None = None, hide_mins: int = 0) -> dict[str, Any]:
    """`{"kind": "t1", "data": {...}}`; `depth` only inside /comments listings. `viewer` is the
    reading account's name, `now` the server time and `hide_mins` the subreddit's score window."""
    t = lambda key: get_attr("comment", obj, key)  # noqa: E731
    link_full = "t3_" + to36(t("link_id"))
    parent = t("parent_id")
    ups, downs = obj["_ups"], obj["_downs"]
    if score_hidden(obj, author, viewer, now, hide_mins):
        ups, downs = 1, 0  # r2 shows one upvote and no downvote while the score is hidden
    score = ups - downs
    created_utc = whole_seconds(obj["_date"])
    edited = t("editted")
    deleted = shown_deleted(obj, author, viewer)
    body = (REMOVED if obj["_spam"] else DELETED) if deleted else t("body")
    data: dict[str, Any] = {
        "subreddit_id": "t5_" + to36(t("sr_id")),
        "link_id": link_full,
        "likes": None,
        "replies": replies,
        "id": to36(obj["_id"]),
        "gilded": 0 if deleted else t("gilded"),
        "author": DELETED if deleted else author,
        "parent_id": link_full if parent is None else "t1_" + to36(parent),
        "score": score,
        "body": body,
        "edited": False if edited is False else whole_seconds(edited),
        "downs": 0,
        "subreddit": subreddit,
        "name": "t1_" + to36(obj["_id"]),
        "created": created_utc - tz_offset,
        "created_utc": created_utc,
        "ups": score,
        "distinguished": None if deleted else t("distinguished"),
        "stickied": t("stickied"),
        "controversiality": controversiality(ups, downs),
    }
    if depth is not None:
        data["depth"] = depth
    return {"kind": "t1", "data": data}


def link_json(obj: Obj, author: str, subreddit: str, tz_offset: int) -> dict[str, Any]:
    t = lambda key: get_attr("link", obj, key)  # noqa: E731
    link36 = to36(obj["_id"])
    score = obj["_ups"] - obj["_downs"]
    created_utc = whole_seconds(obj["_date"])
    return {"kind": "t3", "data": {
        "subreddit_id": "t5_" + to36(t("sr_id")),
        "title": t("title"),
        "author": author,
        "num_comments": t("num_comments"),
        "score": score,
        "ups": score,
        "downs": 0,
        "name": "t3_" + link36,
        "id": link36,
        "created": created_utc - tz_offset,
        "created_utc": created_utc,
        "url": t("url"),
        "selftext": t("selftext"),
        "subreddit": subreddit,
        "permalink": f"/r/{subreddit}/comments/{link36}/",
        "upvote_ratio": t("upvote_ratio"),
    }}


def more_stub(count: int, first: str, parent: str, depth: int, children: list[str]) -> dict[str, Any]:
    """A "more" stub; `first` is the first hidden child's base36 id, or "_" for a depth stub."""
    return {"kind": "more", "data": {"count": count, "name": "t1_" + first, "id": first,
                                     "parent_id": parent, "depth": depth, "children": children}}


def error_body(code: str, message: str, field: str | None) -> dict[str, Any]:
    return {"json": {"errors": [[code, message, field]]}}


def things_body(things: list[Any]) -> dict[str, Any]:
    return {"json": {"errors": [], "data": {"things": things}}}

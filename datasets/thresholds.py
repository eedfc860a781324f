"""The legacy's thresholds, one table, and the probes that put a state on each side of each.

Every value below was read from legacy_adapter/ (`where` names the constant and the comparison);
tests/datasets/test_thresholds.py checks each against the legacy's own constant, so the table
cannot drift from the code it describes. For each threshold the builder generates requests whose
state sits at value-1, value and value+1 (`sides`); replay/coverage.py counts one row per side,
`threshold.<name>.<side>`, from what the legacy's answer shows, never from what was sent.

Two thresholds compare the age of a comment with the server clock (the edit window, the
score-hiding window). A replay runs on the wall clock, so only their below and above sides can be
generated (a comment created during the replay is seconds old, a seeded one years old); their
`at` side needs a clock the dataset controls, which the replay does not have yet (see `note`).

To add a threshold: add a row here (name, value, where, rule, sides), generate its states in
`threshold_probes` (or say which existing probe reaches them), count its sides in
replay/coverage.py from the legacy's answer, and extend the tests of both.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

SIDES = ("below", "at", "above")


@dataclass(frozen=True)
class Threshold:
    name: str
    value: float
    unit: str
    where: str            # the legacy's constant and the function that compares with it
    rule: str             # the comparison, as the legacy writes it
    sides: tuple[str, ...] = SIDES
    note: str = ""

    def rows(self) -> list[str]:
        return [f"threshold.{self.name}.{side}" for side in self.sides]


TABLE: tuple[Threshold, ...] = (
    Threshold("edit_window", 180, "seconds", "legacy_adapter/model.py EDIT_WINDOW, edit_comment",
              "edit time set when `when - created > 180 s`", ("below", "above"),
              "at (exactly 180 s) needs a replay clock the dataset controls"),
    Threshold("edit_votes", 2, "votes", "legacy_adapter/model.py edit_comment",
              "inside the window, edit time set when `ups + downs > 2`"),
    Threshold("controversy_floor", 7, "votes", "legacy_adapter/render.py CFLAG_MIN_VOTES, controversiality",
              "controversiality 0 when `ups + downs < 7`"),
    Threshold("controversy_share_low", 0.4, "ups share", "legacy_adapter/render.py CFLAG_BOUNDS[0]",
              "controversiality 1 when `0.4 <= ups / (ups + downs) <= 0.6`"),
    Threshold("controversy_share_high", 0.6, "ups share", "legacy_adapter/render.py CFLAG_BOUNDS[1]",
              "controversiality 1 when `0.4 <= ups / (ups + downs) <= 0.6`"),
    Threshold("morechildren_cap", 20, "comments", "legacy_adapter/listing.py MORECHILDREN_MAX, more_children",
              "at most 20 comments picked, the rest in a stub"),
    Threshold("depth_limit", 10, "levels", "legacy_adapter/listing.py MAX_DEPTH, layout",
              "a comment at depth 9 (the 10th level) with replies gets a depth stub"),
    Threshold("depth_param_max", 10, "depth", "legacy_adapter/requests.py depth_option, handlers_read MAX_DEPTH",
              "`depth` taken when `0 < depth < 10`, else 10"),
    Threshold("depth_param_min", 1, "depth", "legacy_adapter/requests.py depth_option",
              "`depth <= 0` gives 10"),
    Threshold("limit_max", 500, "comments", "legacy_adapter/requests.py limit_option, handlers_read MAX_LIMIT",
              "`min(limit, 500)`"),
    Threshold("limit_min", 1, "comments", "legacy_adapter/requests.py limit_option, handlers_read DEFAULT_LIMIT",
              "`limit <= 0` gives the default 200"),
    Threshold("info_ids", 100, "fullnames", "legacy_adapter/handlers_read.py INFO_MAX, info",
              "more than 100 fullnames: 400 INVALID_OPTION"),
    Threshold("body_length_create", 10000, "code points", "legacy_adapter/handlers_write.py MAX_TEXT, _text",
              "`len(text) > 10000`: 400 TOO_LONG"),
    Threshold("body_length_edit", 10000, "code points", "legacy_adapter/handlers_write.py MAX_TEXT, _text",
              "`len(text) > 10000`: 400 TOO_LONG"),
    Threshold("score_hide", 60, "minutes (the hiding subreddit's comment_score_hide_mins)",
              "legacy_adapter/render.py score_hidden",
              "score hidden from others when `created > now - hide_mins * 60`", ("below", "above"),
              "at (exactly hide_mins * 60 s) needs a replay clock the dataset controls"),
)
BY_NAME = {t.name: t for t in TABLE}


def rows() -> list[str]:
    return [row for t in TABLE for row in t.rows()]


def side(name: str, x: float) -> str | None:
    """The side of an integer-stepped threshold a state `x` sits on: value-1, value, value+1."""
    value = BY_NAME[name].value
    return {value - 1: "below", value: "at", value + 1: "above"}.get(x)


def share_side(name: str, ups: int, votes: int) -> str | None:
    """The side of a share bound for `ups` of `votes`: at when the share equals the bound, below or
    above when one vote changing direction (votes fixed) would reach or cross it."""
    bound = BY_NAME[name].value
    if votes <= 0:
        return None
    share = ups / votes
    if share == bound:
        return "at"
    if share < bound <= (ups + 1) / votes:
        return "below"
    if (ups - 1) / votes <= bound < share:
        return "above"
    return None


# -- the probes ----------------------------------------------------------------------------------
CHAIN = 12             # levels of the deep branch: past the depth limit and the depth parameter
FLAT = 502             # top-level comments of the wide link: past limit_max + 1
CAP_KIDS = 21          # children of one comment: morechildren_cap + 1
LONG = "probe: long body \u00e9\U0001f642 "  # code points, not bytes or UTF-16 units


def long_text(n: int) -> str:
    return (LONG * (n // len(LONG) + 1))[:n]


def threshold_probes(rng: random.Random, deep: str, wide: str, names: list[str], voters: list[str],
                     t0: float, author: str, other: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(seed comments, log) reaching both sides of every threshold. `deep` and `wide` are two
    synthetic links; `names` holds at least CHAIN + 6 + CAP_KIDS + FLAT free comment fullnames."""
    base = {"distinguished": None, "stickied": False, "gilded": 0, "deleted": False, "spam": False, "synthetic": True}
    seeds: list[dict[str, Any]] = []

    def seed(name: str, link: str, parent: str, body: str, created: float, who: str = author) -> str:
        seeds.append({**base, "kind": "comment", "fullname": name, "link": link, "parent": parent, "author": who,
                      "body": body, "created_utc": created, "score": 1})
        return name

    it = iter(names)
    chain = [next(it) for _ in range(CHAIN)]
    for depth, name in enumerate(chain):
        seed(name, deep, chain[depth - 1] if depth else deep, f"probe: depth {depth}", t0 + depth)
    seed(next(it), deep, chain[7], "probe: a leaf at depth 8 (a branch one level short)", t0 + 20)
    seed(next(it), deep, chain[8], "probe: a leaf at depth 9 (a branch at the depth limit)", t0 + 21)
    contro = seed(next(it), deep, deep, "probe: votes around the controversiality bounds", t0 + 22, other)
    edited = seed(next(it), deep, deep, "probe: edited at the body length limit", t0 + 23)
    parent = seed(next(it), deep, deep, "probe: more children than the cap", t0 + 24, other)
    kids = [seed(next(it), deep, parent, f"probe: capped child {k}", t0 + 25 + k) for k in range(CAP_KIDS)]
    for k in range(FLAT):
        seed(next(it), wide, wide, f"probe: flat {k}", t0 + k, author if k % 2 else other)

    def read(link: str, **params: Any) -> dict[str, Any]:
        return {"op": "read_comments", "link": link, "sort": "old", "limit": 200, "depth": 10, **params}

    def info(ids: list[str], probe: str) -> dict[str, Any]:
        return {"op": "read_info", "ids": ids, "probe": probe}

    log: list[dict[str, Any]] = []
    # depth: the deep branch read at depth value-1, value, value+1 of both ends of the parameter
    log += [read(deep, depth=d, probe=f"depth_param {d}") for d in (9, 10, 11, 0, 1, 2)]
    log += [read(wide, limit=n, probe=f"limit {n}") for n in (499, 500, 501, 0, 1, 2)]
    log += [{"op": "read_morechildren", "link": deep, "children": [k[3:] for k in kids[:n]], "sort": "old",
             "probe": f"morechildren_cap {n}"} for n in (CAP_KIDS - 2, CAP_KIDS - 1, CAP_KIDS)]
    log += [info([chain[i % CHAIN] for i in range(n)], f"info_ids {n}") for n in (99, 100, 101)]
    # controversiality: 6, 7, 8 votes at a share inside the bounds; then 10 votes with 3..7 ups
    picked = rng.sample(voters, k=9)
    up, down = picked[:3], picked[3:]

    def vote(user: str, direction: int) -> dict[str, Any]:
        return {"op": "increment", "user": user, "thing": contro, "dir": direction, "probe": "controversy bounds"}

    def look(what: str) -> dict[str, Any]:
        return info([contro], f"controversy {what}")

    log += [vote(up[0], 1), vote(up[1], 1), *(vote(d, -1) for d in down[:3]), look("3/3")]
    log += [vote(up[2], 1), look("4/3"), vote(down[3], -1), look("4/4")]
    log += [vote(down[4], -1), vote(down[5], -1), look("4/6"), vote(up[2], -1), look("3/7"), vote(up[2], 1)]
    log += [vote(down[3], 1), look("5/5"), vote(down[4], 1), look("6/4"), vote(down[5], 1), look("7/3")]
    # body length: creates and edits of value-1, value and value+1 code points
    refs = names[len(chain) + 6 + CAP_KIDS + FLAT:]
    for n, ref in zip((9999, 10000, 10001), refs):
        log.append({"op": "create", "user": author, "parent": deep, "text": long_text(n), "ref": ref,
                    "probe": f"body_length_create {n}"})
    log += [{"op": "update", "user": author, "thing": edited, "text": long_text(n), "probe": f"body_length_edit {n}"}
            for n in (9999, 10000, 10001)]
    # score hiding: a young comment whose votes make its score 3 (shown as 1 while hidden) and an
    # old one with a score other than 1 (shown as it is), read anonymously
    log += [{"op": "increment", "user": v, "thing": refs[0], "dir": 1, "probe": "score_hide"} for v in up[:2]]
    log.append(info([refs[0], contro], "score_hide below (young) and above (old)"))
    return seeds, log


REFS_NEEDED = 3
NAMES_NEEDED = CHAIN + 6 + CAP_KIDS + FLAT + REFS_NEEDED

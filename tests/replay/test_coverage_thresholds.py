"""Threshold sides, refusals and repeats count from the legacy's answers, never from the request's intent."""

from __future__ import annotations

from datasets import thresholds as th
from datasets.probes import WRITE_BRANCHES
from replay.coverage import BRANCHES, coverage_for

LINK, SUB = "t3_l", "pics"


def _cov(*extra: dict):
    return coverage_for([
        {"kind": "subreddit", "name": SUB, "comment_score_hide_mins": 60},
        {"kind": "comment", "fullname": "t1_a", "link": LINK, "parent": LINK, "author": "ann", "body": "x", "score": 1},
        {"kind": "comment", "fullname": "t1_d", "link": LINK, "parent": LINK, "author": "ann", "body": "y", "score": 1,
         "deleted": True},
        {"kind": "comment", "fullname": "t1_s", "link": LINK, "parent": LINK, "author": "bob", "body": "z", "score": 1,
         "spam": True},
        *extra])


def _error(code: str) -> dict:
    return {"json": {"errors": [[code, "m", None]]}}


def _thing(**data) -> dict:
    return {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": data}]}}}


def _t1(name: str, **data) -> dict:
    return {"kind": "t1", "data": {"name": name, "replies": "", "subreddit": "other", **data}}


def _more(depth: int, children: list[str], parent: str = "t1_x") -> dict:
    return {"kind": "more", "data": {"count": len(children), "depth": depth, "children": children, "parent_id": parent}}


def _listing(*children) -> list:
    return [{"kind": "Listing", "data": {"children": []}}, {"kind": "Listing", "data": {"children": list(children)}}]


def test_every_row_is_in_the_table() -> None:
    assert set(th.rows()) <= set(BRANCHES) and set(WRITE_BRANCHES) <= set(BRANCHES)
    assert all(t.sides == th.SIDES or t.note for t in th.TABLE)  # a side left out says why


def test_refusals_count_by_the_legacys_error_code() -> None:
    cov = _cov()
    edit = {"op": "update", "user": "", "thing": "t1_a", "text": "t", "probe": "refusal.edit.not_author"}
    # one error code, three rows: by how the request named its user (no header, empty, no such account)
    for user in (None, "", " ", "nobody"):
        cov.observe({**edit, "user": user}, {"thing": "t1_a"}, 403, _error("USER_REQUIRED"))
    assert [cov.counts[f"refusal.edit.{k}"] for k in ("missing_auth", "empty_auth", "unknown_user")] == [1, 2, 1]
    cov.observe(edit, {"thing": "t1_a"}, 403, _error("NOT_AUTHOR"))
    cov.observe(edit, {"thing": "t1_!"}, 400, _error("NO_THING_ID"))
    cov.observe(edit, {"thing": "t1_zz"}, 404, _error("NOT_FOUND"))
    cov.observe(edit, {"thing": "t1_a"}, 200, _thing(name="t1_a", edited=False, created_utc=1.0))  # accepted: no row
    assert [cov.counts[f"refusal.edit.{k}"] for k in ("not_author", "malformed_id", "unknown_id")] == [1, 1, 1]
    vote = {"op": "increment", "user": "cat", "thing": "t1_d", "dir": 1}
    cov.observe(vote, {"thing": "t1_d"}, 404, _error("NOT_FOUND"))  # a deleted comment: its own row
    assert cov.counts["vote.deleted_refused"] == 1 and not cov.counts["refusal.vote.unknown_id"]
    cov.observe(vote, {"thing": "t1_d"}, 500, _error("NOT_FOUND"))  # a failure is no refusal
    create = {"op": "create", "user": "cat", "parent": LINK, "text": "t", "ref": "t1_n"}
    cov.observe(create, {"parent": LINK}, 403, _error("USER_REQUIRED"))
    assert cov.counts["refusal.create.unknown_user"] == 1 and not cov.counts["refusal.vote.unknown_user"]


def test_removed_comments_accepting_writes() -> None:
    cov = _cov()
    cov.observe({"op": "increment", "user": "cat", "thing": "t1_s", "dir": 1}, {"thing": "t1_s"}, 200, {})
    cov.observe({"op": "update", "user": "bob", "thing": "t1_s", "text": "t"}, {"thing": "t1_s"}, 403, _error("NOT_AUTHOR"))
    cov.observe({"op": "create", "user": "cat", "parent": "t1_s", "text": "t", "ref": "t1_n"},
                {"parent": "t1_s", "created": "t1_n"}, 200, _thing(name="t1_n", body="t"))
    assert (cov.counts["vote.removed_accepted"], cov.counts["edit.removed_accepted"],
            cov.counts["create.reply_to_removed_accepted"]) == (1, 0, 1)


def test_repeats_only_when_the_legacy_accepted_both() -> None:
    cov = _cov()
    vote = {"op": "increment", "user": "cat", "thing": "t1_a", "dir": 1}
    cov.observe(vote, {"thing": "t1_a"}, 500, None)
    cov.observe(vote, {"thing": "t1_a"}, 200, {})
    assert not cov.counts["repeat.vote"]  # the first was not accepted
    cov.observe(dict(vote, user="dan", dir=0), {"thing": "t1_a"}, 200, {})
    assert not cov.counts["repeat.vote"]  # an un-vote without a vote before it is no repeat
    cov.observe(vote, {"thing": "t1_a"}, 200, {})
    cov.observe(dict(vote, dir=-1), {"thing": "t1_a"}, 200, {})
    assert cov.counts["repeat.vote"] == 1
    edit = {"op": "update", "user": "ann", "thing": "t1_a", "text": "again"}
    silent = _thing(name="t1_a", edited=False, created_utc=1.0, score=1)
    cov.observe(edit, {"thing": "t1_a"}, 200, silent)
    cov.observe(edit, {"thing": "t1_a"}, 200, silent)
    cov.observe(edit, {"thing": "t1_a"}, 200, _thing(name="t1_a", edited=900.0, created_utc=1.0))
    assert (cov.counts["repeat.edit_silent"], cov.counts["repeat.edit_timed"]) == (1, 1)
    create = {"op": "create", "user": "ann", "parent": LINK, "text": "twice", "ref": "t1_n1"}
    cov.observe(create, {"parent": LINK, "created": "t1_n1"}, 200, _thing(name="t1_n1"))
    cov.observe(dict(create, ref="t1_n2"), {"parent": LINK}, 400, _error("NO_TEXT"))
    assert not cov.counts["repeat.create"]
    cov.observe(dict(create, ref="t1_n3"), {"parent": LINK, "created": "t1_n3"}, 200, _thing(name="t1_n3"))
    assert cov.counts["repeat.create"] == 1


def test_body_length_counts_when_the_legacy_judged_the_length() -> None:
    cov = _cov()
    create = {"op": "create", "user": "ann", "parent": LINK, "ref": "t1_n"}
    cov.observe(dict(create, text="x" * 10001), {"parent": LINK}, 403, _error("USER_REQUIRED"))
    assert not cov.counts["threshold.body_length_create.above"]  # refused before the length
    cov.observe(dict(create, text="x" * 10001), {"parent": LINK}, 400, _error("TOO_LONG"))
    cov.observe(dict(create, text="x" * 10000), {"parent": LINK, "created": "t1_n"}, 200, _thing(name="t1_n"))
    cov.observe(dict(create, text="x" * 9998), {"parent": LINK, "created": "t1_m"}, 200, _thing(name="t1_m"))
    assert [cov.counts[f"threshold.body_length_create.{s}"] for s in th.SIDES] == [0, 1, 1]


def test_edit_window_and_its_vote_count() -> None:
    cov = _cov()
    edit = {"op": "update", "user": "ann", "thing": "t1_a"}
    cov.observe(dict(edit, text="1"), {"thing": "t1_a"}, 200, _thing(name="t1_a", edited=False, created_utc=1.0, score=1))
    for voter in ("v1", "v2"):
        cov.observe({"op": "increment", "user": voter, "thing": "t1_a", "dir": 1}, {"thing": "t1_a"}, 200, {})
    cov.observe(dict(edit, text="2"), {"thing": "t1_a"}, 200, _thing(name="t1_a", edited=100.0, created_utc=1.0, score=3))
    cov.observe(dict(edit, text="3"), {"thing": "t1_a"}, 200, _thing(name="t1_a", edited=100.0, created_utc=1.0, score=9))
    cov.observe(dict(edit, text="4"), {"thing": "t1_a"}, 200, _thing(name="t1_a", edited=900.0, created_utc=1.0, score=3))
    # 1 vote then 3 (a stale score is not trusted; outside the window the vote count is no threshold)
    assert [cov.counts[f"threshold.edit_votes.{s}"] for s in th.SIDES] == [1, 0, 1]
    assert (cov.counts["threshold.edit_window.below"], cov.counts["threshold.edit_window.above"]) == (3, 1)


def test_controversy_sides_from_confirmed_votes() -> None:
    cov = _cov()
    info = {"op": "read_info", "ids": ["t1_a"]}
    for voter in ("u1", "u2", "d1", "d2", "d3", "u3", "d4", "d5", "d6"):
        cov.observe({"op": "increment", "user": voter, "thing": "t1_a", "dir": 1 if voter[0] == "u" else -1}, {}, 200, {})
        ups, downs = cov.counts_of["t1_a"]
        cov.observe(info, {}, 200, {"kind": "Listing", "data": {"children": [
            _t1("t1_a", score=ups - downs, controversiality=0)]}})
    # 3/3 (6 votes), 4/3 (7), 4/4 (8) at a share in the bounds; 4/4 and 4/5 one vote above 0.4, 4/6 at it
    assert [cov.counts[f"threshold.controversy_floor.{s}"] for s in th.SIDES] == [1, 1, 1]
    assert (cov.counts["threshold.controversy_share_low.at"], cov.counts["threshold.controversy_share_low.above"]) == (1, 2)
    cov.observe(info, {}, 200, {"kind": "Listing", "data": {"children": [_t1("t1_a", score=5, controversiality=0)]}})
    assert cov.counts["threshold.controversy_share_low.at"] == 1  # a score the votes do not make: not counted


def test_listing_cuts_depth_and_limit() -> None:
    cov = _cov({"kind": "comment", "fullname": "t1_p", "link": LINK, "parent": LINK, "author": "x", "body": "b",
                "score": 1})
    read = {"op": "read_comments", "link": LINK, "sort": "old", "limit": 200, "depth": 11}
    chain = _t1("t1_c9", depth=9, replies={"kind": "Listing", "data": {"children": [_more(10, [])]}})
    leaf8, leaf9 = _t1("t1_l8", depth=8), _t1("t1_l9", depth=9)
    cov.observe(read, {}, 200, _listing(chain, leaf8, leaf9))
    assert [cov.counts[f"threshold.depth_limit.{s}"] for s in th.SIDES] == [1, 1, 1]
    assert cov.counts["threshold.depth_param_max.above"] == 1
    cov.observe(dict(read, depth=9), {}, 200, _listing(leaf8))  # no depth stub: the cut is not shown
    assert not cov.counts["threshold.depth_param_max.below"] and cov.counts["threshold.depth_limit.at"] == 1
    wide = dict(read, limit=501, depth=10)
    cov.observe(wide, {}, 200, _listing(_t1("t1_p", depth=0), _more(0, ["q"], parent=LINK)))
    cov.observe(dict(wide, limit=0), {}, 200, _listing(_t1("t1_p", depth=0)))  # no limit stub
    cov.observe(dict(wide, limit="0"), {}, 200, _listing(_more(0, ["q"], parent=LINK)))  # not an int
    assert cov.counts["threshold.limit_max.above"] == 1 and not cov.counts["threshold.limit_min.below"]


def test_morechildren_and_info_sizes() -> None:
    cov = _cov()
    more = {"op": "read_morechildren", "link": LINK, "children": ["a"] * 21}
    things = [_t1(f"t1_{k}") for k in range(20)]
    cov.observe(more, {}, 200, {"json": {"data": {"things": [*things, _more(0, ["u"])]}}})
    cov.observe(more, {}, 200, {"json": {"data": {"things": things[:19]}}})
    assert [cov.counts[f"threshold.morechildren_cap.{s}"] for s in th.SIDES] == [1, 0, 1]
    info = {"op": "read_info", "ids": ["t1_a"] * 101}
    cov.observe(info, {}, 400, _error("INVALID_OPTION"))
    cov.observe(dict(info, ids=["t1_a"] * 100), {}, 200, {"kind": "Listing", "data": {"children": []}})
    cov.observe(dict(info, ids=["t1_a"] * 99), {}, 503, None)
    assert [cov.counts[f"threshold.info_ids.{s}"] for s in th.SIDES] == [0, 1, 1]


def test_score_hiding_seen_from_the_rendered_score() -> None:
    cov = _cov()
    for voter in ("v1", "v2"):
        cov.observe({"op": "increment", "user": voter, "thing": "t1_a", "dir": 1}, {}, 200, {})
    info = {"op": "read_info", "ids": ["t1_a"]}
    cov.observe(info, {}, 200, {"kind": "Listing", "data": {"children": [_t1("t1_a", score=1, ups=1, subreddit=SUB)]}})
    cov.observe(info, {}, 200, {"kind": "Listing", "data": {"children": [_t1("t1_a", score=3, ups=3, subreddit=SUB)]}})
    cov.observe(info, {}, 200, {"kind": "Listing", "data": {"children": [_t1("t1_a", score=1, ups=1)]}})  # no hiding there
    cov.observe(info, {}, 200, {"kind": "Listing", "data": {"children": [_t1("t1_a", score=2, ups=2, subreddit=SUB)]}})
    assert (cov.counts["listing.score_hidden"], cov.counts["threshold.score_hide.below"],
            cov.counts["threshold.score_hide.above"]) == (1, 1, 1)

"""Behaviour coverage counts what the legacy's answers show, never what a request meant to probe;
and the bundled probes reach every branch the current legacy has."""

from __future__ import annotations

import json

import jsonschema

from datasets import thresholds
from datasets.probes import WRITE_BRANCHES
from results.export.formats import SCHEMA_FILE
from results.store.queries import Thresholds
from replay.coverage import BRANCHES, attach_to_reports, coverage_for
from tests.replay.conftest import replay

LINK = "t3_l"


def _seeded():
    return coverage_for([
        {"kind": "comment", "fullname": "t1_a", "link": LINK, "parent": LINK, "author": "ann", "body": "x", "score": 1},
        {"kind": "comment", "fullname": "t1_d", "link": LINK, "parent": LINK, "author": "bob", "body": "y", "score": 1,
         "deleted": True},
    ])


def _thing(**data) -> dict:
    return {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": data}]}}}


def _listing(*children) -> list:
    return [{"kind": "Listing", "data": {"children": []}}, {"kind": "Listing", "data": {"children": list(children)}}]


def _t1(name: str, score: int, created: float = 1.0, replies="", **extra) -> dict:
    return {"kind": "t1", "data": {"name": name, "score": score, "created_utc": created, "replies": replies,
                                   "body": extra.pop("body", "b"), "author": extra.pop("author", "a"), **extra}}


def test_edits_count_by_the_answer_not_the_intent() -> None:
    cov = _seeded()
    edit = {"op": "update", "user": "ann", "thing": "t1_a", "text": "new", "probe": "edit.in_window"}
    cov.observe(edit, {"thing": "t1_a"}, 200, _thing(edited=False, created_utc=100.0, body="new"))
    cov.observe(dict(edit, text="newer"), {"thing": "t1_a"}, 200, _thing(edited=150.0, created_utc=100.0))
    cov.observe(dict(edit, text="newest"), {"thing": "t1_a"}, 200, _thing(edited=500.0, created_utc=100.0))
    cov.observe(dict(edit, text="newest"), {"thing": "t1_a"}, 200, _thing(edited=501.0, created_utc=100.0))
    cov.observe(dict(edit, text="refused"), {"thing": "t1_a"}, 400, {"json": {"errors": [["NOT_AUTHOR", "", ""]]}})
    assert (cov.counts["edit.in_window_silent"], cov.counts["edit.in_window_voted"], cov.counts["edit.after_window"],
            cov.counts["edit.noop"]) == (1, 1, 2, 1)
    # An edit of a deleted comment counts only when the legacy refuses it with 403.
    cov.observe(dict(edit, thing="t1_d", user="bob"), {"thing": "t1_d"}, 400, {"json": {"errors": [["X", "", ""]]}})
    assert cov.counts["edit.deleted_refused"] == 0
    cov.observe(dict(edit, thing="t1_d", user="bob"), {"thing": "t1_d"}, 403, None)
    assert cov.counts["edit.deleted_refused"] == 1


def test_votes_self_change_unvote_only_when_accepted() -> None:
    cov = _seeded()
    vote = {"op": "increment", "user": "ann", "thing": "t1_a", "dir": -1}
    cov.observe(vote, {"thing": "t1_a"}, 500, None)  # not accepted: nothing counted, nothing applied
    assert not cov.counts and cov.counts_of["t1_a"] == [1, 0]
    cov.observe(vote, {"thing": "t1_a"}, 200, {})  # the author reverses their own up-vote
    assert cov.counts["vote.self"] == 1 and cov.counts["vote.change"] == 1 and cov.counts_of["t1_a"] == [0, 1]
    cov.observe(dict(vote, dir=0), {"thing": "t1_a"}, 200, {})
    assert cov.counts["vote.unvote"] == 1 and cov.counts_of["t1_a"] == [0, 0]


def test_listings_ties_stubs_deleted_and_float32_order() -> None:
    cov = coverage_for([
        {"kind": "comment", "fullname": n, "link": LINK, "parent": LINK, "author": "x", "body": "b", "score": s}
        for n, s in (("t1_p", 159), ("t1_q", 54))] + [
        {"kind": "comment", "fullname": "t1_leaf", "link": LINK, "parent": LINK, "author": "x", "body": "b",
         "score": 1, "deleted": True}])
    for voter in ("v1", "v2"):
        cov.observe({"op": "increment", "user": voter, "thing": "t1_p", "dir": -1}, {"thing": "t1_p"}, 200, {})
    read = {"op": "read_comments", "link": LINK, "sort": "confidence", "limit": 200, "depth": 10}
    # (159, 2) before (54, 0): float32 ties them (the lower id first), float64 would not.
    cov.observe(read, {}, 200, _listing(_t1("t1_p", 157), _t1("t1_q", 54)))
    assert cov.counts["confidence.float32_order"] == 1
    assert cov.counts["listing.deleted_leaf_dropped"] == 1  # complete listing without the deleted leaf
    # The same pair in float64 order counts nothing; a stale score is not trusted.
    cov.observe(read, {}, 200, _listing(_t1("t1_q", 54), _t1("t1_p", 157)))
    cov.observe(read, {}, 200, _listing(_t1("t1_p", 150), _t1("t1_q", 54)))
    assert cov.counts["confidence.float32_order"] == 1
    more = {"kind": "more", "data": {"count": 0, "children": []}}
    deleted = _t1("t1_leaf", 1, body="[deleted]", author="[deleted]",
                  replies={"kind": "Listing", "data": {"children": [_t1("t1_r", 1)]}})
    cov.observe(dict(read, sort="new"), {}, 200, _listing(deleted, _t1("t1_q", 54, created=1.0), more))
    assert cov.counts["listing.deleted_with_replies"] == 1 and cov.counts["listing.more_depth"] == 1
    # three complete listings left the deleted leaf out; the one with a stub is not complete
    assert cov.counts["ties.new"] == 1 and cov.counts["listing.deleted_leaf_dropped"] == 3
    assert cov.counts["(unreadable answer)"] == 0


def test_every_branch_is_a_row_even_at_zero() -> None:
    rows = _seeded().rows()
    assert [r["branch"] for r in rows] == list(BRANCHES) and all(r["count"] == 0 for r in rows)


# Branches the current legacy has; the others (r2's refusals, escaping, leniency, caps) count 0
# until the legacy grows them.
PRESENT = ("edit.in_window_silent", "edit.in_window_voted", "edit.after_window", "edit.noop", "vote.self",
           "vote.change", "vote.unvote", "create.reply_to_deleted_refused", "listing.deleted_with_replies",
           "listing.more_limit", "listing.more_depth", "ties.confidence", "ties.top", "ties.controversial",
           "confidence.float32_order", "text.non_nfc", "text.bidi", "json.raw", "listing.spam_removed",
           "morechildren.capped", "listing.score_hidden", *WRITE_BRANCHES, *thresholds.rows())


async def test_the_probes_reach_the_legacys_branches(replay_settings, replay_stores, small_dataset, tmp_path) -> None:
    result = await replay(replay_settings, replay_stores, small_dataset, tmp_path / "out", fail_on="any")
    counted = {r["branch"]: r["count"] for r in result.drive.coverage.rows()}
    assert not [b for b in PRESENT if not counted[b]], counted
    assert result.gate.passed and not result.stack.sink.groups
    # The table reaches every report format; the JSON still follows its schema.
    attach_to_reports(result.reports, result.drive.coverage.rows(), ["vote.self"], Thresholds())
    report = json.loads(result.reports["json"].read_text())
    jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text())).validate(report)
    assert [r["branch"] for r in report["behaviour_coverage"]] == list(BRANCHES)
    assert [r["branch"] for r in report["behaviour_coverage"] if r["required"]] == ["vote.self"]
    assert "## Behaviour coverage" in result.reports["md"].read_text()
    assert 'data-branch="confidence.float32_order"' in result.reports["html"].read_text()
    assert json.loads((result.reports["json"].parent / "coverage.json").read_text()) == report["behaviour_coverage"]


def test_info_answers_are_counted_like_listings() -> None:
    # /api/info answers a Listing (data.children), not json.data.things: its spam comment rendered
    # as [removed] and its escaped body count, as they do in a thread listing.
    cov = coverage_for([
        {"kind": "comment", "fullname": "t1_s", "link": LINK, "parent": LINK, "author": "ann", "body": "spam!",
         "score": 1, "spam": True},
        {"kind": "comment", "fullname": "t1_h", "link": LINK, "parent": LINK, "author": "bob", "body": "a < b",
         "score": 1},
    ])
    info = {"kind": "Listing", "data": {"children": [_t1("t1_s", 1, body="[removed]"),
                                                     _t1("t1_h", 1, body="a &lt; b")]}}
    cov.observe({"op": "read_info", "ids": ["t1_s", "t1_h"]}, {}, 200, info)
    assert cov.counts["listing.spam_removed"] == 1
    assert cov.counts["json.escaped"] == 1
    # the spam comment shown as written (its author reading) is not the branch
    cov.observe({"op": "read_info", "ids": ["t1_s"]}, {}, 200,
                {"kind": "Listing", "data": {"children": [_t1("t1_s", 1, body="spam!")]}})
    assert cov.counts["listing.spam_removed"] == 1


def test_a_capped_morechildren_answer_counts_its_comments_not_its_more_stub() -> None:
    cov = _seeded()
    kids = [f"c{k}" for k in range(24)]
    answer = {"json": {"data": {"things": [_t1(f"t1_c{k}", 1) for k in range(20)]
                                + [{"kind": "more", "data": {"children": kids[20:]}}]}}}
    cov.observe({"op": "read_morechildren", "link": LINK, "children": kids}, {}, 200, answer)
    assert cov.counts["morechildren.capped"] == 1
    over = {"json": {"data": {"things": [_t1(f"t1_c{k}", 1) for k in range(21)]}}}
    cov.observe({"op": "read_morechildren", "link": LINK, "children": kids}, {}, 200, over)
    assert cov.counts["morechildren.capped"] == 1  # 21 comments: the cap was not applied

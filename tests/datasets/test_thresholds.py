"""The threshold table says what the legacy does, and the built dataset puts a state on every side."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from datasets import thresholds as th
from datasets.build import BuildOptions, build_dataset
from datasets.format import DatasetError, write_dataset
from datasets.probes import AUTHOR, MALFORMED, REFUSED_IN, b36, malformed_forms
from datasets.validate import validate_dataset
from legacy_adapter import handlers_read, handlers_write, listing, model, render
from legacy_adapter.requests import depth_option, limit_option
from tests.support.paths import reddit_threads_dir


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return build_dataset(reddit_threads_dir(), BuildOptions(seed=5, max_comments_per_thread=10))


def test_the_table_holds_the_legacys_own_values() -> None:
    v = {t.name: t.value for t in th.TABLE}
    assert v["edit_window"] == model.EDIT_WINDOW.total_seconds()
    assert v["controversy_floor"] == render.CFLAG_MIN_VOTES
    assert (v["controversy_share_low"], v["controversy_share_high"]) == render.CFLAG_BOUNDS
    assert v["morechildren_cap"] == listing.MORECHILDREN_MAX
    assert v["depth_limit"] == listing.MAX_DEPTH == handlers_read.MAX_DEPTH == v["depth_param_max"]
    assert v["limit_max"] == handlers_read.MAX_LIMIT and v["info_ids"] == handlers_read.INFO_MAX
    assert v["body_length_create"] == v["body_length_edit"] == handlers_write.MAX_TEXT
    assert len({t.name for t in th.TABLE}) == len(th.TABLE) and len(set(th.rows())) == len(th.rows())


def test_the_table_rules_match_the_legacys_comparisons_at_each_side() -> None:
    # controversiality: 6, 7, 8 votes at a share inside the bounds; 10 votes with 3..7 ups
    assert [render.controversiality(u, d) for u, d in ((3, 3), (4, 3), (4, 4))] == [0, 1, 1]
    assert [render.controversiality(u, 10 - u) for u in range(3, 8)] == [0, 1, 1, 1, 0]
    # parameters: value-1, value, value+1 of both ends
    assert [depth_option({"depth": str(d)}, handlers_read.MAX_DEPTH) for d in (9, 10, 11, 0, 1, 2)] == [9, 10, 10, 10, 1, 2]
    assert [limit_option({"limit": str(n)}, handlers_read.DEFAULT_LIMIT, handlers_read.MAX_LIMIT)
            for n in (499, 500, 501, 0, 1, 2)] == [499, 500, 500, handlers_read.DEFAULT_LIMIT, 1, 2]


def test_sides() -> None:
    assert [th.side("morechildren_cap", n) for n in (18, 19, 20, 21, 22)] == [None, "below", "at", "above", None]
    assert [th.share_side("controversy_share_low", u, 10) for u in (2, 3, 4, 5, 6)] == [None, "below", "at", "above", None]
    assert [th.share_side("controversy_share_high", u, 10) for u in (4, 5, 6, 7, 8)] == [None, "below", "at", "above", None]
    # a share the bound falls between: the closest state on each side, no "at"
    assert [th.share_side("controversy_share_low", u, 7) for u in (1, 2, 3, 4)] == [None, "below", "above", None]
    assert th.share_side("controversy_share_low", 0, 0) is None


def _probe_links(records: list[dict]) -> tuple[str, str]:
    links = [r for r in records if r["kind"] == "link" and r.get("synthetic")]
    assert len(links) == 2
    return links[0]["fullname"], links[1]["fullname"]


def test_one_subreddit_hides_scores_and_holds_the_probe_links(records: list[dict]) -> None:
    hiding = [r for r in records if r["kind"] == "subreddit" and r.get("comment_score_hide_mins")]
    assert [r["comment_score_hide_mins"] for r in hiding] == [60]
    first_thread = next(r for r in records if r["kind"] == "link")
    assert hiding[0]["name"] == first_thread["subreddit"]
    assert {r["subreddit"] for r in records if r["kind"] == "link" and r.get("synthetic")} == {hiding[0]["name"]}
    none = build_dataset(reddit_threads_dir(), BuildOptions(seed=5, max_comments_per_thread=10, score_hide_mins=0))
    assert not [r for r in none if r["kind"] == "subreddit" and r.get("comment_score_hide_mins")]


def test_every_threshold_side_has_its_state_in_the_dataset(records: list[dict]) -> None:
    deep, wide = _probe_links(records)
    comments = [r for r in records if r["kind"] == "comment"]
    parent = {c["fullname"]: c["parent"] for c in comments}
    kids: dict[str, list[str]] = defaultdict(list)
    for c in comments:
        kids[c["parent"]].append(c["fullname"])

    def depth(name: str) -> int:
        return 0 if parent[name].startswith("t3_") else 1 + depth(parent[name])

    assert max(depth(c["fullname"]) for c in comments if c["link"] == deep) >= 11  # past depth 11's cut
    leaves = {depth(c["fullname"]) for c in comments if c["link"] == deep and not kids[c["fullname"]]}
    assert {8, 9} <= leaves
    assert len(kids[wide]) >= 502 and not any(kids[k] for k in kids[wide])
    reqs = [r for r in records if r["kind"] == "request"]
    reads = [r for r in reqs if r["op"] == "read_comments"]
    assert sorted(r["depth"] for r in reads if r["link"] == deep) == [0, 1, 2, 9, 10, 11]
    assert sorted(r["limit"] for r in reads if r["link"] == wide) == [0, 1, 2, 499, 500, 501]
    more = [r["children"] for r in reqs if r["op"] == "read_morechildren" and r["link"] == deep]
    assert sorted(len(c) for c in more) == [19, 20, 21] and all(not kids[f"t1_{k}"] for c in more for k in c)
    assert {len(r["ids"]) for r in reqs if r["op"] == "read_info"} >= {99, 100, 101}
    lengths = Counter((r["op"], len(r["text"])) for r in reqs if r["op"] in ("create", "update") and len(r["text"]) > 9000)
    assert lengths == Counter({(op, n): 1 for op in ("create", "update") for n in (9999, 10000, 10001)})
    assert all(len(r["text"].encode()) > 10001 for r in reqs if r["op"] == "create" and len(r["text"]) == 9999)


def test_the_controversy_probe_reaches_each_vote_state_at_its_reads(records: list[dict]) -> None:
    """Replays the probe's votes from the seeder's split of the seed score (the author's up-vote)."""
    seeded = {r["fullname"]: r for r in records if r["kind"] == "comment"}
    reqs = [r for r in records if r["kind"] == "request"]
    target = next(r["thing"] for r in reqs if r.get("probe") == "controversy bounds")
    assert seeded[target]["score"] == 1
    votes = {seeded[target]["author"]: 1}
    seen = []
    for r in reqs:
        if r["op"] == "increment" and r["thing"] == target:
            votes[r["user"]] = r["dir"]
        elif r["op"] == "read_info" and r["ids"] == [target]:
            seen.append((sum(d == 1 for d in votes.values()), sum(d == -1 for d in votes.values())))
    assert seen == [(3, 3), (4, 3), (4, 4), (4, 6), (3, 7), (5, 5), (6, 4), (7, 3)]


def test_every_refusal_and_repeat_is_generated(records: list[dict]) -> None:
    reqs = [r for r in records if r["kind"] == "request"]
    ops = {"create": "create", "edit": "update", "vote": "increment"}
    for endpoint, kinds in REFUSED_IN.items():
        for kind in kinds:
            assert [r for r in reqs if r["op"] == ops[endpoint] and r.get("probe") == f"refusal.{endpoint}.{kind}"], kind
    # the three ways of naming no one: no header (null), an empty one, a name no account has
    auth = {r["probe"]: r["user"] for r in reqs if r.get("invalid") == "user"}
    accounts = {r["name"] for r in records if r["kind"] == "account"}
    for endpoint in REFUSED_IN:
        assert auth[f"refusal.{endpoint}.missing_auth"] is None and auth[f"refusal.{endpoint}.empty_auth"] == ""
        assert auth[f"refusal.{endpoint}.unknown_user"] not in accounts | {None, ""}
    assert any(r.get("invalid") == "target" and MALFORMED in (r.get("thing"), r.get("parent")) for r in reqs)
    creates = Counter((r["user"], r["parent"], r["text"]) for r in reqs if r["op"] == "create")
    assert any(n == 2 and user == AUTHOR for (user, _, _), n in creates.items())
    for op in ("update", "increment"):
        per_thing: dict[str, list[tuple]] = defaultdict(list)  # the writes to each comment, in log order
        for r in reqs:
            if r["op"] in ("update", "increment"):
                per_thing[r["thing"]].append((r["op"], r["user"], r.get("text", r.get("dir"))))
        assert any(a == b and a[0] == op for w in per_thing.values() for a, b in zip(w, w[1:])), op


def test_malformed_forms_of_real_names_are_refused_by_the_legacy(records: list[dict]) -> None:
    """Every endpoint also gets a malformed name a lenient parser would resolve to an existing comment
    (upper case, a leading space, 0, past 2^63-1), and the legacy's own parser refuses each."""
    from legacy_adapter.codec import MalformedName, parse_fullname

    seeded = {r["fullname"] for r in records if r["kind"] == "comment"}
    real = "t1_abc"
    assert parse_fullname(real) == ("comment", int("abc", 36))
    for form in malformed_forms(real):
        with pytest.raises(MalformedName):
            parse_fullname(form)
    reqs = [r for r in records if r["kind"] == "request" and str(r.get("probe", "")).endswith(".malformed_id")]
    upper = {r["op"] for r in reqs if (r.get("thing") or r.get("parent") or "").lower() in seeded
             and (r.get("thing") or r.get("parent")) not in seeded}
    assert upper == {"create", "update", "increment"}, upper
    assert {r["thing"] for r in reqs if r["op"] == "increment"} >= {"t1_0", f"t1_{b36(2**63)}"}


def test_probes_are_deterministic_by_seed() -> None:
    a = th.threshold_probes(random.Random(1), "t3_a", "t3_b", [f"t1_{i}" for i in range(th.NAMES_NEEDED)],
                            [f"v{i}" for i in range(12)], 100.0, "x", "y")
    b = th.threshold_probes(random.Random(1), "t3_a", "t3_b", [f"t1_{i}" for i in range(th.NAMES_NEEDED)],
                            [f"v{i}" for i in range(12)], 100.0, "x", "y")
    assert a == b


def test_the_validator_lets_through_only_the_invalid_part_a_probe_names(tmp_path: Path, records: list[dict]) -> None:
    write_dataset(tmp_path / "ok.jsonl", records)
    validate_dataset(tmp_path / "ok.jsonl")
    edit = next(r for r in records if r.get("probe") == "refusal.edit.unknown_id")
    for change, reason in ((lambda r: r.pop("invalid"), "neither seeded nor created"),
                           (lambda r: r.update(invalid="everything"), "invalid must be one of"),
                           (lambda r: r.update(user="nobody_at_all"), "is not an account")):
        bad = [dict(r) for r in records]
        change(next(r for r in bad if r.get("seq") == edit["seq"]))
        write_dataset(tmp_path / "bad.jsonl", bad)
        with pytest.raises(DatasetError, match=reason):
            validate_dataset(tmp_path / "bad.jsonl")
    exists = [dict(r, invalid="target") if r.get("op") == "update" and "probe" not in r and "invalid" not in r
              else r for r in records]
    write_dataset(tmp_path / "exists.jsonl", exists)
    with pytest.raises(DatasetError, match="is invalid, but it exists"):
        validate_dataset(tmp_path / "exists.jsonl")

"""Tri-compare rechecks with the real comparison core: `raced` only when every differing field is
exactly what changed between the legacy's two answers; a bug coinciding with a write stays a mismatch."""

from __future__ import annotations

import copy

import pytest

from diff_reports.comparator import Comparator
from diff_reports.noise import LearnedNoise
from diff_reports.types import Observation, VerdictKind
from judge.recheck import FAILED_REREADS_ALLOWED, judge_recheck
from traffic.shadowed import RecheckReads

PATH = "read.comments.response"


def listing(scores: dict[str, int], bodies: dict[str, str] | None = None, extra: dict | None = None) -> dict:
    kids = [{"kind": "t1", "data": {"name": n, "score": s, "body": (bodies or {}).get(n, f"body of {n}"), **(extra or {})}}
            for n, s in scores.items()]
    return {"status": 200, "body": [{"kind": "Listing", "data": {"children": kids}}]}


def obs(side: str, value: dict) -> Observation:
    return Observation(side, copy.deepcopy(value))


def judge(comparator: Comparator, l1: dict, n1: dict, l2: dict, n2: dict | None, *more: tuple[dict, dict | None],
          **kw):
    """The verdict after rechecks: (l2, n2) first, then each (legacy, rewrite) pair of `more`."""
    a, b = obs("legacy", l1), obs("new", n1)
    first = comparator.compare(PATH, a, b)
    assert first.verdict is VerdictKind.MISMATCH
    rounds = [RecheckReads(obs("legacy", x), None if y is None else obs("new", y)) for x, y in ((l2, n2), *more)]
    return judge_recheck(lambda p, x, y: comparator.compare(p, x, y), PATH, first, a, b, rounds, **kw)


def test_a_vote_landing_between_the_reads_is_raced() -> None:
    before, after = listing({"t1_a": 1, "t1_b": 5}), listing({"t1_a": 2, "t1_b": 5})
    record = judge(Comparator(), before, after, after, after)
    assert record.verdict is VerdictKind.RACED, record.reason
    assert record.context["recheck"]["rounds"][0]["legacy_vs_its_previous_answer"]["differences"]


def test_a_read_bug_coinciding_with_a_concurrent_write_is_still_a_mismatch() -> None:
    before, after = listing({"t1_a": 1, "t1_b": 5}), listing({"t1_a": 2, "t1_b": 5})
    buggy_body = {"t1_b": "body of t1_b, but wrong"}
    n1 = listing({"t1_a": 2, "t1_b": 5}, buggy_body)
    record = judge(Comparator(), before, n1, after, listing({"t1_a": 2, "t1_b": 5}, buggy_body))
    assert record.verdict is VerdictKind.MISMATCH
    assert "body" in (record.reason or "")
    # every read is in the record
    assert set(record.context["recheck"]["rounds"][0]) >= {"legacy_vs_its_previous_answer",
                                                           "rewrite_again_vs_legacy_again"}


def test_a_write_then_an_edit_landing_in_the_window_is_raced_once_the_rewrite_agrees() -> None:
    # L1 lacks the comment; the rewrite saw it just created; the legacy's re-read shows it edited
    # already; the next round both sides show the edit.
    l1 = listing({"t1_a": 1})
    created = listing({"t1_a": 1, "t1_new": 1}, {"t1_new": "first take"})
    edited = listing({"t1_a": 1, "t1_new": 1}, {"t1_new": "second take"})
    record = judge(Comparator(), l1, created, edited, created, (edited, edited))
    assert record.verdict is VerdictKind.RACED, record.reason
    assert len(record.context["recheck"]["rounds"]) == 2


def test_a_rewrite_that_never_agrees_while_the_legacy_moves_is_a_mismatch() -> None:
    rounds = [(listing({"t1_a": s}), listing({"t1_a": s + 1})) for s in (2, 3, 4)]
    record = judge(Comparator(), listing({"t1_a": 1}), listing({"t1_a": 2}), *rounds[0], *rounds[1:])
    assert record.verdict is VerdictKind.MISMATCH
    assert "never agreed" in (record.reason or "")


def test_a_bug_in_the_very_field_the_write_changed_is_still_a_mismatch() -> None:
    # the rewrite adds one to every score; a vote makes the legacy's second answer equal the first wrong one
    l1, l2 = listing({"t1_a": 1}), listing({"t1_a": 2})
    record = judge(Comparator(), l1, listing({"t1_a": 2}), l2, listing({"t1_a": 3}), (l2, listing({"t1_a": 3})))
    assert record.verdict is VerdictKind.MISMATCH, record.reason


def test_a_value_neither_legacy_answer_had_is_a_mismatch() -> None:
    l1, l2 = listing({"t1_a": 1}), listing({"t1_a": 2})
    record = judge(Comparator(), l1, listing({"t1_a": 7}), l2, None)
    assert record.verdict is VerdictKind.MISMATCH


def test_the_legacy_answering_the_same_again_is_not_a_race() -> None:
    l1 = listing({"t1_a": 1})
    record = judge(Comparator(), l1, listing({"t1_a": 2}), l1, listing({"t1_a": 2}))
    assert record.verdict is VerdictKind.MISMATCH
    assert "answered the same" in (record.reason or "")


def test_a_legacy_recheck_that_keeps_failing_keeps_the_mismatch() -> None:
    comparator = Comparator()
    a, b = obs("legacy", listing({"t1_a": 1})), obs("new", listing({"t1_a": 2}))
    first = comparator.compare(PATH, a, b)
    failing = [RecheckReads(Observation("legacy", error="TimeoutError: slow"))] * (FAILED_REREADS_ALLOWED + 1)
    record = judge_recheck(lambda p, x, y: comparator.compare(p, x, y), PATH, first, a, b, failing)
    assert record.verdict is VerdictKind.MISMATCH
    assert f"failed {FAILED_REREADS_ALLOWED + 1} times" in (record.reason or ""), record.reason
    # fewer failures than that, and no more rounds: the mismatch stands, and the reason says they failed
    once = judge_recheck(lambda p, x, y: comparator.compare(p, x, y), PATH, first, a, b, failing[:1])
    assert once.verdict is VerdictKind.MISMATCH and "1 of them failed at the legacy" in (once.reason or "")


def test_a_failed_legacy_recheck_is_read_again_and_a_later_round_can_explain_the_race() -> None:
    """A re-read that timed out (the legacy under load) is no evidence either way: the next round decides."""
    l1, n1 = listing({"t1_a": 1}), listing({"t1_a": 2})
    comparator = Comparator()
    a, b = obs("legacy", l1), obs("new", n1)
    first = comparator.compare(PATH, a, b)
    rounds = [RecheckReads(Observation("legacy", error="TimeoutError: slow")),
              RecheckReads(obs("legacy", n1), obs("new", n1))]
    record = judge_recheck(lambda p, x, y: comparator.compare(p, x, y), PATH, first, a, b, rounds)
    assert record.verdict is VerdictKind.RACED, record.reason


def test_non_deterministic_legacy_fields_feed_the_learned_noise() -> None:
    noise = LearnedNoise(min_samples=3, min_count=2)
    comparator = Comparator(noise=noise)
    taught: list[set[str]] = []

    def learn(path, first, second, fields):
        taught.append(fields)
        comparator.learn(path, first, second, only=fields)

    def tok(i: int, side: str) -> dict:
        return listing({"t1_a": 1}, extra={"token": f"{side}-{i}"})

    for i in range(3):
        # a per-request token: every answer has its own, the rewrite's too; the score is stable
        record = judge(comparator, tok(i, "L1"), tok(i, "N1"), tok(i, "L2"), tok(i, "N2"),
                       (tok(i, "L3"), tok(i, "N3")), (tok(i, "L4"), tok(i, "N4")), learn=learn)
        assert record.verdict is VerdictKind.MISMATCH  # unexplained by a change of state
    assert taught and all(any("token" in f for f in fields) for fields in taught)
    assert any("token" in p for p in noise.trusted(PATH)), noise.to_dict()
    # a write (the legacy settles, the rewrite agrees) teaches nothing
    judge(comparator, listing({"t1_a": 1}), listing({"t1_a": 2}), listing({"t1_a": 2}), listing({"t1_a": 2}),
          learn=learn)
    assert not any("score" in p for p in noise.candidates(PATH)), noise.candidates(PATH)
    # learned: the token alone no longer makes a mismatch
    final = comparator.compare(PATH, obs("legacy", tok(9, "x")), obs("new", tok(9, "y")))
    assert final.verdict is VerdictKind.IGNORED


@pytest.mark.parametrize("between, settled", [
    # sorted in ahead and voted on between the reads: slot 0 holds another thing in each answer, and
    # the score there is 2 in both of the legacy's answers by coincidence
    ({"t1_new": 1, "t1_b": 2, "t1_c": 3}, {"t1_new": 2, "t1_b": 2, "t1_c": 3}),
    # sort=controversial: first while it had an up and a down vote, last once the down vote was
    # taken back; slot 0 holds t1_b in both legacy answers, yet the list's members changed
    ({"t1_new": 1, "t1_b": 2, "t1_c": 3}, {"t1_b": 2, "t1_c": 3, "t1_new": 2}),
], ids=["sorted_in_ahead", "first_then_last"])
def test_a_new_comment_seen_in_a_state_the_legacy_never_showed_is_raced_once_the_rewrite_agrees(
        between: dict, settled: dict) -> None:
    # L1 before the create; the rewrite answered in between; the legacy's re-read shows it settled
    l1 = listing({"t1_b": 2, "t1_c": 3})
    record = judge(Comparator(), l1, listing(between), listing(settled), listing(settled))
    assert record.verdict is VerdictKind.RACED, record.reason


def test_a_wrong_score_in_a_slot_the_legacy_refilled_stays_a_mismatch_when_the_rewrite_never_agrees() -> None:
    l1 = listing({"t1_b": 2, "t1_c": 3})
    legacy_after = listing({"t1_new": 2, "t1_b": 2, "t1_c": 3})
    wrong = listing({"t1_new": 7, "t1_b": 2, "t1_c": 3})  # the rewrite's bug: the new comment's score
    record = judge(Comparator(), l1, wrong, legacy_after, wrong, (legacy_after, wrong))
    assert record.verdict is VerdictKind.MISMATCH
    assert "score" in str(record.differences) and "recheck" in (record.reason or "")


def test_a_wrong_order_that_persists_while_a_comment_is_added_stays_a_mismatch() -> None:
    l1 = listing({"t1_b": 2, "t1_c": 3})
    wrong = listing({"t1_c": 3, "t1_b": 2, "t1_new": 1})  # the rewrite's bug: b and c swapped
    settled = listing({"t1_b": 2, "t1_c": 3, "t1_new": 1})
    record = judge(Comparator(), l1, wrong, settled, wrong, (settled, wrong))
    assert record.verdict is VerdictKind.MISMATCH, record.reason


def _timed(comparator: Comparator, l1: dict, n1: dict, rounds: list[tuple[float, dict, dict]], settle_s: float):
    a, b = obs("legacy", l1), obs("new", n1)
    first = comparator.compare(PATH, a, b)
    reads = [RecheckReads(obs("legacy", x), obs("new", y), at=t) for t, x, y in rounds]
    return judge_recheck(lambda p, x, y: comparator.compare(p, x, y), PATH, first, a, b, reads, settle_s=settle_s)


def test_a_rewrite_still_catching_up_is_read_again_until_it_agrees() -> None:
    # the legacy settled at once; the rewrite's queued votes land over the next rounds
    settled = listing({"t1_a": 3, "t1_new": 2})
    rounds = [(0.0, settled, listing({"t1_a": 3})), (0.05, settled, listing({"t1_a": 3, "t1_new": 1})),
              (0.15, settled, settled)]
    record = _timed(Comparator(), listing({"t1_a": 2}), listing({"t1_a": 3}), rounds, settle_s=0.3)
    assert record.verdict is VerdictKind.RACED, record.reason


def test_both_sides_unchanged_for_the_settle_time_and_still_different_is_a_mismatch() -> None:
    settled, wrong = listing({"t1_a": 3}), listing({"t1_a": 4})
    rounds = [(0.0, settled, wrong), (0.1, settled, wrong), (0.2, settled, wrong), (0.45, settled, wrong),
              (0.9, settled, wrong)]
    record = _timed(Comparator(), listing({"t1_a": 2}), wrong, rounds, settle_s=0.3)
    assert record.verdict is VerdictKind.MISMATCH
    assert "answered the same again" in (record.reason or "")
    assert len(record.context["recheck"]["rounds"]) == 4  # quiet from 0.1 s on: it stands at 0.45 s


def test_a_legacy_still_catching_up_can_explain_a_field_in_a_later_answer() -> None:
    # the rewrite shows a new comment at once; the legacy's projection adds it one round later
    l1 = listing({"t1_b": 2, "t1_c": 3})
    shown = listing({"t1_new": 5, "t1_b": 2, "t1_c": 3})
    moving = listing({"t1_b": 3, "t1_c": 3})  # another vote landed first: the legacy moved elsewhere
    caught_up = listing({"t1_new": 5, "t1_b": 3, "t1_c": 3})
    record = judge(Comparator(), l1, shown, moving, listing({"t1_new": 5, "t1_b": 3, "t1_c": 3}),
                   (caught_up, caught_up))
    assert record.verdict is VerdictKind.RACED, record.reason


def test_a_field_the_legacy_never_explains_is_a_mismatch_once_it_settles() -> None:
    l1 = listing({"t1_a": 1, "t1_b": 5})
    buggy = listing({"t1_a": 1, "t1_b": 5}, {"t1_b": "wrong"})
    moving, settled = listing({"t1_a": 2, "t1_b": 5}), listing({"t1_a": 3, "t1_b": 5})
    record = judge(Comparator(), l1, buggy, moving, buggy, (settled, buggy), (settled, buggy))
    assert record.verdict is VerdictKind.MISMATCH
    assert "not explained" in (record.reason or "") and "body" in (record.reason or "")
    assert len(record.context["recheck"]["rounds"]) == 3  # read again while the legacy moved, then it stood


def _tree(shown: list[str], hidden: list[str]) -> dict:
    """A thread listing: comments shown best-first, then a `more` stub holding the ids it hides."""
    kids: list[dict] = [{"kind": "t1", "data": {"name": n, "score": 1, "body": f"body of {n}"}} for n in shown]
    kids.append({"kind": "more", "data": {"count": len(hidden), "children": hidden}})
    return {"status": 200, "body": [{"kind": "Listing", "data": {"children": kids}}]}


def test_a_new_comment_the_rewrite_showed_before_its_votes_sank_it_into_a_more_stub_is_raced() -> None:
    """The legacy's answers: before the create, then with the new comment hidden in the `more` stub
    (its votes ranked it last). The rewrite answered in between, created and not yet voted down, so
    it showed the comment first and every position after it shifted. The stub gaining an id is the
    legacy changing the members of the list the stub sits in, so the shift is its own change; the
    rewrite's re-read agrees, so this is a race."""
    l1, l2 = _tree(["t1_a", "t1_b"], ["t1_c"]), _tree(["t1_a", "t1_b"], ["t1_c", "t1_new"])
    n1 = _tree(["t1_new", "t1_a", "t1_b"], ["t1_c"])
    assert judge(Comparator(), l1, n1, l2, l2).verdict is VerdictKind.RACED


def test_a_shifted_listing_that_never_converges_is_still_a_mismatch() -> None:
    l1, l2 = _tree(["t1_a", "t1_b"], ["t1_c"]), _tree(["t1_a", "t1_b"], ["t1_c", "t1_new"])
    n1 = _tree(["t1_new", "t1_a", "t1_b"], ["t1_c"])   # the rewrite keeps showing it (a ranking bug)
    record = judge(Comparator(), l1, n1, l2, n1, (l2, n1), (l2, n1), settle_s=0.0)
    assert record.verdict is VerdictKind.MISMATCH, record.reason


def test_a_listing_shifted_while_the_legacy_changed_nothing_in_a_more_stub_is_a_mismatch() -> None:
    """Only a stub's hidden ids count as the list's members: a score change inside it does not."""
    l1, l2 = _tree(["t1_a", "t1_b"], ["t1_c"]), _tree(["t1_a", "t1_b"], ["t1_c"])
    l2["body"][0]["data"]["children"][1]["data"]["score"] = 2
    n1 = _tree(["t1_b", "t1_a"], ["t1_c"])
    assert judge(Comparator(), l1, n1, l2, l2).verdict is VerdictKind.MISMATCH

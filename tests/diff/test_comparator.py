"""Verdict semantics, timings, records, and the round trip of VerdictRecord through JSON."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from diff_reports.comparator import Comparator
from diff_reports.rules import IgnoreRule
from diff_reports.types import Difference, Observation, VerdictKind, VerdictRecord
from tests.diff.strategies import json_pairs, json_values

PATH = "update.memcached.parity"


def test_match_keeps_no_values_by_default_but_can() -> None:
    legacy, new = Observation("legacy", {"a": (1, 2)}, duration_s=0.25), Observation("new", {"a": [1, 2]}, duration_s=0.5)
    record = Comparator().compare(PATH, legacy, new, entity="t1_abc", request_id="r-1")
    assert record.verdict is VerdictKind.MATCH and record.differences == () and record.reason is None
    assert (record.entity, record.request_id, record.legacy_value) == ("t1_abc", "r-1", None)
    assert record.timings["legacy_s"] == 0.25 and record.timings["new_s"] == 0.5 and record.timings["compare_s"] >= 0
    kept = Comparator(keep_match_values=True).compare(PATH, legacy, new)
    assert kept.legacy_value == kept.new_value == {"a": [1, 2]}


def test_legacy_raised_is_skipped_with_the_reason() -> None:
    record = Comparator().compare(PATH, Observation("legacy", error="ConnectionError: prod down"), Observation("new", {"a": 1}))
    assert record.verdict is VerdictKind.SKIPPED and "ConnectionError: prod down" in record.reason
    assert record.new_value == {"a": 1}


def test_new_raised_is_a_shadow_error_with_the_error() -> None:
    for legacy_value in ({"a": 1}, None):
        record = Comparator().compare(PATH, Observation("legacy", legacy_value), Observation("new", error="TimeoutError: 2.0s"))
        assert record.verdict is VerdictKind.SHADOW_ERROR and "TimeoutError: 2.0s" in record.reason
    both = Comparator().compare(PATH, Observation("legacy", error="E: a"), Observation("new", error="E: b"))
    assert both.verdict is VerdictKind.SKIPPED  # nothing to compare against


def test_mismatch_and_ignored() -> None:
    comparator = Comparator([IgnoreRule("ttl", ("ttl",), "seconds tick between the two reads", tolerance_abs=2)])
    legacy = Observation("legacy", {"ttl": 43200, "value": {"_ups": 1}})
    ignored = comparator.compare(PATH, legacy, Observation("new", {"ttl": 43199, "value": {"_ups": 1}}))
    assert ignored.verdict is VerdictKind.IGNORED and ignored.differences[0].ignored_by == "ttl"
    assert "ttl" in ignored.reason
    mismatch = comparator.compare(PATH, legacy, Observation("new", {"ttl": 43100, "value": {"_ups": 2}}))
    assert mismatch.verdict is VerdictKind.MISMATCH
    assert [(d.path, d.ignored_by) for d in mismatch.differences] == [("ttl", None), ("value._ups", None)]
    assert mismatch.legacy_value == {"ttl": 43200, "value": {"_ups": 1}}


def test_comparison_failures_become_unavailable_records() -> None:
    def broken(value: Any, ctx: Any) -> Any:
        raise RuntimeError("bad processor")

    from diff_reports.normalise import Normaliser

    record = Comparator(normaliser=Normaliser([broken])).compare(PATH, Observation("legacy", 1), Observation("new", 1))
    # every exception is a verdict: unavailable, with the reason, and flagged for the `raised` hook
    assert record.verdict is VerdictKind.UNAVAILABLE and "bad processor" in record.reason
    assert "bad processor" in record.context["raised"]


@settings(max_examples=150, deadline=None)
@given(json_pairs(), st.sampled_from([None, "t1_abc"]), st.booleans())
def test_records_round_trip_through_dict_and_json(pair: tuple[Any, Any], entity: str | None, redact: bool) -> None:
    comparator = Comparator([IgnoreRule("x", ("*.x",), "why")], redact_bodies=redact, keep_match_values=True)
    record = comparator.compare(PATH, Observation("legacy", pair[0]), Observation("new", pair[1]), entity=entity)
    assert VerdictRecord.from_dict(record.to_dict()) == record
    assert VerdictRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record


@given(json_values)
@settings(max_examples=100, deadline=None)
def test_equal_values_always_match(value: Any) -> None:
    assert Comparator().compare(PATH, Observation("legacy", value), Observation("new", value)).verdict is VerdictKind.MATCH


def test_shadow_error_record_round_trips() -> None:
    record = VerdictRecord("create.response", VerdictKind.SHADOW_ERROR, reason="TimeoutError",
                           differences=(Difference("a", "changed", 1, 2, "r"),))
    assert VerdictRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record

"""Canonical form and the declared normalisation processors."""

from __future__ import annotations

import datetime as dt
import enum
import json
import pickle
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import given, settings

from diff_reports.value_diff import fast_equal
from diff_reports.normalise import (
    NormaliseContext,
    Normaliser,
    canonical,
    canonicalise,
    drop_fields,
    rewrite_fields,
    round_floats,
)
from tests.diff.strategies import json_values

CTX = NormaliseContext("read.info.response", "legacy")
UTC = dt.timezone.utc


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_json_values_are_already_canonical_and_idempotent(value: Any) -> None:
    once = canonical(value)
    assert fast_equal(once, canonical(once))
    assert fast_equal(json.loads(json.dumps(once)), once)  # plain JSON, nothing lost


class Colour(enum.Enum):
    RED = "red"


@dataclass(frozen=True)
class Row:
    key: str
    value: bytes


def test_python_types_become_json() -> None:
    value = {
        1: (1, 2),
        "set": {3, 1, 2},
        "when": dt.datetime(2020, 1, 1, 0, 0, 1, 500000, tzinfo=UTC),
        "naive": dt.datetime(2020, 1, 1),
        "day": dt.date(2020, 1, 2),
        "dec": Decimal("3"),
        "dec2": Decimal("1.5"),
        "enum": Colour.RED,
        "bytes": b"caf\xc3\xa9",
        "binary": b"\xff\x00",
        "nan": float("nan"),
        "neg0": -0.0,
        "row": Row("k", b"v"),
    }
    assert canonical(value) == {
        "1": [1, 2],
        "set": [1, 2, 3],
        "when": 1577836801.5,
        "naive": 1577836800.0,
        "day": "2020-01-02",
        "dec": 3,
        "dec2": 1.5,
        "enum": "red",
        "bytes": "café",
        "binary": {"$bytes": "/wA="},
        "nan": {"$float": "nan"},
        "neg0": 0.0,
        "row": {"key": "k", "value": "v"},
    }
    assert fast_equal(canonical({"x": float("nan")}), canonical({"x": float("nan")}))
    assert not fast_equal(canonical({"x": float("nan")}), canonical({"x": None}))


def test_timezones_do_not_matter_for_the_same_instant() -> None:
    a = dt.datetime(2020, 1, 1, 8, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    b = dt.datetime(2020, 1, 1, 0, tzinfo=UTC)
    assert canonical(a) == canonical(b)


def test_pickles_are_decoded_structurally_keeping_the_protocol() -> None:
    obj = {"_id": 7, "_date": dt.datetime(2020, 1, 1, tzinfo=UTC), "_t": {"body": "hi"}}
    assert canonical(pickle.dumps(obj, protocol=2)) == {
        "$pickle": {"protocol": 2, "value": {"_id": 7, "_date": 1577836800.0, "_t": {"body": "hi"}}}
    }
    # Same object, another protocol: equal values, the protocol difference still shows.
    assert canonical(pickle.dumps(obj, protocol=4))["$pickle"]["protocol"] == 4
    row = ("editted", pickle.dumps(dt.datetime(2020, 1, 1, tzinfo=UTC), protocol=0).decode("latin-1"), "pickle")
    assert canonical(row) == ["editted", {"$pickle": {"protocol": 0, "value": 1577836800.0}}, "pickle"]


def test_unsafe_pickles_are_not_loaded() -> None:
    class Evil:
        def __reduce__(self):  # pragma: no cover - never called by the safe unpickler
            return (print, ("pwned",))

    raw = pickle.dumps(Evil(), protocol=2)
    out = canonical(raw)
    assert "$bytes" in out  # left raw, still comparable


def test_drop_rewrite_round_with_scope() -> None:
    value = canonical({"data": {"created": 1.0, "score": 1.23456, "children": [{"ups": 1}, {"ups": 2}]}})
    dropped = drop_fields(["*.created", "data.children[*].ups"])(value, CTX)
    assert dropped == {"data": {"score": 1.23456, "children": [{}, {}]}}
    assert drop_fields(["*.created"], applies_to=["create.*"])(value, CTX) == value  # out of scope
    assert round_floats(["*.score"], 2)(value, CTX)["data"]["score"] == 1.23
    rewritten = rewrite_fields(["data.children[1].ups"], lambda v: v * 10)(value, CTX)
    assert rewritten["data"]["children"] == [{"ups": 1}, {"ups": 20}]
    assert value["data"]["children"][1]["ups"] == 2  # processors do not mutate their input


def test_pipeline_runs_in_order_and_drops_http_headers_by_default() -> None:
    seen: list[str] = []

    def spy(value: Any, ctx: NormaliseContext) -> Any:
        seen.append(ctx.side)
        return value

    out = Normaliser([canonicalise, spy, drop_fields(["b"])])({"a": (1,), "b": 2}, CTX)
    assert out == {"a": [1]} and seen == ["legacy"]
    http = {"status": 200, "body": {"x": 1}, "headers": {"Date": "now"}}
    assert Normaliser()(http, CTX) == {"status": 200, "body": {"x": 1}}

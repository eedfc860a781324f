"""Pure parts: base36 and fullnames, EAV kinds, r2 JSON, and the float32 sort keys."""

from __future__ import annotations

import math
import pickle
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from legacy_adapter.codec import (
    MalformedName, decode_value, encode_value, from36, parse_fullname, r2_dumps, to36, ts6, dt_from_epoch,
)
from legacy_adapter.sorts import confidence, controversial, f32, sort_key
from tests.support.r2_reference import c_confidence


def test_base36_and_fullnames() -> None:
    assert (to36(1), to36(36), to36(35)) == ("1", "10", "z")
    assert from36("10") == 36 and parse_fullname("t3_haucpf") == ("link", int("haucpf", 36))
    assert parse_fullname("t2_1") == ("account", 1) and parse_fullname("t5_2qh0u")[0] == "subreddit"
    for bad in ("t1_", "t4_1", "t1_A", "t1_0", "t1_" + to36(2**63), "x", "t1-1", "T1_1", "t1_1 ", "t1_-1"):
        with pytest.raises(MalformedName):
            parse_fullname(bad)
    assert from36(to36(2**63 - 1)) == 2**63 - 1


@given(st.integers(min_value=1, max_value=2**63 - 1))
def test_base36_round_trip(n: int) -> None:
    assert from36(to36(n)) == n


def test_value_kinds() -> None:
    when = datetime(2020, 6, 17, 16, 17, 27, 123456, tzinfo=timezone.utc)
    assert encode_value(True) == ("t", "bool") and encode_value(False) == ("f", "bool")
    assert encode_value("x") == ("x", "str") and encode_value(7) == ("7", "num") and encode_value(None) == (None, "none")
    text, kind = encode_value(when)
    assert kind == "pickle" and text == pickle.dumps(when, protocol=0).decode("latin-1")
    for value in (True, False, "é\U0001F600", 0, -3, None, when, {"a": [1.5]}):
        assert decode_value(*encode_value(value)) == value


def test_r2_json_and_times() -> None:
    assert r2_dumps({"a": [1, "\U0001F600"], "b": None}) == b'{"a": [1, "\\ud83d\\ude00"], "b": null}'
    assert ts6(dt_from_epoch(1700000000.5)) == "1700000000.500000"
    assert ts6(dt_from_epoch(0.000001)) == "0.000001"


def test_confidence_is_r2s_mixed_precision_wilson() -> None:
    assert confidence(0, 0) == 0.0
    doubles = 0
    for ups, downs in ((1, 0), (10, 2), (100, 100), (3, 7), (23567, 0), (1, 51), (2, 1), (7, 3)):
        value = confidence(ups, downs)
        assert value == c_confidence(ups, downs)
        doubles += f32(value) != value  # the result is a double, not rounded to float32
        n = ups + downs
        p = ups / n
        z = 1.281551565545
        exact = (p + z * z / (2 * n) - z * math.sqrt((p * (1 - p) + z * z / (4 * n)) / n)) / (1 + z * z / n)
        assert abs(value - exact) < 1e-5
    assert doubles > 0


def test_controversial_and_order() -> None:
    assert controversial(5, 0) == 0.0 and controversial(1, 2) == 3 ** 0.5 and controversial(4, 2) == 6 ** 0.5
    objs = [{"_id": i, "_ups": u, "_downs": d} for i, u, d in ((3, 5, 0), (1, 5, 0), (2, 9, 1), (4, 1, 1))]
    assert [o["_id"] for o in sorted(objs, key=sort_key("top"))] == [2, 1, 3, 4]  # ties by ascending id
    assert [o["_id"] for o in sorted(objs, key=sort_key("new"))] == [4, 3, 2, 1]
    assert [o["_id"] for o in sorted(objs, key=sort_key("controversial"))] == [4, 2, 1, 3]

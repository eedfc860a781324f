"""Pure format rules: names, EAV values, pickles, JSON bytes and sort keys (no servers)."""

from __future__ import annotations

import pickle
from datetime import datetime, timezone

from hypothesis import given
from hypothesis import strategies as st

from new_comments_service.eav import decode, encode, stored_comment_attrs
from new_comments_service.ids import MAX_ID, Fullname, from36, parse_fullname, to36
from new_comments_service.jsonfmt import api_bytes, cdc_text
from new_comments_service.model import RequestTime, Thing, cache_bytes
from new_comments_service.sorts import confidence, controversy, sort_things
from tests.support.r2_reference import c_confidence

UTC = timezone.utc


def test_base36_and_fullnames() -> None:
    assert (to36(1), to36(36), to36(35)) == ("1", "10", "z")
    assert parse_fullname("t1_10") == Fullname("comment", 36)
    assert parse_fullname("t5_a") == Fullname("subreddit", 10)
    for bad in ("t1_", "t4_1", "t1_0", "t1_A", "t1_1-", "1", "t1_" + to36(MAX_ID + 1), "t3__1", ""):
        assert parse_fullname(bad) is None, bad
    assert from36(to36(MAX_ID)) == MAX_ID


@given(st.integers(min_value=1, max_value=MAX_ID))
def test_base36_round_trip(n: int) -> None:
    assert from36(to36(n)) == n and to36(n) == to36(n).lower()


def test_eav_value_kinds() -> None:
    when = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert encode(True) == ("t", "bool") and encode(False) == ("f", "bool")
    assert encode(7) == ("7", "num") and encode("é") == ("é", "str") and encode(None) == (None, "none")
    value, kind = encode(when)
    assert kind == "pickle" and value == pickle.dumps(when, protocol=0).decode("latin-1")
    assert value.startswith("cdatetime\ndatetime\n")  # protocol 0 is text
    assert decode(value, kind) == when and decode("t", "bool") is True and decode("12", "num") == 12
    # only attributes that differ from their defaults are stored; types matter (0 is not False)
    attrs = stored_comment_attrs({"body": "b", "author_id": 1, "link_id": 2, "sr_id": 3, "parent_id": None,
                                  "editted": False, "gilded": 0, "stickied": 0, "distinguished": None})
    assert attrs == {"body": "b", "author_id": 1, "link_id": 2, "sr_id": 3, "stickied": 0}


def test_cache_value_is_protocol_2_plain_dict() -> None:
    date = datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    thing = Thing(9, 3, 1, False, False, date, 4, {"body": "x", "author_id": 1, "link_id": 2, "sr_id": 3,
                                                   "editted": date})
    raw = cache_bytes(thing)
    assert raw[:2] == b"\x80\x02" and b"legacy" not in raw and b"__main__" not in raw
    assert pickle.loads(raw) == {"_id": 9, "_ups": 3, "_downs": 1, "_deleted": False, "_spam": False, "_date": date,
                                 "_version": 4, "_t": {"body": "x", "author_id": 1, "link_id": 2, "sr_id": 3,
                                                       "editted": date}}


def test_json_bytes_like_simplejson() -> None:
    obj = {"b": "caf\u00e9 \U0001F600", "a": [1.0, None, False], "n": 1700000000.0}
    assert api_bytes(obj) == b'{"b": "caf\\u00e9 \\ud83d\\ude00", "a": [1.0, null, false], "n": 1700000000.0}'
    assert cdc_text({"z": [None, 1], "a": ["\u00e9", 2.5]}) == '{"a":["\\u00e9",2.5],"z":[null,1]}'


def test_request_time_is_exact_microseconds() -> None:
    rt = RequestTime.parse("1700000000.123456")
    assert rt.text == "1700000000.123456" and rt.dt == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
    assert RequestTime.from_clock(1700000000.25).text == "1700000000.250000"
    assert RequestTime.parse("nan") is None and RequestTime.parse("x") is None


def test_confidence_matches_r2s_mixed_precision() -> None:
    pairs = [(1, 0), (2, 0), (5, 2), (100, 3), (2, 2), (0, 3), (10, 0), (1, 1), (3, 7), (1000, 999),
             (12345, 678), (1, 5), (0, 9), (0, 5)]
    for ups, downs in pairs:
        assert confidence(ups, downs) == c_confidence(ups, downs), (ups, downs)
    assert confidence(0, 0) == 0.0
    assert confidence(0, 9) > confidence(0, 5)  # float32 throughout would tie them at 0.0


def test_controversy_and_tie_order() -> None:
    assert controversy(0, 5) == 0.0 and controversy(4, 2) == 6 ** 0.5 and controversy(2, 4) == 6 ** 0.5
    date = datetime(2024, 1, 1, tzinfo=UTC)
    things = [Thing(i, 2, 0, False, False, date, 1) for i in (5, 3, 4)]
    for sort in ("confidence", "top", "controversial", "old"):
        assert [t.thing_id for t in sort_things(things, sort)] == [3, 4, 5]
    assert [t.thing_id for t in sort_things(things, "new")] == [5, 4, 3]

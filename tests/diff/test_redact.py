"""Bodies are redacted in what records keep, while comparison sees the real text."""

from __future__ import annotations

import hashlib
import json

from diff_reports.comparator import Comparator
from diff_reports.redact import redact, redact_text
from diff_reports.types import Observation, VerdictKind


def marker(text: str) -> dict:
    return {"redacted": True, "sha256": hashlib.sha256(text.encode()).hexdigest()[:16], "length": len(text)}


def test_marker_is_hash_prefix_and_length() -> None:
    assert redact_text("héllo") == marker("héllo") and marker("héllo")["length"] == 5


def test_body_text_selftext_keys_rows_and_cdc_changes() -> None:
    value = {
        "data": {"body": "secret", "author": "bob", "selftext": "post text", "text": "form text"},
        "deleted": {"body": "[deleted]"},
        "rows": [["author_id", "5", "num"], ["body", "row secret", "str"]],
        "dict_rows": [{"key": "body", "value": "dict secret", "kind": "str"}],
        "event": {"changes": json.dumps({"body": ["old", "new"], "ups": [None, 1]}, sort_keys=True, separators=(",", ":"))},
        "cache": {"_t": {"body": "cached"}},
    }
    out = redact(value)
    assert out["data"] == {"body": marker("secret"), "author": "bob", "selftext": marker("post text"), "text": marker("form text")}
    assert out["deleted"] == {"body": "[deleted]"}  # placeholders carry no user text
    assert out["rows"] == [["author_id", "5", "num"], ["body", marker("row secret"), "str"]]
    assert out["dict_rows"] == [{"key": "body", "value": marker("dict secret"), "kind": "str"}]
    assert json.loads(out["event"]["changes"]) == {"body": [marker("old"), marker("new")], "ups": [None, 1]}
    assert out["cache"] == {"_t": {"body": marker("cached")}}
    assert "secret" not in json.dumps(out) and "cached" not in json.dumps(out)
    assert value["data"]["body"] == "secret"  # the input is not changed


def test_http_envelope_body_is_walked_not_redacted() -> None:
    out = redact({"status": 200, "body": {"json": {"data": {"things": [{"data": {"body": "x"}}]}}}})
    assert out["status"] == 200 and out["body"]["json"]["data"]["things"][0]["data"]["body"] == marker("x")


def _obs(side: str, body: str) -> Observation:
    return Observation(side, {"status": 200, "body": {"data": {"body": body, "id": "1"}}})


def test_records_are_redacted_but_comparison_uses_the_real_text() -> None:
    comparator = Comparator()
    # Same length, different text: only the unredacted comparison can tell.
    record = comparator.compare("create.response", _obs("legacy", "hello"), _obs("new", "hellO"))
    assert record.verdict is VerdictKind.MISMATCH
    (d,) = record.differences
    assert (d.path, d.legacy, d.new) == ("body.data.body", marker("hello"), marker("hellO"))
    assert record.legacy_value["body"]["data"]["body"] == marker("hello")
    assert record.new_value["body"]["data"]["body"] == marker("hellO")
    assert "hello" not in json.dumps(record.to_dict())


def test_redaction_can_be_turned_off() -> None:
    record = Comparator(redact_bodies=False).compare("create.response", _obs("legacy", "hello"), _obs("new", "hellO"))
    assert record.differences[0].legacy == "hello" and record.legacy_value["body"]["data"]["body"] == "hello"


def test_differences_inside_rows_are_redacted() -> None:
    legacy = Observation("legacy", {"data": [("author_id", "5", "num"), ("body", "one", "str")]})
    new = Observation("new", {"data": [("author_id", "5", "num"), ("body", "two", "str")]})
    (d,) = Comparator().compare("create.postgres.parity", legacy, new).differences
    assert (d.path, d.legacy, d.new) == ("data[1][1]", marker("one"), marker("two"))

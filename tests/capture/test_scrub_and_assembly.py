"""Scrubbing, settings wiring and dataset assembly (no servers needed)."""

from __future__ import annotations

from pathlib import Path

from config import settings_from_mapping
from datasets.from_capture import assemble
from datasets.scrub import Scrubber
from shadow_proxy.capture.from_settings import recorder_from_settings


def test_pseudonyms_are_keyed_and_consistent() -> None:
    a, b = Scrubber("key-a"), Scrubber("key-b")
    assert a.user("alice") == a.user("alice") != a.user("bob")
    assert a.user("alice") != b.user("alice")
    assert a.user("alice").startswith("user_") and len(a.user("alice")) == 15
    assert Scrubber().user("alice") != Scrubber().user("alice")       # no key: random per capture
    assert a.user("user_0123456789") == "user_0123456789" and a.user("voter_007") == "voter_007"
    assert Scrubber("k", keep_pseudonyms=False).user("voter_007").startswith("user_")


def test_text_scrubbing() -> None:
    s = Scrubber("k")
    assert s.text("mail bob.smith+x@mail.example.co.uk, www.example.org/a or http://x.io/?q=1 (ok)") == \
        "mail [email], [url] or [url] (ok)"
    assert s.text("from 192.168.1.20 and 2001:db8::ff00:42 at 12:30:45") == "from [ip] and [ip] at 12:30:45"
    filler = Scrubber("k", keep_text=False).text("x" * 25)
    assert len(filler) == 25 and "x" not in filler


def test_recorder_from_settings(tmp_path: Path) -> None:
    assert recorder_from_settings(settings_from_mapping({}).capture) is None
    settings = settings_from_mapping({"capture": {"enabled": True, "path": str(tmp_path / "c.jsonl"), "sample_pct": 5,
                                                  "buffer_size": 3, "keep_text": False, "pseudonym_key": "k"}})
    recorder = recorder_from_settings(settings.capture)
    assert recorder is not None and recorder.sampler.pct == 5 and recorder.buffer_size == 3
    assert recorder.scrubber.user("alice") == Scrubber("k").user("alice") and not recorder.scrubber.keep_text


def test_assembly_drops_what_does_not_resolve() -> None:
    seed = [{"kind": "header"}, {"kind": "account", "name": "u1"}, {"kind": "subreddit", "name": "s"},
            {"kind": "link", "fullname": "t3_a", "subreddit": "s", "author": "u1", "title": "t", "created_utc": 0.0},
            {"kind": "request", "seq": 1, "op": "read_info", "ids": ["t3_a"]}]  # the seed's own log is not kept
    log = [{"kind": "request", "seq": 5, "op": "increment", "user": "u2", "thing": "t1_new", "dir": 1},
           {"kind": "request", "seq": 6, "op": "create", "user": "u2", "parent": "t3_a", "text": "x", "ref": "t1_new"},
           {"kind": "request", "seq": 7, "op": "increment", "user": "u3", "thing": "t1_new", "dir": 1},
           {"kind": "request", "seq": 8, "op": "read_comments", "link": "t3_b", "sort": "new"}]
    records = assemble(log, seed)
    assert records[0]["dropped_requests"] == {"unknown_link": 1, "unknown_thing": 1}
    assert [r["name"] for r in records if r["kind"] == "account"] == ["u1", "u2", "u3"]
    assert [(r["seq"], r["op"]) for r in records if r["kind"] == "request"] == [(1, "create"), (2, "increment")]

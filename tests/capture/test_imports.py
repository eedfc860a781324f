"""GoReplay and HAR imports of hand-written files (fixtures/), the CLI command, malformed input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from click.testing import CliRunner

from datasets.from_capture import read_records, seed_of, write_capture_dataset
from datasets.scrub import Scrubber
from datasets.imports.common import ImportFormatError
from datasets.imports.goreplay import read_goreplay
from datasets.imports.har import read_har
from datasets.validate import validate_dataset
from tapcompare.commands.dataset_import import import_cmd

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "import-key"


def _user(name: str) -> str:
    return Scrubber(KEY).user(name)


def test_goreplay_requests_become_scrubbed_records() -> None:
    result = read_goreplay(FIXTURES / "traffic.gor", Scrubber(KEY))
    assert result.records == [
        {"kind": "request", "seq": 1, "op": "read_comments", "link": "t3_abc", "sort": "top", "limit": 20, "depth": 3},
        # the ref is the id the legacy assigned, from the original (type 2, chunked) response; type 3 is ignored
        {"kind": "request", "seq": 2, "op": "create", "user": _user("alice"), "parent": "t3_abc",
         "text": "hi mail me at [email] or see [url]", "ref": "t1_zz"},
        {"kind": "request", "seq": 3, "op": "increment", "user": _user("bob"), "thing": "t1_zz", "dir": 1},
        {"kind": "request", "seq": 4, "op": "update", "user": _user("alice"), "thing": "t1_zz", "text": "edited from [ip]"},
        # refused (403, no auth header): kept, to be refused again on replay, again with no header (null)
        {"kind": "request", "seq": 5, "op": "increment", "user": None, "invalid": "user", "thing": "t1_x", "dir": 1},
        {"kind": "request", "seq": 6, "op": "read_info", "ids": ["t1_x", "t1_zz"]},
        {"kind": "request", "seq": 7, "op": "read_morechildren", "link": "t3_abc", "children": ["x"], "sort": "new"},
        # no response recorded: a placeholder ref (nothing later can name it)
        {"kind": "request", "seq": 8, "op": "create", "user": _user("carol"), "parent": "t1_qq",
         "text": "reply to unknown", "ref": "ref_9"},
    ]
    assert result.skipped == {"unknown_path": 1}


def test_har_entries_become_scrubbed_records() -> None:
    result = read_har(FIXTURES / "traffic.har", Scrubber(KEY))
    ops = [(r["op"], r.get("ref") or r.get("thing") or r.get("link") or r.get("ids")) for r in result.records]
    assert ops == [("read_comments", "t3_abc"), ("create", "t1_zz"), ("create", "t1_zy"), ("increment", "t1_zy"),
                   ("update", "t1_zz"), ("increment", "t1_x"), ("read_info", ["t1_zz", "t1_x"])]
    create, reply = result.records[1:3]
    assert create["text"] == "write to [email]"             # postData.params
    assert reply["text"] == "a reply from [ip]" and reply["parent"] == "t1_zz"  # postData.text; base64 response
    assert result.records[5]["user"] == _user("dave")      # status 0: no response, still imported (not a create)
    # the refused vote (400) is no vote the dataset format can say (dir 7): counted, not kept
    assert result.skipped == {"unknown_path": 1, "invalid_option": 1}


@pytest.mark.parametrize("reader,fixture,where", [
    (read_goreplay, "malformed.gor", "record 2: bad meta line '9 zz not-a-time'"),
    (read_har, "malformed.har", "entry 1: request.url missing"),
])
def test_malformed_record_fails_naming_it(reader, fixture: str, where: str) -> None:
    with pytest.raises(ImportFormatError) as err:
        reader(FIXTURES / fixture, Scrubber(KEY))
    assert str(err.value).startswith(f"{FIXTURES / fixture}: {where}")


def test_malformed_records_can_be_skipped_and_counted() -> None:
    gor = read_goreplay(FIXTURES / "malformed.gor", Scrubber(KEY), strict=False)
    assert [r["op"] for r in gor.records] == ["read_info", "increment"]
    assert gor.skipped == {"malformed": 3}
    assert [m.split(": ", 2)[1] for m in gor.malformed] == ["record 2", "record 3", "record 4"]
    assert "Content-Length says 99" in gor.malformed[1] and "bad request line" in gor.malformed[2]
    har = read_har(FIXTURES / "malformed.har", Scrubber(KEY), strict=False)
    assert har.skipped == {"malformed": 2} and len(har.records) == 2
    assert har.malformed[1].endswith("entry 2: expected an object, got str")


def test_not_a_har_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.har"
    bad.write_text('{"log": {"version": "1.2"}}')
    with pytest.raises(ImportFormatError, match="expected an object with a log.entries list"):
        read_har(bad, Scrubber(KEY))


def test_import_plus_seed_is_a_valid_dataset(tmp_path: Path) -> None:
    result = read_goreplay(FIXTURES / "traffic.gor", Scrubber(KEY))
    seed = seed_of(read_records(FIXTURES / "seed.jsonl"))
    summary = write_capture_dataset(result.records, seed, tmp_path / "out.jsonl")
    # the reply to t1_qq (neither seeded nor created) is dropped and counted; every user got an account
    assert summary.header["dropped_requests"] == {"unknown_parent": 1}
    assert summary.requests == {"read_comments": 1, "create": 1, "increment": 2, "update": 1, "read_info": 1,
                                "read_morechildren": 1}
    accounts = [r["name"] for r in read_records(tmp_path / "out.jsonl") if r["kind"] == "account"]
    assert accounts == ["user_0000000001", _user("alice"), _user("bob")]


@pytest.mark.parametrize("fmt,fixture", [("goreplay", "traffic.gor"), ("har", "traffic.har")])
def test_cli_import(tmp_path: Path, fmt: str, fixture: str) -> None:
    out = tmp_path / "imported.jsonl.gz"
    res = CliRunner().invoke(import_cmd, ["--from", fmt, str(FIXTURES / fixture), "--seed", str(FIXTURES / "seed.jsonl"),
                                          "--out", str(out), "--pseudonym-key", KEY], obj={})
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.output
    summary = validate_dataset(out)
    assert summary.header["source"] == f"import:{fmt}"
    text = gzip.decompress(out.read_bytes()).decode()
    for secret in ("alice", "bob", "carol", "dave", "example.com", "192.168", "10.1.2.3", "sid=", "session"):
        assert secret not in text, secret


def test_cli_malformed_is_a_clear_error_unless_skipped(tmp_path: Path) -> None:
    args = ["--from", "har", str(FIXTURES / "malformed.har"), "--seed", str(FIXTURES / "seed.jsonl"),
            "--out", str(tmp_path / "o.jsonl")]
    res = CliRunner().invoke(import_cmd, args, obj={})
    assert res.exit_code == 1 and "entry 1: request.url missing" in res.output
    res = CliRunner().invoke(import_cmd, [*args, "--skip-malformed"], obj={})
    assert res.exit_code == 0, res.output
    assert "skipped: " in res.output and "'malformed': 2" in res.output

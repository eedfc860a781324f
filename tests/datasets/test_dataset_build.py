"""Datasets built from the real threads: deterministic, anonymised, and faithful to what was observed."""

from __future__ import annotations

import gzip
import unicodedata
from collections import defaultdict
from pathlib import Path

import orjson
import pytest

from datasets.build import BuildOptions, build_dataset
from datasets.format import SORTS, DatasetError, write_dataset
from datasets.validate import validate_dataset
from replay.coverage import wilson_float64
from tests.support.paths import reddit_threads_dir


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return build_dataset(reddit_threads_dir(), BuildOptions(seed=11))


@pytest.fixture(scope="module")
def originals() -> dict[str, dict]:
    out = {}
    for path in reddit_threads_dir().glob("*.ndjson"):
        for line in path.read_text().splitlines():
            row = orjson.loads(line)
            out[row["name"]] = row
    return out


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path, records: list[dict]) -> None:
    write_dataset(tmp_path / "a.jsonl", records)
    write_dataset(tmp_path / "b.jsonl", build_dataset(reddit_threads_dir(), BuildOptions(seed=11)))
    write_dataset(tmp_path / "c.jsonl", build_dataset(reddit_threads_dir(), BuildOptions(seed=12)))
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert (tmp_path / "a.jsonl").read_bytes() != (tmp_path / "c.jsonl").read_bytes()


def test_authors_are_anonymised_consistently(records: list[dict], originals: dict[str, dict]) -> None:
    real_authors = {r["author"] for r in originals.values()} - {"[deleted]"}
    text = orjson.dumps([r for r in records if r["kind"] in ("account", "comment", "request")]).decode()
    leaked = [a for a in list(real_authors)[:400] if f'"{a}"' in text]
    assert not leaked, f"real author names leaked: {leaked[:5]}"
    pseudonym: dict[str, str] = {}
    for r in records:
        if r["kind"] == "comment" and r["author"] != "[deleted]" and not r.get("synthetic"):
            real = originals[r["fullname"]]["author"]
            assert pseudonym.setdefault(real, r["author"]) == r["author"]


def test_creates_in_real_order_including_replies_to_replies(records: list[dict], originals: dict[str, dict]) -> None:
    creates = [r for r in records if r.get("op") == "create" and "probe" not in r]
    assert creates
    seen = {r["fullname"] for r in records if r["kind"] in ("link", "comment")}
    reply_to_created = 0
    per_link_times: dict[str, list[float]] = defaultdict(list)
    for c in creates:
        assert c["parent"] in seen, f"{c['ref']} created before its parent {c['parent']}"
        if c["parent"].startswith("t1_") and c["parent"] in {x["ref"] for x in creates}:
            reply_to_created += 1
        seen.add(c["ref"])
        per_link_times[originals[c["ref"]]["link_id"]].append(originals[c["ref"]]["created_utc"])
    assert reply_to_created > 0
    for times in per_link_times.values():
        assert times == sorted(times)


def test_votes_reach_the_observed_scores(records: list[dict], originals: dict[str, dict]) -> None:
    start = {r["fullname"]: r["score"] for r in records if r["kind"] == "comment" and not r.get("synthetic")}
    start.update({r["ref"]: 1 for r in records if r.get("op") == "create" and "probe" not in r})
    last_vote: dict[tuple[str, str], int] = {}
    changes = unvotes = 0
    for r in records:
        if r.get("op") == "increment" and "probe" not in r:
            key = (r["thing"], r["user"])
            if key in last_vote:
                changes += last_vote[key] != 0 and r["dir"] != 0
                unvotes += r["dir"] == 0
            last_vote[key] = r["dir"]
    final = dict(start)
    for (thing, _), direction in last_vote.items():
        final[thing] += direction
    wrong = {k: (final[k], originals[k]["score"]) for k in final if final[k] != originals[k]["score"]}
    assert not wrong, list(wrong.items())[:5]
    assert changes > 0 and unvotes > 0


def test_edits_reads_and_sorts_present(records: list[dict]) -> None:
    ops = defaultdict(list)
    for r in records:
        if r["kind"] == "request":
            ops[r["op"]].append(r)
    assert len(ops["update"]) > 10
    assert {r["sort"] for r in ops["read_comments"] if not r.get("lenient")} == set(SORTS)
    assert ops["read_info"] and ops["read_morechildren"]
    assert any(r["limit"] < 200 for r in ops["read_comments"])


def test_validator_accepts_built_file_plain_and_gzip(tmp_path: Path, records: list[dict]) -> None:
    for name in ("d.jsonl", "d.jsonl.gz"):
        write_dataset(tmp_path / name, records)
        summary = validate_dataset(tmp_path / name)
        assert summary.requests == records[0]["requests"]
    with gzip.open(tmp_path / "d.jsonl.gz") as fh:
        assert fh.readline().startswith(b'{"cutoff"')


def _corrupt(tmp_path: Path, records: list[dict], index: int, replacement: str) -> Path:
    lines = [orjson.dumps(r).decode() for r in records]
    lines[index] = replacement
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_validator_rejects_corrupt_line(tmp_path: Path, records: list[dict]) -> None:
    path = _corrupt(tmp_path, records, 5, '{"kind": "account", "name": ')
    with pytest.raises(DatasetError) as info:
        validate_dataset(path)
    assert info.value.line == 6 and "not valid JSON" in str(info.value) and ":6:" in str(info.value)


def test_validator_rejects_unknown_version(tmp_path: Path, records: list[dict]) -> None:
    header = dict(records[0], version=99)
    path = _corrupt(tmp_path, records, 0, orjson.dumps(header).decode())
    with pytest.raises(DatasetError) as info:
        validate_dataset(path)
    assert info.value.line == 1 and "unknown dataset version 99" in str(info.value)


def test_validator_rejects_missing_parent(tmp_path: Path, records: list[dict]) -> None:
    index = next(i for i, r in enumerate(records) if r.get("op") == "create")
    bad = dict(records[index], parent="t1_doesnotexist")
    path = _corrupt(tmp_path, records, index, orjson.dumps(bad).decode())
    with pytest.raises(DatasetError) as info:
        validate_dataset(path)
    assert info.value.line == index + 1
    assert "t1_doesnotexist, a missing parent" in info.value.reason


def test_validator_takes_a_null_user_only_as_a_refusal_probe(tmp_path: Path, records: list[dict]) -> None:
    """A null user (no auth header) must say `invalid: user`; anything else not a name is refused."""
    index = next(i for i, r in enumerate(records) if r.get("op") == "increment" and "invalid" not in r)
    validate_dataset(_corrupt(tmp_path, records, index, orjson.dumps(dict(records[index], user=None,
                                                                          invalid="user")).decode()))
    for user in (None, 7):
        path = _corrupt(tmp_path, records, index, orjson.dumps(dict(records[index], user=user)).decode())
        with pytest.raises(DatasetError) as info:
            validate_dataset(path)
        assert info.value.line == index + 1
        assert "increment user must be an account name (a string), or null with invalid" in info.value.reason
        assert repr(user) in info.value.reason


def test_replies_to_deleted_comments_are_seeded(records: list[dict]) -> None:
    """The legacy refuses replies to a deleted comment, so a reply that exists must be in the seed."""
    deleted = {r["fullname"] for r in records if r["kind"] == "comment" and r["deleted"]}
    assert deleted
    # Only the probe that checks the legacy refuses it replies to a deleted comment.
    assert {r.get("probe") for r in records if r.get("op") == "create" and r["parent"] in deleted} == {
        "create.reply_to_deleted (refused)"}


def test_probes_reach_the_branches_real_threads_rarely_reach(records: list[dict]) -> None:
    from legacy_adapter.sorts import confidence
    from datasets.probes import F32_PAIR

    probes = [r for r in records if r["kind"] == "request" and "probe" in r]
    threads = records[0]["threads"]
    synthetic = {r["fullname"] for r in records if r["kind"] == "link" and r.get("synthetic")}
    # every thread has its set; the dataset's threshold probes read links of their own
    assert {r["link"] for r in probes if r["op"] == "read_comments"} == set(threads) | synthetic
    texts = {r["text"] for r in probes if r["op"] in ("create", "update")}
    assert any(t != unicodedata.normalize("NFC", t) for t in texts)
    assert any("\u202e" in t or "\u2067" in t for t in texts)
    assert any(not t.strip() for t in texts)
    assert any(r.get("raw_json") for r in probes) and any(r.get("lenient") for r in probes)
    assert any(len(r["children"]) > 20 for r in probes if r["op"] == "read_morechildren")
    seeds = [r for r in records if r["kind"] == "comment" and r.get("synthetic")]
    assert any(r["spam"] for r in seeds) and any(r["deleted"] for r in seeds)
    # The float32 pair (the first has the lower id): tied in float64 (so ordered by id, the first
    # first), ordered the other way by the legacy's float32 steps (the reference computation below).
    (u1, d1), (u2, d2) = F32_PAIR
    assert confidence(u1, d1) < confidence(u2, d2)
    assert wilson_float64(u1, d1) == wilson_float64(u2, d2)


def _thread(tmp_path: Path, lines: list[str]) -> Path:
    threads = tmp_path / "threads"
    threads.mkdir(exist_ok=True)
    (threads / "t3_x.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return threads


def _comment(n: int, body: str) -> dict:
    return {"name": f"t1_c{n}", "id": f"c{n}", "link_id": "t3_x", "parent_id": "t3_x", "author": "ann",
            "body": body, "created_utc": 1_600_000_000.0 + n, "score": 1, "subreddit": "test"}


def test_bodies_a_legacy_could_not_store_are_repaired_and_raw_line_separators_kept(tmp_path: Path) -> None:
    """A raw U+2028 or U+0085 inside a body is not a line break of the file; an unpaired surrogate
    escape and NUL (PostgreSQL text cannot hold it) become U+FFFD."""
    lines = [orjson.dumps(_comment(1, "para\u2028graph\x85next\x0cfeed")).decode(),
             orjson.dumps(_comment(2, "nul \x00 here")).decode(),
             '{"name": "t1_c3", "id": "c3", "link_id": "t3_x", "parent_id": "t3_x", "author": "ann", '
             '"body": "half \\ud83d pair", "created_utc": 1600000003.0, "score": 1, "subreddit": "test"}']
    built = build_dataset(_thread(tmp_path, lines), BuildOptions(cutoff=1.0))
    bodies = {r["fullname"]: r["body"] for r in built if r["kind"] == "comment" and not r.get("synthetic")}
    assert bodies == {"t1_c1": "para\u2028graph\x85next\x0cfeed", "t1_c2": "nul \ufffd here",
                      "t1_c3": "half \ufffd pair"}


@pytest.mark.parametrize(("line", "reason"), [
    ('{"name": "t1_c1", "body": ', "not JSON"),
    ('["a list"]', "expected a comment object"),
    ('{"name": "t1_c1"}', "expected a comment object"),
    ('{"name": "t1_c2", "link_id": "t3_x", "parent_id": "t3_x"}', "created_utc missing"),
    ('{"name": "t1_c2", "link_id": "t3_x", "parent_id": "t3_x", "created_utc": "soon"}', "created_utc is 'soon'"),
    ('{"name": "t1_c2", "link_id": "t3_x", "parent_id": "t3_x", "created_utc": 1, "score": "many"}', "score is 'many'"),
])
def test_a_bad_thread_line_names_the_file_line_and_what_was_expected(tmp_path: Path, line: str, reason: str) -> None:
    threads = _thread(tmp_path, [orjson.dumps(_comment(1, "fine")).decode(), line])
    with pytest.raises(DatasetError) as err:
        build_dataset(threads, BuildOptions())
    assert str(err.value).startswith(f"{threads / 't3_x.ndjson'}:2: ") and reason in str(err.value), str(err.value)


def validate_dataset_records(tmp_path: Path, records: list[dict]) -> bool:
    write_dataset(tmp_path / "odd.jsonl", records)
    return bool(validate_dataset(tmp_path / "odd.jsonl").requests)


def test_dump_types_are_coerced(tmp_path: Path) -> None:
    """Numbers as strings, a null body or author: what real dumps hold, taken as reddit's API means them."""
    odd = [dict(_comment(1, "fine")), dict(_comment(2, "x"), body=None, author=None),
           dict(_comment(3, "numbers as strings"), created_utc="1600000003", score="5", gilded=None)]
    built = build_dataset(_thread(tmp_path, [orjson.dumps(r).decode() for r in odd]), BuildOptions(cutoff=1.0))
    seeded = {r["fullname"]: r for r in built if r["kind"] == "comment" and not r.get("synthetic")}
    assert seeded["t1_c2"]["body"] == seeded["t1_c2"]["author"] == "[deleted]"
    assert seeded["t1_c3"]["created_utc"] == 1600000003.0 and isinstance(seeded["t1_c3"]["score"], int)
    assert validate_dataset_records(tmp_path, built)

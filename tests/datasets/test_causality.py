"""Datasets are causal: a request names only what exists at its point of the log.

A property over many seeds and thread shapes (deep chains, wide fans, creation-time ties, deleted
comments, edits, extreme scores), checked twice: by the validator and by an independent walk.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasets.build import BuildOptions, build_dataset
from datasets.format import DatasetError, write_dataset
from datasets.validate import validate_dataset


@st.composite
def threads(draw) -> list[list[dict]]:
    out = []
    for t in range(draw(st.integers(1, 3))):
        link = f"t3_l{t}x"
        n = draw(st.integers(1, 40))
        shape = draw(st.sampled_from(["fan", "chain", "random"]))
        times = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))  # few distinct seconds: many ties
        rows = []
        for i in range(n):
            if shape == "fan" or i == 0:
                parent = link
            elif shape == "chain":
                parent = rows[-1]["name"]
            else:
                parent = draw(st.sampled_from([link] + [r["name"] for r in rows]))
            deleted = draw(st.booleans()) and draw(st.booleans())
            rows.append({"name": f"t1_c{t}{i:03d}", "link_id": link, "parent_id": parent,
                         "created_utc": 1_500_000_000.0 + times[i], "score": draw(st.integers(-12, 40)),
                         "author": "[deleted]" if deleted else f"author{draw(st.integers(0, 4))}",
                         "body": "[deleted]" if deleted else f"body {i}", "edited": draw(st.booleans()),
                         "subreddit": "test"})
        out.append(rows)
    return out


def _names(req: dict) -> list[str]:
    op = req["op"]
    if op == "create":
        return [req["parent"]]
    if op in ("update", "increment"):
        return [req["thing"]]
    if op == "read_info":
        return list(req["ids"])
    if op == "read_morechildren":
        return [req["link"]] + [f"t1_{c}" for c in req["children"]]
    return [req["link"]]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=threads(), seed=st.integers(0, 10_000), cutoff=st.sampled_from([0.0, 0.3, 0.6, 1.0]),
       read_every=st.integers(1, 25), max_votes=st.integers(1, 8), probes=st.booleans())
def test_every_request_names_only_what_exists(shape, seed, cutoff, read_every, max_votes, probes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for rows in shape:
            path = Path(tmp) / f"{rows[0]['link_id']}.ndjson"
            path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
        records = build_dataset(tmp, BuildOptions(seed=seed, cutoff=cutoff, read_every=read_every,
                                                  max_votes=max_votes, probes=probes))
        out = Path(tmp) / "out" / "d.jsonl"
        write_dataset(out, records)
        validate_dataset(out)  # raises DatasetError naming the line of a request from the future
    exists = {r["fullname"] for r in records if r["kind"] in ("link", "comment")}
    for req in (r for r in records if r["kind"] == "request"):
        missing = [n for n in _names(req) if n not in exists]
        if req.get("invalid") == "target":  # a refusal probe: its target must really not exist
            assert missing == _names(req), f"request {req['seq']} says its target is invalid, but it exists"
            continue
        assert not missing, f"request {req['seq']} ({req['op']}) names {missing} before they exist"
        if req["op"] == "create":
            exists.add(req["ref"])


def test_validator_rejects_a_read_from_the_future(tmp_path: Path) -> None:
    thread = [{"name": "t1_a1", "link_id": "t3_l", "parent_id": "t3_l", "created_utc": 1.0, "score": 1,
               "author": "x", "body": "b"}]
    (tmp_path / "t3_l.ndjson").write_bytes(b"\n".join(orjson.dumps(r) for r in thread))
    records = build_dataset(tmp_path, BuildOptions(cutoff=0.0, probes=False))
    create = next(i for i, r in enumerate(records) if r.get("op") == "create")
    future = dict(records[create], op="read_info", ids=[records[create]["ref"]])
    future.pop("ref")
    records.insert(create, future)
    write_dataset(tmp_path / "d.jsonl", records)
    with pytest.raises(DatasetError) as info:
        validate_dataset(tmp_path / "d.jsonl")
    assert "read_info names t1_a1, which is neither seeded nor created earlier" in info.value.reason

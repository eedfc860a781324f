"""Whole bodies on the real legacy and rewrite: a thread whose `/comments` answer is over 1 MiB
(hundreds of 10,000-character bodies with zero-width and non-BMP characters, a 30-level reply
chain) gives `match` on the correct rewrite and `mismatch` when one character deep in one body
differs, on that body's field alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diff_reports.types import VerdictKind
from legacy_adapter.codec import to36
from new_comments_service import read_handlers as tree  # the /comments renderer (read_handlers.comment_object)
from tests.proxy.standins import big_body
from tests.validation.stack import running_stack

LINK36 = "bigbod"
LINK = f"t3_{LINK36}"
N_TOP, N_CHAIN = 240, 30
FIRST_ID = int("1bigc0", 36)


def _thread(dir_: Path) -> None:
    """A thread in the bundled format: N_TOP top-level comments and one chain N_CHAIN deep."""
    rows = []
    for i in range(N_TOP + N_CHAIN):
        chained = i >= N_TOP
        parent = LINK if not chained or i == N_TOP else f"t1_{to36(FIRST_ID + i - 1)}"
        rows.append({"id": to36(FIRST_ID + i), "link_id": LINK, "parent_id": parent, "author": f"writer{i % 17}",
                     "body": big_body(i), "created_utc": 1_600_000_000 + i, "score": (i * 37) % 50 - 5,
                     "edited": False, "gilded": 0, "distinguished": None, "stickied": False,
                     "subreddit_id": "t5_2qh1i", "subreddit": "AskReddit"})
    (dir_ / f"{LINK}.ndjson").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    (dir_ / f"{LINK}.post.json").write_text(json.dumps({"title": "big bodies", "author": "poster", "score": 10,
                                                        "created_utc": 1_599_999_000, "url": "", "selftext": ""}))


def _one_character_deep(mp: pytest.MonkeyPatch, target36: str) -> None:
    original = tree.comment_object

    def comment_object(*args, **kwargs):
        data = original(*args, **kwargs)
        inner = data.get("data", data)
        if inner.get("id") == target36:
            body = inner["body"]
            inner["body"] = body[:7777] + ("X" if body[7777] != "X" else "Y") + body[7778:]
        return data
    mp.setattr(tree, "comment_object", comment_object)


async def _read(stack, sort: str) -> bytes:
    async with stack.session.get(f"{stack.url}/comments/{LINK36}?sort={sort}&limit=500&depth=10") as resp:
        assert resp.status == 200
        raw = await resp.read()
    stack.sent += 1
    await stack.settle(timeout=120)
    return raw


async def test_a_thread_over_one_mib_matches_whole_and_mismatches_on_one_deep_character(
        stores, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _thread(tmp_path)
    async with running_stack(stores, threads_dir=tmp_path, threads=(LINK,)) as stack:
        raw = await _read(stack, "new")
        assert len(raw) > 1024 * 1024
        [record] = [r for r in stack.sink.records if r.path == "read.comments.response"]
        assert record.verdict is VerdictKind.MATCH, (record.reason, record.differences[:3])

        target = to36(FIRST_ID + N_TOP * 2 // 3)
        _one_character_deep(monkeypatch, target)
        await _read(stack, "new")
    record = [r for r in stack.sink.records if r.path == "read.comments.response"][-1]
    assert record.verdict is VerdictKind.MISMATCH, record.reason
    names = [c["data"]["name"] for c in json.loads(raw)[1]["data"]["children"]]
    deep = names.index(f"t1_{target}")
    assert [(d.path, d.kind) for d in record.differences] == [(f"body[1].data.children[{deep}].data.body", "changed")]

"""Read rechecks on the real legacy and rewrite, with a legacy write landing exactly between the
primary read and the rewrite's read: a correct rewrite is `raced` (never a mismatch), and a read
bug coinciding with that write is still a `mismatch`."""

from __future__ import annotations

import aiohttp
import pytest

from diff_reports.types import VerdictKind
from new_comments_service import queries
from new_comments_service import read_handlers as tree  # the /comments renderer (read_handlers.comment_object)
from tests.validation.stack import THREAD, running_stack


def _vote_lands_before_the_rewrite_reads(mp: pytest.MonkeyPatch, legacy_url: str, fullname: str) -> list[int]:
    """The first time the rewrite loads the thread, a vote reaches the legacy (directly) first."""
    done: list[int] = []
    original = queries.thread

    async def thread(db, link_id):
        if not done:
            done.append(1)
            async with aiohttp.ClientSession() as s, s.post(f"{legacy_url}/api/vote", data={"id": fullname, "dir": "1"},
                                                            headers={"X-Auth-User": "bob"}) as resp:
                assert resp.status == 200, await resp.text()
        return await original(db, link_id)
    mp.setattr(queries, "thread", thread)
    return done


def _body_bug(mp: pytest.MonkeyPatch, target36: str) -> None:
    original = tree.comment_object

    def comment_object(*args, **kwargs):
        data = original(*args, **kwargs)
        inner = data.get("data", data)
        if inner.get("id") == target36:
            inner["body"] = inner["body"] + "\u200b"
        return data
    mp.setattr(tree, "comment_object", comment_object)


async def _listing(stack) -> list[dict]:
    async with stack.session.get(f"{stack.proxy.runtime.legacy_url}/comments/{THREAD[3:]}?sort=top&limit=20") as resp:
        return [c["data"] for c in (await resp.json(content_type=None))[1]["data"]["children"] if c["kind"] == "t1"]


@pytest.mark.parametrize("bug", [False, True], ids=["correct-rewrite", "read-bug"])
async def test_a_write_between_the_reads(stores, monkeypatch: pytest.MonkeyPatch, bug: bool) -> None:
    async with running_stack(stores) as stack:
        top = await _listing(stack)
        voted, other = top[0], top[-1]
        done = _vote_lands_before_the_rewrite_reads(monkeypatch, stack.proxy.runtime.legacy_url, voted["name"])
        if bug:
            _body_bug(monkeypatch, other["id"])
        async with stack.session.get(f"{stack.url}/comments/{THREAD[3:]}?sort=top&limit=20") as resp:
            assert resp.status == 200
        stack.sent += 1
        await stack.settle()
    assert done
    [record] = [r for r in stack.sink.records if r.path == "read.comments.response"]
    diffs = {d.path for d in record.differences}
    assert any(p.endswith(".data.score") for p in diffs), diffs  # the write landed in between
    if bug:
        assert record.verdict is VerdictKind.MISMATCH, record.reason
        assert any(p.endswith(".data.body") for p in diffs)
    else:
        assert record.verdict is VerdictKind.RACED, record.reason

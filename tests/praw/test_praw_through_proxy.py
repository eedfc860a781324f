"""PRAW (the Reddit client most Python users have) reads every bundled thread through the proxy.

PRAW talks OAuth: it is pointed at the proxy with `oauth_url`/`reddit_url` and given a pre-issued
token through its public implicit-grant call (`reddit.auth.implicit`), so it never asks a token
endpoint and needs no network. A counting requestor (PRAW's `requestor_class` hook) tells how many
requests PRAW sent; each must come back as a compared read verdict, all of them matches.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import asyncpg
import praw
import prawcore

from legacy_adapter.codec import from36, to36
from tests.praw.conftest import PrawStack

READ_PATHS = ("read.comments.response", "read.morechildren.response", "read.info.response")


class CountingRequestor(prawcore.Requestor):
    sent: Counter = Counter()

    def request(self, *args: Any, **kwargs: Any):  # noqa: ANN201 - prawcore's own signature
        method, url = args[0], args[1]
        path = url.split("://", 1)[1].split("/", 1)[1].split("?", 1)[0]
        CountingRequestor.sent[(method, path.split("/")[0] + "/" + path.split("/")[1])] += 1
        return super().request(*args, **kwargs)


def _reddit(url: str) -> praw.Reddit:
    reddit = praw.Reddit(client_id="tapcompare-test", client_secret=None, user_agent="tapcompare praw test",
                         oauth_url=url, reddit_url=url, requestor_class=CountingRequestor, check_for_updates=False,
                         ratelimit_seconds=0)
    reddit.auth.implicit(access_token="pre-issued-token", expires_in=3600, scope="*")
    return reddit


def _praw_comments(url: str, link36: str) -> dict[str, tuple]:
    submission = _reddit(url).submission(id=link36)
    left = submission.comments.replace_more(limit=None)
    assert left == []
    return {c.id: (c.author.name if c.author else "[deleted]", c.body, c.score, c.created_utc, c.edited)
            for c in submission.comments.list()}


async def _legacy_rendering(stack: PrawStack, link36: str) -> tuple[dict[str, tuple], set[str]]:
    """Every comment of the thread as the legacy renders it (/api/info, raw JSON), and the ones
    r2 leaves out of listings (deleted or removed, with no replies)."""
    import aiohttp

    conn = await asyncpg.connect(stack.stores.production.postgres)
    try:
        ids = [r["thing_id"] for r in await conn.fetch(
            "SELECT thing_id FROM reddit_data_comment WHERE key = 'link_id' AND value = $1", str(from36(link36)))]
        parents = {r["value"] for r in await conn.fetch(
            "SELECT value FROM reddit_data_comment WHERE key = 'parent_id' AND thing_id = ANY($1::bigint[])", ids)}
        gone = {to36(r["thing_id"]) for r in await conn.fetch(
            "SELECT thing_id FROM reddit_thing_comment WHERE thing_id = ANY($1::bigint[]) AND (deleted OR spam)", ids)
            if str(r["thing_id"]) not in parents}
    finally:
        await conn.close()
    out: dict[str, tuple] = {}
    async with aiohttp.ClientSession() as http:
        for start in range(0, len(ids), 100):
            names = ",".join(f"t1_{to36(i)}" for i in ids[start:start + 100])
            async with http.get(f"{stack.legacy_url}/api/info", params={"id": names, "raw_json": "1"}) as resp:
                for child in (await resp.json())["data"]["children"]:
                    d = child["data"]
                    out[d["id"]] = (d["author"], d["body"], d["score"], d["created_utc"], d["edited"])
    return out, gone


async def test_praw_reads_every_thread_through_the_proxy(praw_stack: PrawStack) -> None:
    CountingRequestor.sent.clear()
    assert len(praw_stack.threads) == 7, praw_stack.threads
    compared = 0
    for link in praw_stack.threads:
        link36 = link[3:]
        got = await asyncio.to_thread(_praw_comments, praw_stack.proxy.url, link36)
        expected, dropped = await _legacy_rendering(praw_stack, link36)
        assert dropped <= set(expected)
        want = {k: v for k, v in expected.items() if k not in dropped}
        assert set(got) == set(want), (link, len(got), len(want), sorted(set(want) ^ set(got))[:10])
        for cid, fields in want.items():
            assert got[cid] == fields, (link, cid, got[cid], fields)
        compared += len(want)
    sent = sum(CountingRequestor.sent.values())
    print(f"\nPRAW: {compared} comments compared over {len(praw_stack.threads)} threads, {sent} requests "
          f"{dict(CountingRequestor.sent)}")
    # every PRAW request was a shadowed, compared read, and all of them matched
    await praw_stack.proxy.runtime.forwarder.wait_completed(sent, 120)
    await praw_stack.proxy.runtime.queue.idle(120)
    verdicts = praw_stack.proxy.sink.by_path()
    reads = {p: c for p, c in verdicts.items() if p in READ_PATHS}
    assert sum(sum(c.values()) for c in reads.values()) == sent, (CountingRequestor.sent, verdicts)
    odd = [(r.path, r.verdict.value, r.reason, r.entity, [(d.path, d.kind) for d in r.differences][:6])
           for r in praw_stack.proxy.sink.records if r.verdict.value != "match"]
    assert all(set(c) == {"match"} for c in reads.values()), (verdicts, odd)
    assert reads.get("read.comments.response") and reads.get("read.morechildren.response"), verdicts
    assert CountingRequestor.sent[("POST", "api/morechildren")] > 0

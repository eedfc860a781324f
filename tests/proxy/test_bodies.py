"""Whole bodies, always: a `/comments` answer over 1 MiB (hundreds of 10,000-character bodies with
zero-width and non-BMP characters) is read and compared whole; a body over
`proxy.max_shadow_response_bytes` is `skipped` (`too_large`) and counted, never compared cut."""

from __future__ import annotations

import json
from dataclasses import replace

import aiohttp

from diff_reports.comparator import Comparator
from diff_reports.types import TOO_LARGE, VerdictKind
from tests.proxy.conftest import metric, set_ramp, settle
from tests.proxy.standins import base36, big_body

BODIES = 300
LIMIT = 256 * 1024


def _limit(proxy, limit: int = LIMIT) -> None:
    """proxy.max_shadow_response_bytes as ShadowTarget.max_response_bytes (the app wires one into the other)."""
    shadower = proxy.runtime.shadower
    shadower._target = replace(shadower._target, max_response_bytes=limit)


async def _get(client: aiohttp.ClientSession, base: str) -> bytes:
    async with client.get(f"{base}/comments/a?sort=new") as resp:
        assert resp.status == 200
        return await resp.read()


def test_big_bodies_are_hostile() -> None:
    body = big_body(3)
    assert len(body) == 10_000
    assert any(ord(c) > 0xFFFF for c in body) and {"\u200b", "\u200d", "\ufeff"} <= set(body)


async def test_an_answer_over_one_mib_is_compared_whole(proxy_factory, legacy, new, client) -> None:
    legacy.state.big = new.state.big = BODIES
    async with proxy_factory(legacy.url, new.url, shadow_timeout_s=20.0) as proxy:
        proxy.runtime.runner.comparator = Comparator()
        await set_ramp(proxy, comments=100)
        raw = await _get(client, proxy.url)
        assert len(raw) > 1024 * 1024
        await settle(proxy, 1, timeout=60)
        [record] = proxy.sink.records
        assert record.verdict is VerdictKind.MATCH, (record.reason, record.differences[:3])

        new.state.flip_deep = True  # one character, deep in one body
        await _get(client, proxy.url)
        await settle(proxy, 2, timeout=60)
        record = proxy.sink.records[1]
        assert record.verdict is VerdictKind.MISMATCH, record.reason
        names = [c["data"]["name"] for c in json.loads(raw)[1]["data"]["children"]]
        deep = names.index(f"t1_{base36(5000 + BODIES * 2 // 3)}")
        assert [(d.path, d.kind) for d in record.differences] == [(f"body[1].data.children[{deep}].data.body", "changed")]


async def test_a_rewrite_answer_over_the_limit_is_skipped_too_large(proxy_factory, legacy, new, client) -> None:
    new.state.big = 40  # the rewrite's answer is ~600 KB; the legacy's is small
    async with proxy_factory(legacy.url, new.url, max_shadow_response_bytes=LIMIT) as proxy:
        _limit(proxy)
        await set_ramp(proxy, comments=100)
        await _get(client, proxy.url)
        await settle(proxy, 1, timeout=30)
        [record] = proxy.sink.records
        assert (record.verdict, record.reason) == (VerdictKind.SKIPPED, TOO_LARGE)
        assert "262144" in record.context["too_large"]
        assert metric(proxy, "tapcompare_proxy_verdicts_total", path="read.comments.response",
                      verdict="skipped") == 1


async def test_a_legacy_answer_over_the_limit_is_skipped_too_large(proxy_factory, legacy, new, client) -> None:
    legacy.state.big = new.state.big = 40
    async with proxy_factory(legacy.url, new.url, max_shadow_response_bytes=LIMIT) as proxy:
        _limit(proxy)
        await set_ramp(proxy, comments=100)
        raw = await _get(client, proxy.url)
        assert len(raw) > 256 * 1024  # the client still gets the legacy's whole answer
        await settle(proxy, 1, timeout=30)
        [record] = proxy.sink.records
        assert (record.verdict, record.reason) == (VerdictKind.SKIPPED, TOO_LARGE)
        assert metric(proxy, "tapcompare_proxy_shadow_skipped_total", endpoint="comments", reason=TOO_LARGE) == 1

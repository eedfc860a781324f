"""A refused write judged while a later write to the same comment is committed on production but
not yet published (between commit and publish) is no mismatch: production's row is ahead of both
its log and the sister's copy, so validation waits for the log; once the later write's event shows
it began after the refusal, its fields are out of the refusal's scope and the paths match. If the
log never catches up (within the settle time), the store paths are `raced`.

CI once failed on this in the live walkthrough: bob's refused edit of alice's reply was judged
while alice's next edit of it sat between commit and publish, and read as bob's change.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pytest

from diff_reports.types import VerdictKind, VerdictRecord
from legacy_adapter import model as legacy_model
from tests.contract.seed import R2_NAMES, seed_store_set
from tests.validation.stack import Stack, serving_stack
from traffic.shadowed import ComparisonJob
from write_validation.store_validator import StoreValidator

pytestmark = pytest.mark.timeout(120)


async def _version(dsn: str, comment_id: int) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT version FROM reddit_thing_comment WHERE thing_id = $1", comment_id))
    finally:
        await conn.close()


async def _edit(stack: Stack, base: str, rid: str, user: str, thing: str, text: str) -> int:
    headers = {"X-Request-Id": rid, "X-Auth-User": user}
    async with stack.session.post(base + "/api/editusertext", data={"thing_id": thing, "text": text},
                                  headers=headers) as resp:
        await resp.read()
        return resp.status


@pytest.mark.parametrize("publish_after_s", [0.3, None], ids=["published_soon", "never_published"])
async def test_a_refused_write_judged_while_a_later_one_awaits_publishing_is_no_mismatch(
        stores, monkeypatch: pytest.MonkeyPatch, publish_after_s: float | None) -> None:
    release = asyncio.Event()
    publish, validate = legacy_model.publish, StoreValidator.validate
    holder: dict[str, object] = {}

    async def held_publish(redis, stream, event):  # type: ignore[no-untyped-def]
        if event.fields().get("request_id") == "later":
            await release.wait()  # committed, not yet on the log
        return await publish(redis, stream, event)

    async def lagging(self: StoreValidator, write: ComparisonJob) -> list[VerdictRecord]:
        if write.request_id == "refused":
            stack, thing, comment_id = holder["stack"], holder["thing"], holder["id"]
            assert isinstance(stack, Stack) and isinstance(thing, str) and isinstance(comment_id, int)
            before = await _version(stores.production.postgres, comment_id)
            stack.clock.now += 1  # alice's edit begins after bob's refusal, as in the walkthrough
            # alice's next edit, straight to the legacy (never shadowed), held between commit and publish
            holder["later"] = asyncio.create_task(_edit(stack, stack.legacy_url, "later", "alice", thing,
                                                        "alice edits her comment again"))
            deadline = time.monotonic() + 10
            while await _version(stores.production.postgres, comment_id) == before:
                assert time.monotonic() < deadline, "the later edit never committed"
                await asyncio.sleep(0.02)
            if publish_after_s is not None:
                asyncio.get_running_loop().call_later(publish_after_s, release.set)
            try:
                return await validate(self, write)
            finally:
                release.set()
        return await validate(self, write)

    monkeypatch.setattr(legacy_model, "publish", held_publish)
    monkeypatch.setattr(StoreValidator, "validate", lagging)
    async with serving_stack(stores, seed_store_set) as stack:
        thing = R2_NAMES["P"]  # alice's
        holder.update(stack=stack, thing=thing, id=int(thing[3:], 36))
        assert await _edit(stack, stack.url, "refused", "bob", thing, "not bob's to edit") == 403
        stack.sent += 1
        await stack.settle()
        later = holder["later"]
        assert isinstance(later, asyncio.Task) and await later == 200
    judged = [r for r in stack.sink.records if r.request_id == "refused"]
    assert len(judged) == 7, [r.path for r in judged]
    assert not [r for r in judged if r.verdict is VerdictKind.MISMATCH], \
        "\n".join(f"{r.path} {d}" for r in judged if r.verdict is VerdictKind.MISMATCH for d in r.differences)
    stored = [r for r in judged if ".postgres." in r.path or ".memcached." in r.path]
    if publish_after_s is None:
        assert all(r.verdict is VerdictKind.RACED and "between commit and publish" in (r.reason or "")
                   for r in stored), [(r.path, r.verdict.value, r.reason) for r in stored]
    else:
        assert all(r.verdict is VerdictKind.MATCH for r in judged), [(r.path, r.verdict.value, r.reason) for r in judged]

"""A listing mismatch while the legacy's thread projections lag its CDC log (its consumer down or
slow): the judge waits for them, bounded, and rechecks; still behind, the read is `unavailable`,
never a mismatch the rewrite did not cause. The backlog is read from a real Redis consumer group."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from diff_reports.comparator import Comparator
from diff_reports.types import Observation, VerdictKind, VerdictRecord
from judge.runner import PROJECTION_WAIT_S, JobRunner
from tests.proxy.test_recheck import listing
from traffic.shadowed import CapturedRequest, ComparisonJob, RecheckReads
from write_validation.projection_lag import PROJECTIONS_GROUP, projection_backlog

OLD = listing({"t1_a": 3})                 # the legacy's projection, before the new comment's event
NEW = listing({"t1_b": 1, "t1_a": 3})      # the thread as both databases hold it


class Projections:
    """The legacy's CDC stream and its projections group on a real Redis; `catch_up` is its consumer."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis, self.stream = redis, f"cdc-{uuid.uuid4().hex[:8]}"
        self.seen_behind = asyncio.Event()

    async def projection_backlog(self) -> int:  # what the StoreValidator offers the runner
        behind = await projection_backlog(self.redis, self.stream)
        if behind:
            self.seen_behind.set()
        return behind

    async def validate(self, write: ComparisonJob) -> list[VerdictRecord]:
        raise AssertionError("reads only")

    async def catch_up(self) -> None:
        got = await self.redis.xreadgroup(PROJECTIONS_GROUP, "legacy", {self.stream: ">"})
        ids = [entry_id for _, entries in got for entry_id, _ in entries]
        if ids:
            await self.redis.xack(self.stream, PROJECTIONS_GROUP, *ids)


def job() -> ComparisonJob:
    return ComparisonJob(job_id="j", kind="read", endpoint="comments", request_id="r", path="read.comments.response",
                         entity="t3_a", link="t3_a", request=CapturedRequest("GET", "/comments/a", (), b""),
                         legacy=Observation("legacy", OLD), new=Observation("new", NEW), legacy_status=200)


async def judged(projections: Projections, legacy_now: list[dict]) -> VerdictRecord:
    async def recheck(_: ComparisonJob) -> RecheckReads:
        return RecheckReads(Observation("legacy", legacy_now[0]), Observation("new", NEW))

    raised: list[str] = []
    runner = JobRunner(Comparator(), projections, lambda op, exc: raised.append(f"{op}: {exc}"), recheck=recheck,
                       validate_timeout_s=1.0)
    seen: list[VerdictRecord] = []

    async def emit(endpoint: str, record: VerdictRecord) -> None:
        seen.append(record)

    try:
        await runner.run(job(), emit)
    finally:
        runner.close()
    assert not raised, raised
    assert len(seen) == 1
    return seen[0]


async def test_the_backlog_counts_pending_and_undelivered_events(stores) -> None:
    redis = aioredis.from_url(stores.production.redis)
    p = Projections(redis)
    try:
        assert await p.projection_backlog() == 0  # no stream yet
        await redis.xgroup_create(p.stream, PROJECTIONS_GROUP, id="0", mkstream=True)
        for n in range(3):
            await redis.xadd(p.stream, {"n": n})
        assert await p.projection_backlog() == 3
        got = await redis.xreadgroup(PROJECTIONS_GROUP, "legacy", {p.stream: ">"}, count=2)
        assert await p.projection_backlog() == 3  # 2 delivered but not applied, 1 not delivered
        await redis.xack(p.stream, PROJECTIONS_GROUP, *[i for _, entries in got for i, _ in entries])
        assert await p.projection_backlog() == 1
        await p.catch_up()
        assert await p.projection_backlog() == 0
    finally:
        await redis.aclose()


@pytest.fixture
async def projections(stores):
    """The legacy's stream with its projections group, on production's real Redis."""
    redis = aioredis.from_url(stores.production.redis)
    p = Projections(redis)
    await redis.xgroup_create(p.stream, PROJECTIONS_GROUP, id="0", mkstream=True)
    try:
        yield p
    finally:
        await redis.aclose()


async def unapplied_create(p: Projections) -> None:
    await p.redis.xadd(p.stream, {"event": "comment_created", "name": "t1_b"})  # nobody applies it yet


async def test_a_listing_mismatch_while_the_projections_stay_behind_is_unavailable(projections: Projections) -> None:
    await unapplied_create(projections)
    record = await judged(projections, [OLD])
    assert record.verdict is VerdictKind.UNAVAILABLE, record.reason
    assert record.reason.startswith(f"the legacy's thread projections are 1 CDC event(s) behind its own writes "
                                    f"(not caught up within {PROJECTION_WAIT_S:g} s)"), record.reason
    assert record.differences and record.context["projection_backlog"] == 1


async def test_once_the_projections_catch_up_the_read_is_judged_again(projections: Projections) -> None:
    """The consumer applies the event while the judge waits: the recheck then finds the legacy listing
    the comment the rewrite listed, so the first difference was the legacy's own lag (`raced`)."""
    legacy_now = [OLD]
    await unapplied_create(projections)

    async def consumer_back() -> None:
        await projections.seen_behind.wait()  # the judge has found the projections behind
        legacy_now[0] = NEW  # a consumer applies the event, then acknowledges it
        await projections.catch_up()

    back = asyncio.create_task(consumer_back())
    record = await judged(projections, legacy_now)
    await back
    assert record.verdict is VerdictKind.RACED, record.reason


async def test_a_mismatch_with_the_projections_caught_up_stands(projections: Projections) -> None:
    record = await judged(projections, [OLD])
    assert record.verdict is VerdictKind.MISMATCH
    assert "recheck: the legacy answered the same when read again" in record.reason

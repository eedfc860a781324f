"""Fault injection: kill each store server, the rewrite, the legacy consumer and the results database
mid-stream, one at a time, with the proxy running throughout.

Per fault: the client always gets the legacy's own answer (its error, when the legacy's store is the
one down); every offered exchange ends in its verdicts (none silently dropped), and those of the
outage are `unavailable`/`shadow_error`/`skipped`, never a mismatch; after the restart new writes
match again without touching the proxy. At the end: no production CDC event of a successful write
is missing, the consumer has caught up, and shutting the stack down leaks no task or file handle.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import aiohttp
import pytest
import redis.asyncio as aioredis

from diff_reports.types import VerdictKind, VerdictRecord
from tests.faults.driver import Driver, Sent
from tests.faults.stack import FaultStack, open_fds

pytestmark = pytest.mark.timeout(240)

Action = Callable[[FaultStack], Awaitable[None]]
OUTAGE_OK = {"match", "raced", "ignored", "skipped", "unavailable", "shadow_error"}
HEALTHY_OK = {"match", "raced", "ignored"}
DURING, AFTER = 8, 6


def _store(set_name: str, kind: str) -> tuple[Action, Action]:
    return (lambda s: s.kill_store(set_name, kind)), (lambda s: s.start_store(set_name, kind))


async def _new_down(s: FaultStack) -> None:
    await s.new.stop()


async def _consumer_down(s: FaultStack) -> None:
    await s.consumer.kill()


async def _consumer_up(s: FaultStack) -> None:
    s.consumer.start()


FAULTS: dict[str, tuple[Action, Action]] = {
    "production.postgres": _store("production", "postgres"),
    "production.memcached": _store("production", "memcached"),
    "production.redis": _store("production", "redis"),
    "sister.postgres": _store("sister", "postgres"),
    "sister.memcached": _store("sister", "memcached"),
    "sister.redis": _store("sister", "redis"),
    "new_service": (_new_down, lambda s: s.new.start()),
    "consumer": (_consumer_down, _consumer_up),
    "results_db": (lambda s: s.results_db_down(), lambda s: s.results_db_up()),
}


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory):
    baseline = (len(asyncio.all_tasks()), open_fds())
    st = FaultStack(tmp_path_factory.mktemp("faults"), baseline=baseline)
    try:
        await st.start()
        yield st
    finally:
        await st.close()


@pytest.fixture(scope="module")
async def driver(stack: FaultStack):
    session = aiohttp.ClientSession(auto_decompress=False)
    try:
        stack.driver = Driver(stack, session)
        yield stack.driver
    finally:
        await session.close()


async def settle(stack: FaultStack, driver: Driver, timeout: float = 30.0) -> None:
    """Every primary handled and every shadow (validation included) finished."""
    await stack.runtime.forwarder.wait_completed(driver.proxied, timeout)
    await stack.runtime.queue.idle(timeout)


def expected_verdicts(sent: Sent) -> int:
    """Reads: one. Writes the legacy accepted: the response plus six store paths. Others: one skip."""
    if sent.endpoint in ("info", "comments", "morechildren"):
        return 1
    return 7 if 200 <= sent.status < 300 else 1


def account(stack: FaultStack, sents: list[Sent]) -> dict[str, int]:
    """Every exchange got exactly its verdicts; returns the verdict counts over them."""
    by_rid = stack.sink.by_request()
    got = {s.rid: len(by_rid.get(s.rid, [])) for s in sents}
    want = {s.rid: expected_verdicts(s) for s in sents}
    assert got == want, "verdicts missing or extra (offered vs recorded)"
    return dict(stack.sink.verdicts({s.rid for s in sents}))


# Known findings (reported; the code involved is not ours to change). Records they explain are set
# aside here, never counted as passing, and each one seen is reported as an xfail below.
# - legacy_5xx_read: a read the legacy itself failed (its own store down) is still compared: the
#   legacy's 500 against the rewrite's 500 becomes `mismatch` (dispatch.py); want `unavailable`.
# - drift_after_lost_write: once a write is lost on the shadow side (a shadow_error, or a legacy
#   write that committed and then answered 500 because its cache or CDC Redis was down, so it was
#   never shadowed and has no CDC event), the sister stays behind for good: every later create in
#   that thread is a `create.postgres.parity` mismatch on link_num_comments, every later edit or
#   vote of that comment a mismatch on its version. Nothing re-hydrates, and ordering.py cannot
#   see a write that has no production event. Want: re-sync (or `raced`/`skipped`), not mismatch.
# - legacy_partial_write: a legacy create that committed and then failed on its cache or CDC Redis
#   (answering 500) leaves a comment in PostgreSQL with no CDC event, so the legacy's tree
#   projection never gets it and its /comments omits it for good; the rewrite lists it. A true
#   difference, caused by the legacy's non-atomic write (r2 behaves alike); reported, not ours.
# - raced_after_lost_write: after creates in a thread were lost on the shadow side, the validator's
#   OrderBook (ordering.py) classifies every later create in that thread as `raced` for good
#   ("production applied N earlier writes the shadow side has not applied"): never a false
#   mismatch, but that thread is never compared again until the proxy restarts.
# - stale_connection_after_restart: the StoreValidator's Redis clients do not retry a command once
#   on a connection the restarted server closed, so the first validation(s) after a sister Redis
#   restart are all `unavailable` ("ConnectionError: Connection closed by server"): counted, not
#   lost, but avoidable (redis-py `retry_on_error` / `health_check_interval`).
# - sister_cache_lost: after the sister Memcached restarts (or evicts), a write that does not `set`
#   the cache on either side (a vote that changes nothing) is a `memcached.parity`/`legacy_read`
#   mismatch, "the new service left no cache entry"; a missing legacy entry is `skipped` (evicted),
#   a missing sister entry should be too.
FINDINGS: dict[str, list[dict]] = {"legacy_5xx_read": [], "drift_after_lost_write": [], "legacy_partial_write": [],
                                   "raced_after_lost_write": [], "stale_connection_after_restart": [],
                                   "sister_cache_lost": []}


def _finding(record: VerdictRecord, sent: Sent, lost: set[str]) -> str | None:
    if sent.status >= 500 and sent.endpoint in ("info", "comments", "morechildren"):
        return "legacy_5xx_read"
    if sent.endpoint == "comments" and sent.thread in lost:
        return "legacy_partial_write"
    diffs = [d.get("path") for d in (record.to_dict().get("differences") or [])]
    if record.path == "create.postgres.parity" and sent.thread in lost and diffs \
            and all(d == "link_num_comments[0]" for d in diffs):
        return "drift_after_lost_write"
    if sent.endpoint in ("update", "increment") and record.entity in lost:
        return "drift_after_lost_write"
    if ".memcached." in record.path and (record.new_value == {"present": False}
                                         or record.reason == "the new service left no cache entry"):
        return "sister_cache_lost"
    return None


def lost_writes(stack: FaultStack) -> set[str]:
    """Comments a write to which the shadow side never applied (legacy 5xx or shadow failure)."""
    lost = {s.target for s in stack_driver(stack).sent if s.target and s.status >= 500}
    lost |= {s.thread for s in stack_driver(stack).sent if s.endpoint == "create" and s.thread and s.status >= 500}
    lost |= {r.entity for r in stack.sink.records if r.entity and r.verdict.value in ("shadow_error", "unavailable")}
    return lost


def stack_driver(stack: FaultStack) -> Driver:
    return stack.driver


def mismatches(stack: FaultStack, sents: list[Sent]) -> list[dict]:
    """The mismatches among these exchanges that no known finding explains."""
    by_rid = {s.rid: s for s in sents}
    lost = lost_writes(stack)
    out = []
    for r in stack.sink.records:
        if r.request_id in by_rid and r.verdict is VerdictKind.MISMATCH:
            key = _finding(r, by_rid[r.request_id], lost)
            (FINDINGS[key] if key else out).append(r.to_dict())
    return out


async def recover(stack: FaultStack, driver: Driver, phase: str, timeout: float = 30.0) -> None:
    """Creates through the proxy until one gets `match` on its response and all six store paths
    (or a `raced` / mismatch a known finding explains)."""
    deadline = time.monotonic() + timeout
    while True:
        sent = await driver.create(phase)
        await settle(stack, driver)
        verdicts = [r.verdict.value for r in stack.sink.by_request().get(sent.rid, [])]
        if len(verdicts) == 7 and verdicts[0] == "match" and set(verdicts) <= {"match", "mismatch", "raced"} \
                and not mismatches(stack, [sent]):
            if "raced" in verdicts:
                FINDINGS["raced_after_lost_write"].append({"request_id": sent.rid, "verdicts": verdicts})
            return
        assert time.monotonic() < deadline, f"no full match within {timeout}s after the restart: {verdicts}"


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_fault_and_recovery(stack: FaultStack, driver: Driver, fault: str) -> None:
    inject, heal = FAULTS[fault]
    failed_before = stack.writer.stats.failed
    await inject(stack)
    during = await driver.mixed(f"{fault}:during", DURING)
    await settle(stack, driver)
    counts = account(stack, during)
    wrong = mismatches(stack, during)
    assert not wrong and set(counts) - {"mismatch"} <= OUTAGE_OK, (counts, [(w["path"], w["reason"]) for w in wrong])

    writes = [s for s in during if s.endpoint in ("create", "update", "increment")]
    if fault.startswith("production."):
        # The legacy's own store is down: its writes fail, and the client gets that failure.
        assert writes and all(s.legacy_raised for s in writes), [(s.endpoint, s.status) for s in writes]
    elif fault.startswith("sister.") or fault == "new_service":
        accepted = [s for s in writes if s.status == 200]
        assert accepted, "no write reached the shadow side"
        # The paths of the store that is down (all of them when the rewrite is down) cannot be judged.
        # A write that never needed that store (a vote that changes nothing touches no Redis) is
        # judged on the others like any write.
        down = {"postgres": "postgres", "memcached": "memcached", "redis": "redis_cdc"}.get(fault.split(".")[-1])
        for s in accepted:
            records = stack.sink.by_request()[s.rid]
            paths = [r.verdict.value for r in records if down is None or f".{down}." in r.path]
            assert paths and set(paths) <= {"shadow_error", "unavailable"}, (s.rid, paths)
    elif fault == "consumer":
        if any(s.event_expected for s in writes):  # events arrive, nobody projects them
            assert (await stack.consumer_lag())[1] > 0
    elif fault == "results_db":
        await stack.writer.drain()
        assert stack.writer.stats.failed > failed_before, "the outage did not show in the writer's counts"

    await heal(stack)
    await recover(stack, driver, f"{fault}:recover")
    after = await driver.mixed(f"{fault}:after", AFTER)
    await settle(stack, driver)
    counts = account(stack, after)
    wrong = mismatches(stack, after)
    bad = []
    for r in stack.sink.records:
        if r.request_id in {s.rid for s in after} and r.verdict.value not in HEALTHY_OK | {"mismatch"}:
            stale = r.verdict is VerdictKind.UNAVAILABLE and "Connection closed by server" in (r.reason or "")
            (FINDINGS["stale_connection_after_restart"] if stale else bad).append(r.to_dict())
    assert not wrong and not bad, (counts, wrong[:2], [(b["path"], b["verdict"], b.get("reason")) for b in bad])
    assert not any(s.legacy_raised for s in after)
    if fault == "results_db":
        await stack.writer.drain()
        rids = [s.rid for s in after]
        assert await stack.results_rows(rids) == sum(counts.values())


@pytest.mark.parametrize("finding", list(FINDINGS))
def test_known_finding(finding: str) -> None:
    """Reports each known finding this run ran into as an xfail with an example (-ra shows it);
    whether a finding shows up depends on what the faults hit, so one not seen passes."""
    if FINDINGS[finding]:
        example = FINDINGS[finding][0]
        pytest.xfail(f"{finding}: {len(FINDINGS[finding])} record(s), e.g. {example.get('path')} "
                     f"{example.get('entity')} {example.get('reason') or example.get('verdicts')}"[:300])


async def test_nothing_lost_and_nothing_leaked(stack: FaultStack, driver: Driver) -> None:
    await settle(stack, driver)
    # No exchange dropped by the queue, each got its verdicts; the results writer counted them all.
    assert stack.runtime.queue.dropped == 0
    account(stack, driver.sent)
    await stack.writer.drain()
    stats = stack.writer.stats
    assert stats.submitted == len(stack.sink.records)
    assert stats.written + stats.failed + stats.dropped == stats.submitted and stats.failed > 0

    # Every successful legacy write has its event in the production stream.
    events = await stack.production_events()
    seen = {e.get("request_id") for e in events}
    missing = [(s.rid, s.endpoint) for s in driver.sent if s.event_expected and s.rid not in seen]
    assert not missing, missing

    # The consumer caught up (nothing pending, no lag) and its projection holds every comment.
    deadline = time.monotonic() + 20
    while (lag := await stack.consumer_lag()) != (0, 0):
        assert time.monotonic() < deadline, f"consumer did not catch up: pending/lag {lag}"
        await asyncio.sleep(0.1)  # polling the group's state until the deadline
    r = aioredis.from_url(stack.production.redis, decode_responses=True)  # type: ignore[union-attr]
    try:
        for s in driver.sent:
            if s.created:
                data = json.loads(s.body)["json"]["data"]["things"][0]["data"]
                kids = json.loads(await r.hget(f"tree:{data['link_id'][3:]}", data["parent_id"]) or "[]")
                assert data["id"] in kids, (s.rid, data["name"])
    finally:
        await r.aclose()

    # Shut everything down: tasks and file handles back to where they were.
    tasks_before, fds_before = stack.baseline
    await driver.session.close()
    await stack.close()
    deadline = time.monotonic() + 10
    while len(asyncio.all_tasks()) > tasks_before + 1 or open_fds() > fds_before + 3:
        if time.monotonic() > deadline:
            leftover = [t.get_name() + ":" + repr(t.get_coro()) for t in asyncio.all_tasks()]
            raise AssertionError(f"leak: tasks {len(asyncio.all_tasks())} (was {tasks_before}), "
                                 f"fds {open_fds()} (was {fds_before}); tasks {leftover}")
        await asyncio.sleep(0.05)  # closing sockets settle on the loop; bounded by the deadline

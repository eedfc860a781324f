"""The ordering book behaves the same in one process and shared through Redis (real server)."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from write_validation.ordering import EntityHistory, OrderBook, RedisOrderBook, classify, overtaken, race_reason


@pytest.fixture
async def books(stores):
    client = aioredis.from_url(stores.sister.redis)
    prefix = f"test-order:{uuid.uuid4().hex[:8]}"
    yield [OrderBook(), RedisOrderBook(client, prefix)], lambda: RedisOrderBook(client, prefix)
    await client.aclose()


async def test_both_books_tell_races_alike(books) -> None:
    for book in books[0]:
        before = [(3, "r3"), (4, "r4")]
        assert await classify(book, "t1_a", 3, []) is None            # history starts at the first write seen
        assert (await book.history("t1_a")).first_version == 3
        await book.start_at("t1_a", 1)                                  # never moved back
        assert (await book.history("t1_a")).first_version == 3
        await book.mark_applied("t1_a", "r3")
        assert "r4" in (await classify(book, "t1_a", 5, before) or "")  # r4 not applied yet: raced
        await book.mark_applied("t1_a", "r4")
        assert await classify(book, "t1_a", 5, before) is None
        await book.forget("t1_a", 123.5)
        hist = await book.history("t1_a")
        assert (hist.first_version, hist.applied, hist.evicted_at) == (None, {}, 123.5)


async def test_stream_positions_survive_redis(books) -> None:
    _, another = books
    book = books[0][1]
    await book.start_at("link:t3_x", (1700000000000, 2))
    await book.mark_applied("link:t3_x", "c1")
    # another process (worker) sees the same history, positions as tuples that compare with the log's
    hist = await another().history("link:t3_x")
    assert hist.first_version == (1700000000000, 2)
    assert race_reason("link:t3_x", hist, (1700000000000, 9), [((1700000000000, 5), "c2")]) is not None
    assert race_reason("link:t3_x", hist, (1700000000000, 9), [((1700000000000, 5), "c1")]) is None


def test_an_empty_history_races_nothing() -> None:
    assert race_reason("t1_a", EntityHistory(), 4, [(3, "r3")]) is None


async def test_both_books_keep_the_order_writes_were_applied_in(books) -> None:
    for book in books[0]:
        for rid in ("r5", "r3", "r5"):                    # r5 (production's later write) first; marked twice
            await book.mark_applied("t1_b", rid)
        hist = await book.history("t1_b")
        assert list(hist.applied) == ["r5", "r3"]
        assert overtaken(hist, "r3", [(5, "r5")]) == [(5, "r5")]   # r3 was applied after a later write
        assert overtaken(hist, "r5", [(6, "r6")]) == []            # r6 not applied yet
        assert overtaken(hist, "r4", [(5, "r5")]) == [(5, "r5")]   # not marked yet (inline): after all marked
        await book.mark_applied("t1_b", "r6")
        assert overtaken(await book.history("t1_b"), "r5", [(6, "r6")]) == []  # applied after r5: in order


def test_a_write_without_an_event_is_placed_by_the_legacys_request_times() -> None:
    from write_validation.ordering import split_at
    from write_validation.store_reads import CdcEvent

    events = [CdcEvent(f"{i}-0", {"ts": ts, "request_id": f"r{i}"})
              for i, ts in enumerate(("1700000000.000001", "1700000000.500000", "1700000001.000000", "junk"))]
    before, after = split_at(events, "1700000000.500000")
    # begun at the same instant or earlier: before (pending there is a race); begun later: after;
    # an event whose time cannot be read counts as before (the cautious side)
    assert [e.fields["request_id"] for e in before] == ["r0", "r1", "r3"]
    assert [e.fields["request_id"] for e in after] == ["r2"]
    assert split_at(events, None) == (events, []) and split_at(events, "not a time") == (events, [])


def test_a_write_older_than_the_whole_window_is_past_it_and_a_newer_one_is_not() -> None:
    """Validation reads the newest `scan` events: when that window is full and all of it began after
    the write, the write's own event was pushed out (`unavailable` with this reason, not `raced`);
    a window not full, or one holding events from before the write, may still get the event."""
    from write_validation.ordering import aged_out
    from write_validation.store_reads import CdcEvent

    window = [CdcEvent(f"{i}-0", {"ts": f"1700000010.{i:06d}"}) for i in range(5)]
    reason = aged_out(window, "1700000009.000000", 5, "comments:cdc")
    assert reason is not None and reason.startswith(
        "this write's CDC events are older than the newest 5 events of comments:cdc that validation reads")
    assert aged_out(window, "1700000010.000002", 5, "comments:cdc") is None   # inside the window
    assert aged_out(window[:4], "1700000009.000000", 5, "comments:cdc") is None  # not full: nothing pushed out
    assert aged_out(window, None, 5, "comments:cdc") is None                   # no request time: cannot tell

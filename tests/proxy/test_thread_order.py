"""Per-thread shadow order: writes in ticket order, reads after the writes admitted before them."""

from __future__ import annotations

import asyncio

from shadow_proxy.thread_order import ThreadOrder


async def _admit(order: ThreadOrder, key: str) -> int:
    async with order.intake:
        return order.admit_write(key)


async def test_writes_of_a_thread_run_in_ticket_order_whatever_order_they_start_in() -> None:
    order = ThreadOrder()
    tickets = [await _admit(order, "t3_a") for _ in range(4)]
    ran: list[int] = []

    async def write(t: int) -> None:
        async with order.turn("t3_a", t):
            await asyncio.sleep(0)
            ran.append(t)

    await asyncio.wait_for(asyncio.gather(*(write(t) for t in reversed(tickets))), 5)
    assert ran == tickets == [0, 1, 2, 3]


async def test_a_read_waits_for_the_writes_admitted_before_it_and_not_for_later_ones() -> None:
    order = ThreadOrder()
    first = await _admit(order, "t3_a")
    async with order.intake:
        barrier = order.reserve_read("t3_a")
    later = await _admit(order, "t3_a")
    release = asyncio.Event()
    events: list[str] = []

    async def write(t: int, name: str) -> None:
        async with order.turn("t3_a", t):
            if name == "first":
                await release.wait()
            events.append(name)

    async def read() -> None:
        await order.read_barrier("t3_a", barrier)
        events.append("read")

    tasks = [asyncio.create_task(write(first, "first")), asyncio.create_task(read())]
    await asyncio.sleep(0.01)
    assert events == []  # the earlier write holds the read back
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert events == ["first", "read"]
    await asyncio.wait_for(write(later, "later"), 5)  # the later write was never waited for
    # another thread is never held back
    async with order.intake:
        other = order.reserve_read("t3_b")
    await asyncio.wait_for(order.read_barrier("t3_b", other), 1)


async def test_a_failed_write_still_lets_the_next_run_and_idle_threads_are_forgotten() -> None:
    order = ThreadOrder()
    a, b = await _admit(order, "t3_a"), await _admit(order, "t3_a")

    async def failing() -> None:
        async with order.turn("t3_a", a):
            raise RuntimeError("rewrite down")

    async def next_write() -> str:
        async with order.turn("t3_a", b):
            return "ran"

    follower = asyncio.create_task(next_write())
    try:
        await failing()
    except RuntimeError:
        pass
    assert await asyncio.wait_for(follower, 5) == "ran"
    assert await _admit(order, "t3_a") == 0  # nothing pending: the thread's counts restarted

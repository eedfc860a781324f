"""Shutdown cannot hang on a lost cancellation, and a hang names where it waits.

A replay hung for good in the proxy's shutdown about 1 run in 4 (CI timed out on it): the ramp's
poll task lost its cancellation inside a Redis call (the client's own timeout racing the cancel),
went on looping, and `gather` waited for it forever. These tests plant that lost cancellation."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis
from aiohttp import web

from shadow_proxy.audit import RampKeys
from shadow_proxy.ramp import RampState
from telemetry.tasks import cancel_and_wait, waiting_tasks


async def test_a_task_that_swallows_its_first_cancellation_is_cancelled_again() -> None:
    swallowed = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            swallowed.set()  # lost, as a library's timeout racing the cancel loses it
        await asyncio.sleep(30)

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    assert await cancel_and_wait([task], wait_s=0.2) == []
    assert swallowed.is_set() and task.cancelled()


async def test_a_task_that_never_stops_is_returned_not_waited_for_forever() -> None:
    release = False

    async def immortal() -> None:
        while not release:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(immortal(), name="immortal")
    await asyncio.sleep(0)
    try:
        assert await cancel_and_wait([task], tries=2, wait_s=0.1) == [task]
    finally:
        release = True
        task.cancel()
        await asyncio.wait([task], timeout=5)
    assert task.done()


async def test_the_ramp_stops_although_its_poll_lost_a_cancellation(stores, monkeypatch) -> None:
    redis = aioredis.from_url(stores.sister.redis)
    ramp = RampState(redis, RampKeys("shutdowntest"), refresh_s=0.01)
    await ramp.start()
    lost = asyncio.Event()

    async def reload_losing_the_cancel() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            lost.set()

    monkeypatch.setattr(ramp, "reload", reload_losing_the_cancel)
    try:
        await asyncio.sleep(0.05)  # the poll is inside a reload now
        async with asyncio.timeout(10):
            await ramp.stop()
        assert lost.is_set()
        assert not [t for t in asyncio.all_tasks() if t.get_name() in ("ramp-poll", "ramp-listen")]
    finally:
        await redis.aclose()


async def test_a_hang_in_an_app_cleanup_names_the_await_it_is_parked_on() -> None:
    app = web.Application()

    async def stuck_cleanup(_: web.Application):
        yield
        await asyncio.get_running_loop().create_future()  # never resolved

    app.cleanup_ctx.append(stuck_cleanup)
    runner = web.AppRunner(app)
    await runner.setup()
    task = asyncio.create_task(runner.cleanup(), name="cleanup-under-test")
    await asyncio.sleep(0.05)
    try:
        chain = next(line for line in waiting_tasks(200) if line.startswith("cleanup-under-test: "))
        assert "_on_cleanup (aiohttp/web_app.py" in chain and chain.endswith(
            f"stuck_cleanup (proxy/test_shutdown.py:{stuck_cleanup.__code__.co_firstlineno + 2})"), chain
    finally:
        task.cancel()
        await asyncio.wait([task], timeout=5)

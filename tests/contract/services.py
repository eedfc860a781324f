"""Services under contract. Each entry is a factory:

    factory(addresses: StoreAddresses, clock: Callable[[], float], settings: Settings)
        -> async context manager yielding the base URL of a running server

The server runs in-process over an already-seeded store set, reads the time from `clock`, and
must make its own writes visible to its reads (for the legacy: its CDC consumer runs inside).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from aiohttp import web

from config import Settings
from sister_stores.addresses import StoreAddresses

ServiceFactory = Callable[[StoreAddresses, Callable[[], float], Settings], AbstractAsyncContextManager[str]]


@asynccontextmanager
async def serve_app(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def legacy_service(addresses: StoreAddresses, clock: Callable[[], float], settings: Settings) -> AsyncIterator[str]:
    from legacy_adapter.app import create_app

    async with serve_app(create_app(addresses, settings, clock=clock, consume=True)) as url:
        yield url


@asynccontextmanager
async def new_service(addresses: StoreAddresses, clock: Callable[[], float], settings: Settings) -> AsyncIterator[str]:
    """The rewrite in primary mode over the same seeded production set (it imports no legacy code)."""
    from new_comments_service.app import create_app as create_new_app

    primary = settings.model_copy(update={"new_service": settings.new_service.model_copy(update={"mode": "primary"})})
    async with serve_app(create_new_app(primary, addresses, None, clock)) as url:
        yield url


SERVICES: dict[str, ServiceFactory] = {"legacy": legacy_service, "new_comments_service": new_service}
